"""Run the fake in-process: ``async with run_fake() as fake`` or, for sync code, a thread.

    async with run_fake(tenant=DEMO_TENANT, tls_dir=tmp_path) as running:
        app = msal.ConfidentialClientApplication(
            CLIENT_ID, client_credential=SECRET, authority=running.authority,
            instance_discovery=False, http_client=running.requests_session())

    with FakeGraphThread(tenant=DEMO_TENANT) as running:   # sync tests, MSAL, scripts
        ...

Both listen on 127.0.0.1 and a free port by default, serve HTTPS with a CA from ``tls_dir``
(a temporary directory when not given), and set ``fake.base_url`` before the first request, so
discovery documents and token issuers name the real port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .app import create_app
from .state import FakeGraph
from .tenant import DEMO_TENANT
from .tls import TlsFiles, ca_bundle, ensure_tls_dir, trust_env

if TYPE_CHECKING:
    import requests


@dataclass
class RunningFake:
    """A fake that is listening. URLs have no trailing slash."""

    url: str  # https://127.0.0.1:PORT
    fake: FakeGraph
    tls: TlsFiles | None

    @property
    def tenant_id(self) -> str:
        return self.fake.directory.tenant.id

    @property
    def authority(self) -> str:
        """For MSAL's ``authority=``. (azure-identity takes ``url`` and ``tenant_id``.)"""
        return f"{self.url}/{self.tenant_id}"

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def ca_file(self) -> str | None:
        """``ca.pem``: trust this to trust the fake (None with TLS off)."""
        return str(self.tls.ca) if self.tls else None

    def bundle_env(self) -> dict[str, str]:
        """``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``/``CURL_CA_BUNDLE`` for a child process."""
        if self.tls is None:
            return {}
        return trust_env(ca_bundle(self.tls))

    def requests_session(self) -> requests.Session:
        """A ``requests.Session`` trusting the fake, immune to the ambient CA variables.

        ``trust_env=False`` because ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` would otherwise
        override ``verify`` (requests' ``Session.merge_environment_settings``). Pass it to MSAL
        as ``http_client``.
        """
        import requests

        session = requests.Session()
        session.trust_env = False
        session.verify = self.ca_file or True
        return session


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@contextlib.asynccontextmanager
async def run_fake(tenant: str | Path = DEMO_TENANT, *, tls_dir: str | Path | None = None,
                   host: str = "127.0.0.1", port: int = 0, tls: bool = True,
                   fake: FakeGraph | None = None) -> AsyncIterator[RunningFake]:
    """Serve a fake on ``host:port`` (0: a free port) for the duration of the block.

    ``fake``: serve this FakeGraph instead of loading ``tenant`` (to share one across tests).
    """
    fake = fake or FakeGraph.from_file(tenant)
    with contextlib.ExitStack() as stack:
        files: TlsFiles | None = None
        if tls:
            directory = tls_dir or stack.enter_context(
                tempfile.TemporaryDirectory(prefix="fake-graph-tls-"))
            files = ensure_tls_dir(directory)
        runner = web.AppRunner(create_app(fake), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port,
                               ssl_context=files.server_context() if files else None)
            await site.start()
            bound = _bound_port(site) if port == 0 else port
            scheme = "https" if files else "http"
            fake.base_url = f"{scheme}://{_url_host(host)}:{bound}"
            yield RunningFake(url=fake.base_url, fake=fake, tls=files)
        finally:
            await runner.cleanup()


def _bound_port(site: web.TCPSite) -> int:
    server: Any = site._server  # aiohttp keeps the asyncio server here; no public accessor
    return int(server.sockets[0].getsockname()[1])


class FakeGraphThread:
    """``run_fake`` on its own event loop in a daemon thread, for synchronous code.

    Usable as a context manager or with ``start()`` / ``stop()``. The attributes of the
    ``RunningFake`` (``url``, ``authority``, ``ca_file``, ``fake``...) are available through
    ``.running`` and directly on this object.
    """

    def __init__(self, tenant: str | Path = DEMO_TENANT, **kwargs: Any) -> None:
        self._tenant = tenant
        self._kwargs = kwargs
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.running: RunningFake | None = None

    def start(self, timeout: float = 30) -> RunningFake:
        self._thread = threading.Thread(target=self._run, name="fake-graph", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("fake_graph did not start")
        if self._error is not None:
            raise RuntimeError("fake_graph failed to start") from self._error
        assert self.running is not None
        return self.running

    def _run(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            async with run_fake(self._tenant, **self._kwargs) as running:
                self.running = running
                self._ready.set()
                await self._stop.wait()

        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> RunningFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __getattr__(self, name: str) -> Any:
        running = self.__dict__.get("running")
        if running is None:
            raise AttributeError(name)
        return getattr(running, name)
