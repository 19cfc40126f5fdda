"""The architecture's rules (docs/architecture.md) hold, and breaking one fails the check.

``lint-imports`` reads the contracts in pyproject.toml; .ci/run runs it as well. Here it runs
on the checkout (every contract kept) and on copies of it with one forbidden import added
(the contract named in the output is broken), so the rules cannot pass by being mis-spelled.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mystaff_proxy", "fake_graph", "yaml_lines")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=where, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.mo", "*.png"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_checkout_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("fake_graph/tokens.py", "import mystaff_proxy.config", "fake_graph stands alone"),
    ("yaml_lines/__init__.py", "import fake_graph.errors", "yaml_lines is a leaf"),
    ("mystaff_proxy/staff/notify.py", "import fake_graph.demo", "Only the proxy's demo starts"),
    ("mystaff_proxy/graph/client.py", "import mystaff_proxy.staff.service", "Layers"),
    ("mystaff_proxy/policy/decide.py", "import mystaff_proxy.auth.sessions", "Layers"),
    ("fake_graph/state.py", "import fake_graph.graph.routes", "fake_graph layers"),
    ("mystaff_proxy/web/render.py", "import mystaff_proxy.web.pages.phones",
     "No module imports a route module"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, line: str,
                                                contract: str) -> None:
    copy = _copy(tmp_path)
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = _lint(copy)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def test_the_proxy_root_keeps_at_most_a_dozen_modules() -> None:
    modules = sorted(p.name for p in (ROOT / "mystaff_proxy").glob("*.py"))
    assert len(modules) <= 12, modules
