"""fake_graph (demo tenant, HTTPS) and the proxy (plain http on loopback) on real sockets,
run on their own event loop in a thread, so that Playwright's synchronous API can drive
a browser from the test thread.

The proxy uses ``tests/web/policy.yaml``: a manager of two locations (who may also issue
Temporary Access Passes and switch SMS sign-in), one of one location, one who may only look,
and a protected user.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from aiohttp import web

from fake_graph.embedded import RunningFake, run_fake
from fake_graph.state import FakeGraph
from mystaff_proxy.config import Settings, config_from_mapping
from mystaff_proxy.web.app import init_app

_T = TypeVar("_T")
POLICY = Path(__file__).with_name("policy.yaml")
CLIENT_ID = "6d5ac1a4-5b8c-4f3e-9a60-1f0c2b7e3d11"
CLIENT_SECRET = "demo-proxy-secret-not-for-production"


@dataclass(frozen=True)
class Account:
    upn: str
    password: str


SAM = Account("sam.rivera@contoso.example", "Demo-Manager-1!")        # Seattle + Tacoma
PRIYA = Account("priya.natarajan@contoso.example", "Demo-Manager-1!")  # Portland only
ROBIN = Account("robin.okafor@contoso.example", "Demo-Manager-1!")     # Spokane, view only
TAYLOR = Account("taylor.brooks@contoso.example", "Demo-Staff-1!")     # manages nothing
AVERY = Account("avery.patel@contoso.example", "Demo-Staff-1!")       # Seattle, a mobile

SEATTLE_AU = "3c1f6f0e-2a4b-4c3d-8e5f-6a7b8c9d0e01"
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_ID = "a1000000-0000-4000-8000-000000000030"


def _settings(public_url: str, running: RunningFake, workdir: Path, port: int) -> Settings:
    return config_from_mapping({
        "server": {"host": "127.0.0.1", "port": port, "public_url": public_url},
        "tenant": {"id": running.tenant_id, "authority_host": running.url,
                   "graph_url": running.graph_url, "ca_file": running.ca_file or ""},
        "app": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        "session": {"secret": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()},
        "policy": {"path": str(POLICY)},
        "audit": {"path": str(workdir / "audit.jsonl")},
    }, "web-tests", {})


class LiveSystem:
    """Start with ``start()``; ``url`` is the proxy, ``fake_url`` the fake tenant."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="mystaff-web-")
        self.workdir = Path(self._tmp.name)
        self.url = ""
        self.running: RunningFake | None = None

    def start(self) -> LiveSystem:
        self._thread = threading.Thread(target=self._run, name="live-system", daemon=True)
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("fake + proxy did not start")
        if self._error is not None:
            raise RuntimeError("fake + proxy failed to start") from self._error
        return self

    def _run(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            async with run_fake(tls_dir=self.workdir / "tls") as running:
                self.running = running
                app = running.fake.directory.applications[CLIENT_ID]
                if self.url + "/auth/callback" not in app.redirect_uris:
                    app.redirect_uris.append(self.url + "/auth/callback")
                runner = web.AppRunner(init_app(_settings(self.url, running, self.workdir,
                                                          port), watch_policy=False),
                                       access_log=None)
                await runner.setup()
                await web.SockSite(runner, sock).start()
                try:
                    self._ready.set()
                    await self._stop.wait()
                finally:
                    await runner.cleanup()

        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported to start(): the thread must not die silently
            self._error = exc
            self._ready.set()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._tmp.cleanup()

    # -- the fake's state, through its control API -------------------------------------------

    @property
    def fake_url(self) -> str:
        assert self.running is not None
        return str(self.running.url)

    def _fake(self, method: str, path: str) -> Any:
        assert self.running is not None
        answer = requests.request(method, self.fake_url + path, timeout=10,
                                  verify=self.running.ca_file)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def user(self, upn: str) -> dict[str, Any]:
        state: dict[str, Any] = self._fake("GET", f"/_fake/users/{upn}")
        return state

    def phones(self, upn: str) -> dict[str, str]:
        return {p["phoneType"]: p["phoneNumber"] for p in self.user(upn)["phoneMethods"]}

    def reset(self) -> None:
        self._fake("POST", "/_fake/reset")
        # The reset reloads the tenant file: allow our callback again.
        assert self.running is not None
        app = self.running.fake.directory.applications[CLIENT_ID]
        if self.url + "/auth/callback" not in app.redirect_uris:
            app.redirect_uris.append(self.url + "/auth/callback")

    def in_fake(self, change: Callable[[FakeGraph], _T]) -> _T:
        """Run ``change`` on the fake's own thread (its state is its event loop's), e.g. to
        turn a tenant setting off or read what a test may not see through the control API."""
        assert self._loop is not None and self.running is not None
        fake = self.running.fake

        async def run() -> _T:
            return change(fake)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def audit_lines(self) -> list[str]:
        path = self.workdir / "audit.jsonl"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []
