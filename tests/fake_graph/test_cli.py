"""``fake-graph serve`` / ``generate`` as a user runs them, and bad tenant files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from fake_graph.cli import main
from fake_graph.generate import generate
from fake_graph.tenant import DEMO_TENANT, load_tenant

HEADER = 'tenant: {id: "11111111-2222-3333-4444-555555555555", domain: "t.example"}\n'


def test_serve_prints_the_ready_line_and_serves(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fake_graph", "serve", "--tenant", str(DEMO_TENANT),
         "--port", "0", "--tls-dir", str(tmp_path / "tls")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("fake-graph ready on https://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1]
        http = requests.Session()
        http.trust_env = False
        keys = http.get(f"{url}/common/discovery/instance", timeout=10,
                        verify=str(tmp_path / "tls" / "ca.pem"))
        assert keys.status_code == 200
        for name in ("ca.pem", "server.pem", "server-key.pem"):
            assert (tmp_path / "tls" / name).exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert proc.stdout.read() == ""  # exactly one line on stdout


@pytest.mark.parametrize(("body", "line", "message"), [
    ("users:\n  - {userPrincipalName: a@t.example, displayName: A}\n"
     "groups:\n  - displayName: G\n    members:\n      - a@t.example\n      - ghost@t.example\n",
     8, "unknown member 'ghost@t.example'"),
    ("users:\n  - userPrincipalName: a@t.example\n    displayName: A\n"
     "  - userPrincipalName: A@t.example\n    displayName: B\n",
     5, "duplicate userPrincipalName 'A@t.example'"),
    ("users:\n  - userPrincipalName: a@t.example\n    displayName: A\n"
     "    phones:\n      mobile: \"+1 206 555 0100\"\n",
     6, "malformed phone number"),
    ("users:\n  - userPrincipalName: a@t.example\n    displayName: A\n"
     "    directory_roles: [\"Supreme Leader\"]\n",
     5, "unknown role name 'Supreme Leader'"),
])
def test_bad_tenant_files_name_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        body: str, line: int, message: str) -> None:
    path = tmp_path / "tenant.yaml"
    path.write_text(HEADER + body)
    assert main(["serve", "--tenant", str(path), "--port", "0", "--no-tls"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{path}:{line}: "), err
    assert message in err


def test_generate_is_deterministic_and_exact(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.yaml"
    assert main(["generate", "--users", "500", "--units", "7", "--seed", "3",
                 "--out", str(first)]) == 0
    main(["generate", "--users", "500", "--units", "7", "--seed", "3", "--out", str(second)])
    main(["generate", "--users", "500", "--units", "7", "--seed", "4", "--out", str(other)])
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    directory = load_tenant(first)
    assert len(directory.users) == 500
    assert len(directory.administrative_units) == 7
    assert any(u.phones for u in directory.users.values())
    assert any(a.directory_scope_id != "/" for a in directory.role_assignments)
    app = directory.applications["6d5ac1a4-5b8c-4f3e-9a60-1f0c2b7e3d11"]
    assert "User.Read.All" in app.application_permissions


@pytest.mark.parametrize(("users", "units"), [(0, 0), (1, 0), (3, 5), (40, 4)])
def test_generate_edge_sizes_load(tmp_path: Path, users: int, units: int) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(generate(users, units, 1))
    directory = load_tenant(path)
    assert (len(directory.users), len(directory.administrative_units)) == (users, units)


def test_generate_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--users", "3", "--units", "1"]) == 0
    assert capsys.readouterr().out == generate(3, 1, 0)
