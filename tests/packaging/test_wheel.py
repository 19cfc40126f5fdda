"""The wheel as a new user gets it: built from the checkout, installed into a fresh virtual
environment outside it, and ``mystaff-proxy demo`` run from an empty directory up to a
signed-in staff list (README "Run the demo").

Offline and fast: the wheel goes in with ``--no-deps``, and the dependencies are those of the
environment running the tests, made visible by a ``.pth`` file that lists its site-packages.
Python adds such a line to ``sys.path`` without reading that directory's own ``.pth`` files,
so the checkout's editable install (a finder loaded by a ``.pth`` file) stays out: the code
that runs is the wheel's. Whether every dependency is *declared* is left to a real
``pip install`` from the index.

The demo on IPv6 loopback and ``fake-graph serve``'s warning on a non-loopback address are in
tests/proxy/test_listen_hosts.py.

(No ``__init__.py`` here: with ``tests`` on ``sys.path`` a package named ``packaging`` would
hide the library of that name from pip and pytest.)
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import Manager, client_ssl

from fake_graph.demo import MANAGER

ROOT = Path(__file__).resolve().parents[2]
#: Not copied into the build: caches and earlier builds (a stale build/ would end up in the
#: wheel).
_JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
#: Variables that would let the checkout (or the running environment) into the subprocesses.
_LEAKY = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONWARNINGS",
          "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    env: dict[str, str]

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def _offline_build_possible() -> bool:
    """Whether this environment's setuptools can build the wheel itself: the build needs 77 or
    later (``project.license`` is an SPDX expression, with ``license-files``), which also has
    bdist_wheel built in."""
    try:
        return int(version("setuptools").split(".")[0]) >= 77
    except Exception:  # not installed, or an odd version string
        return False


def _source_copy(dest: Path) -> Path:
    """What ``pip install .`` builds from (pyproject.toml, the readme, the packages), copied
    out of the checkout: setuptools writes build/ and *.egg-info beside its sources, and the
    working tree is shared."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    dest.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", dest)
    shutil.copy2(ROOT / project["project"]["readme"], dest)
    for name in project["project"]["license-files"]:
        shutil.copy2(ROOT / name, dest)
    for child in sorted(ROOT.iterdir()):
        if child.is_dir() and any(fnmatch.fnmatch(child.name, p) for p in include):
            shutil.copytree(child, dest / child.name, ignore=_JUNK)
    return dest


def _run(cmd: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                            timeout=300, check=False, **kwargs)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    src = _source_copy(base / "src")
    dist = base / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src]
    if _offline_build_possible():
        build.insert(4, "--no-build-isolation")
    # else pip fetches setuptools from the index into a build environment (a few seconds and
    # the network; the test extra installs a new enough setuptools, so only outside it).
    _run(build, cwd=base)
    (wheel,) = dist.glob("mystaff_proxy-*.whl")

    fresh = base / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
          "--no-index", wheel], cwd=base)
    site_packages = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                              "['purelib'])"]).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages / "_test_dependencies.pth").write_text(
        "".join(f"{p}\n" for p in sorted(ours)))

    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    env["TMPDIR"] = str(base / "tmp")  # the demo's working directory (audit log, CA)
    (base / "tmp").mkdir()
    yield Installed(wheel, fresh, env)


def test_the_wheel_carries_the_demo_files(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert "mystaff_proxy/demo_files/demo.yaml" in names
    assert "fake_graph/tenants/demo.yaml" in names
    assert not [n for n in names if n.startswith(("policies/", "tests/", "bench/"))]


def test_the_wheel_carries_its_licence(installed: Installed) -> None:
    wheel = zipfile.ZipFile(installed.wheel)
    names = wheel.namelist()
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    headers = wheel.read(metadata).decode()
    assert "\nLicense-Expression: MIT\n" in headers
    (licence,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert wheel.read(licence) == (ROOT / "LICENSE").read_bytes()
    # pybabel is for translators; the service reads the compiled catalogs with gettext
    assert not re.search(r"^Requires-Dist: babel\b(?!.*extra ==)", headers, re.M | re.I)


def test_the_packages_come_from_the_fresh_environment(installed: Installed,
                                                      tmp_path: Path) -> None:
    """Not the checkout's editable install: every package file is under the new venv."""
    code = ("import fake_graph, mystaff_proxy, yaml_lines\n"
            "for m in (fake_graph, mystaff_proxy, yaml_lines): print(m.__file__)\n")
    result = _run([installed.bin / "python", "-c", code], cwd=tmp_path, env=installed.env)
    files = [Path(line).resolve() for line in result.stdout.split()]
    assert len(files) == 3
    for file in files:
        assert file.is_relative_to(installed.venv.resolve()), file
        assert not file.is_relative_to(ROOT), file


async def test_the_installed_demo_runs_from_an_empty_directory(installed: Installed,
                                                               tmp_path: Path) -> None:
    cwd = tmp_path / "empty"
    cwd.mkdir()
    proc = await asyncio.create_subprocess_exec(
        installed.bin / "mystaff-proxy", "demo", "--port", "0", cwd=cwd, env=installed.env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, banner + (await proc.communicate())[1].decode()
            banner += line.decode()
        url = re.search(r"Open:\s+(\S+)/\n", banner)
        audit = re.search(r"Audit log:\s+(\S+)\n", banner)
        assert url and audit, banner
        proxy = url.group(1)
        workdir = Path(audit.group(1)).parent
        connector = aiohttp.TCPConnector(ssl=client_ssl(workdir / "tls" / "ca.pem"))
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                         connector=connector) as http:
            async with http.get(f"{proxy}/readyz") as resp:
                assert resp.status == 200, await resp.text()
            m = Manager(http, proxy)
            await m.sign_in(MANAGER.upn, MANAGER.password)
            assert m.history[-1].status < 400, m.history
            async with http.get(f"{proxy}/locations/seattle") as resp:
                page = await resp.text()
                assert resp.status == 200, page
            assert "Morgan Diaz" in page and "Taylor Brooks" in page
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "demo stopped" in out.decode()
    assert "Traceback" not in err.decode()
    assert list(cwd.iterdir()) == []
