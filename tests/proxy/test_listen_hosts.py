"""Where the two servers may listen, as a user starts them (subprocesses): ``fake-graph
serve`` on a non-loopback address warns that it hands passwords and tokens to anyone who can
reach it; ``mystaff-proxy demo`` stays on loopback (one clear line, not a traceback, for
``--host 0.0.0.0``) and works on IPv6 loopback, ``[::1]`` in every URL it prints and
registers."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from e2e_support import Manager, client_ssl

from fake_graph.demo import MANAGER
from fake_graph.tenant import DEMO_TENANT

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}


def _fake(host: str, tmp: Path) -> tuple[str, str]:
    """Start ``fake-graph serve --host HOST``; its ready line and what it wrote to stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fake_graph", "serve", "--tenant", str(DEMO_TENANT),
         "--host", host, "--port", "0", "--tls-dir", str(tmp / "tls")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        ready = proc.stdout.readline().strip()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    return ready, err


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_fake_graph_warns_when_other_machines_can_reach_it(tmp_path: Path, host: str) -> None:
    ready, err = _fake(host, tmp_path)
    assert ready.startswith("fake-graph ready on https://"), (ready, err)
    warning = [line for line in err.splitlines() if "WARNING" in line]
    assert len(warning) == 1, err
    assert host in warning[0] and "password" in warning[0] and "--host 127.0.0.1" in warning[0]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_fake_graph_on_loopback_does_not_warn(tmp_path: Path, host: str) -> None:
    ready, err = _fake(host, tmp_path)
    assert ready.startswith("fake-graph ready on https://"), (ready, err)
    assert "WARNING" not in err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_the_demo_refuses_a_non_loopback_host_in_one_line(host: str) -> None:
    result = subprocess.run([sys.executable, "-m", "mystaff_proxy.cli", "demo", "--host", host,
                             "--port", "0"], capture_output=True, text=True, timeout=60,
                            env=ENV)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"--host {host} is not a loopback address" in result.stderr


async def test_the_demo_on_ipv6_loopback(tmp_path: Path) -> None:
    """Every URL bracketed: the page, the redirect URI registered with the fake tenant (the
    sign-in below goes through it), the sign-out's way back."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mystaff_proxy.cli", "demo", "--host", "::1", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=ENV)
    assert proc.stdout is not None
    try:
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, banner
            banner += line.decode()
        url = re.search(r"Open:\s+(\S+)/\n", banner)
        audit = re.search(r"Audit log:\s+(\S+)\n", banner)
        assert url and audit, banner
        assert re.fullmatch(r"http://\[::1\]:\d+", url.group(1))
        workdir = Path(audit.group(1)).parent
        jar = aiohttp.CookieJar(unsafe=True)
        connector = aiohttp.TCPConnector(ssl=client_ssl(workdir / "tls" / "ca.pem"))
        async with aiohttp.ClientSession(cookie_jar=jar, connector=connector) as http:
            m = Manager(http, url.group(1))
            await m.sign_in(MANAGER.upn, MANAGER.password)
            status, me, _ = await m.call("GET", "/api/v1/me")
            assert status == 200 and me["userPrincipalName"] == MANAGER.upn
            login = m.history[0]
            assert "redirect_uri=http%3A%2F%2F%5B%3A%3A1%5D%3A" in login.headers["Location"]
            out = await http.post(f"{url.group(1)}/auth/logout", data={"csrf": m.csrf},
                                  allow_redirects=False)
            assert "post_logout_redirect_uri=http%3A%2F%2F%5B%3A%3A1%5D" in \
                out.headers["Location"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "demo stopped" in out.decode()
