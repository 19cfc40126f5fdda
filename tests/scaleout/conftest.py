from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import TENANT

from fake_graph.embedded import FakeGraphThread, RunningFake


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server from Debian on a free port (CI installs it; outside CI, skip)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required in CI (apt-get install -y redis-server)")
        pytest.skip("redis-server not installed (apt-get install -y redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def e2e_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFake]:
    thread = FakeGraphThread(TENANT, tls_dir=tmp_path_factory.mktemp("scaleout-tls"))
    yield thread.start()
    thread.stop()


@pytest.fixture
def small_limits_policy(tmp_path: Path) -> Path:
    text = (Path(__file__).parents[1] / "e2e" / "policy.yaml").read_text()
    text = text.replace("password_resets_per_manager_per_hour: 30",
                        "password_resets_per_manager_per_hour: 2")
    out = tmp_path / "policy-template.yaml"
    out.write_text(text)
    return out
