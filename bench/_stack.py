"""Shared set-up for the bench scripts: fake_graph and the proxy as two separate processes.

``fake-graph serve`` and ``mystaff-proxy serve --config`` run as child processes, so the
proxy's CPU and memory are its own (psutil on its pid) and the bench client (this process) is
a third. Managers sign in through the fake's real sign-in form (tests/e2e_support.Manager).
Nothing here asserts: a step that cannot work raises with what went wrong.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e_support import Manager, client_ssl  # noqa: E402

BIN = Path(sys.executable).parent
DEMO_TENANT = ROOT / "fake_graph" / "tenants" / "demo.yaml"
DEMO_POLICY = ROOT / "mystaff_proxy" / "demo_files" / "demo.yaml"
CLIENT_ID = "6d5ac1a4-5b8c-4f3e-9a60-1f0c2b7e3d11"  # the demo / generated tenants' proxy app
CLIENT_SECRET = "demo-proxy-secret-not-for-production"
SAM = ("sam.rivera@contoso.example", "Demo-Manager-1!")
SEATTLE = "seattle"
TAYLOR = "a1000000-0000-4000-8000-000000000005"  # Seattle cashier: mobile + alternateMobile
QUINN = "a1000000-0000-4000-8000-000000000008"  # Seattle stocker, no phones
AVERY = "a1000000-0000-4000-8000-000000000007"  # Seattle cashier with a mobile of her own
GRAPH_PREFIX = "/v1.0/"
#: Extra Seattle cashiers for the bulk reset rows (``start_stack(bulk_staff=True)``).
BULK_STAFF = tuple(f"b5000000-0000-4000-8000-{i:012d}" for i in range(1, 51))
BULK_SIZES = (20, 50)


def bulk_target(size: int) -> int:
    """The sequential round trips a bulk reset of ``size`` may take (issue 15): 3 + ceil(N/20)."""
    return 3 + -(-size // 20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class FakeProcess:
    """``fake-graph serve`` in a child process (HTTPS, its own CA)."""

    tenant: Path
    workdir: Path
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    tenant_id: str = ""

    @property
    def ca_file(self) -> str:
        return str(self.workdir / "tls" / "ca.pem")

    def start(self, timeout: float = 300) -> FakeProcess:
        log = open(self.workdir / "fake.log", "w")  # noqa: SIM115 - lives as long as the child
        self.proc = subprocess.Popen(
            [str(BIN / "fake-graph"), "serve", "--tenant", str(self.tenant), "--tls-dir",
             str(self.workdir / "tls"), "--port", "0"],
            stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "ready on" not in line or time.monotonic() > deadline:
            raise RuntimeError(f"fake-graph did not start: {line!r}; see {log.name}")
        self.url = line.strip().rsplit(" ", 1)[1]
        self.tenant_id = self.http().get(self.url + "/_fake/tenant").json()["id"]
        return self

    def http(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.verify = self.ca_file
        return session

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def write_policy(path: Path, *, template: Path = DEMO_POLICY, text: str | None = None) -> Path:
    """The demo policy with the hourly limits raised, so repeated changes are not refused."""
    body = text if text is not None else template.read_text()
    body = re.sub(r"(per_manager_per_hour:)\s*\d+", r"\1 100000", body)
    path.write_text(body)
    return path


def write_config(workdir: Path, fake: FakeProcess, policy: Path, port: int,
                 graph_url: str | None = None, identity: str = "app") -> Path:
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    text = f"""[server]
host = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
log_level = "warning"

[tenant]
id = "{fake.tenant_id}"
authority_host = "{fake.url}"
graph_url = "{graph_url or fake.url + '/v1.0'}"
ca_file = "{fake.ca_file}"

[app]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"

[session]
secret = "{secret}"

[policy]
path = "{policy}"

[audit]
path = "{workdir / 'audit.jsonl'}"

[graph]
identity = "{identity}"
"""
    path = workdir / "config.toml"
    path.write_text(text)
    return path


@dataclass
class ProxyProcess:
    """``mystaff-proxy serve --config`` in a child process."""

    config: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    ready_seconds: float = float("nan")
    command: list[str] | None = None  # instead of ``mystaff-proxy serve --config CONFIG``
    _ps: psutil.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> ProxyProcess:
        log = open(self.config.parent / "proxy.log", "w")  # noqa: SIM115 - lives with the child
        started = time.perf_counter()
        command = self.command or [str(BIN / "mystaff-proxy"), "serve", "--config",
                                   str(self.config)]
        self.proc = subprocess.Popen(command, stdout=log, stderr=log)
        self._ps = psutil.Process(self.proc.pid)
        session = requests.Session()
        session.trust_env = False
        while True:
            try:
                if session.get(self.url + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.perf_counter() - started > timeout:
                raise RuntimeError(f"the proxy did not become ready; see {log.name}")
            time.sleep(0.005)
        self.ready_seconds = time.perf_counter() - started
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        """User + system CPU seconds of the proxy process so far."""
        assert self._ps is not None
        t = self._ps.cpu_times()
        return float(t.user + t.system)

    def rss_mb(self) -> float:
        assert self._ps is not None
        return float(self._ps.memory_info().rss / 2**20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Stack:
    """Fake + proxy processes and an asyncio HTTP side for the bench client."""

    fake: FakeProcess
    proxy: ProxyProcess
    workdir: Path
    _sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    async def manager(self, upn: str = SAM[0], password: str = SAM[1]) -> Manager:
        jar = aiohttp.CookieJar(unsafe=True)
        connector = aiohttp.TCPConnector(ssl=client_ssl(self.fake.ca_file), limit=0)
        session = aiohttp.ClientSession(cookie_jar=jar, connector=connector)
        self._sessions.append(session)
        m = Manager(session, self.proxy.url)
        await m.sign_in(upn, password)
        if not m.csrf:
            raise RuntimeError(f"sign-in as {upn} failed")
        return m

    async def control(self) -> FakeControl:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=client_ssl(self.fake.ca_file)))
        self._sessions.append(session)
        return FakeControl(session, self.fake.url)

    async def close(self) -> None:
        for s in self._sessions:
            await s.close()

    def stop(self) -> None:
        self.proxy.stop()
        self.fake.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)  # TLS files, tenant, audit, logs


def manager_mode_tenant(workdir: Path) -> Path:
    """The demo tenant with the roles manager mode needs (as ``demo --identity manager`` gives
    them): Sam, Authentication Administrator over Seattle and Tacoma."""
    import yaml

    data = yaml.safe_load(DEMO_TENANT.read_text())
    for unit in data["administrative_units"]:
        if unit["displayName"].split()[0] in ("Seattle", "Tacoma"):
            unit.setdefault("scoped_roles", []).append(
                {"role": "Authentication Administrator", "member": "sam.rivera@contoso.example"})
    path = workdir / "tenant-manager-mode.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def with_bulk_staff(tenant: Path, workdir: Path) -> Path:
    """The tenant with 50 more Seattle cashiers (``BULK_STAFF``): a bulk reset of 50 needs
    50 people Sam may reset."""
    import yaml

    data = yaml.safe_load(tenant.read_text())
    seattle = next(u for u in data["administrative_units"]
                   if u["displayName"].startswith("Seattle"))
    for i, oid in enumerate(BULK_STAFF, start=1):
        upn = f"bench.cashier{i:02d}@contoso.example"
        data["users"].append({"userPrincipalName": upn, "id": oid,
                              "displayName": f"Bench Cashier {i:02d}",
                              "password": "Bench-Cashier-1!", "jobTitle": "Cashier"})
        seattle["members"].append(upn)
    path = workdir / f"{tenant.stem}-bulk.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def start_stack(*, tenant: Path = DEMO_TENANT, policy_text: str | None = None,
                workdir: Path | None = None, fake: FakeProcess | None = None,
                graph_url: Callable[[FakeProcess], str] | None = None,
                identity: str = "app", bulk_staff: bool = False) -> Stack:
    """Fake (unless given) and proxy processes. Blocking: call it in a thread from async code
    that must keep serving meanwhile (a forwarder in front of the fake). ``bulk_staff``: the
    tenant gets ``BULK_STAFF`` in Seattle (the bulk reset rows)."""
    work = workdir or Path(tempfile.mkdtemp(prefix="mystaff-bench-"))
    if identity == "manager" and tenant == DEMO_TENANT:
        tenant = manager_mode_tenant(work)
    if bulk_staff and fake is None:
        tenant = with_bulk_staff(tenant, work)
    fake = fake or FakeProcess(tenant, work).start()
    policy = write_policy(work / "policy.yaml", text=policy_text)
    port = free_port()
    config = write_config(work, fake, policy, port,
                          graph_url=graph_url(fake) if graph_url else None, identity=identity)
    proxy = ProxyProcess(config, port).start()
    return Stack(fake, proxy, work)


class DelayingForwarder:
    """A TCP forwarder that holds every client-to-server chunk for ``delay`` seconds.

    Put in front of Graph it models network latency: each HTTP exchange on a kept-alive
    connection (a ``$batch`` included) costs one ``delay``, however much the server does.
    """

    def __init__(self, host: str, port: int, delay: float = 0.0) -> None:
        self.target = (host, port)
        self.delay = delay
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> DelayingForwarder:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        # When the bench is over, asyncio.run cancels the open connections: not an error.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(self._pump(reader, up_writer, delayed=True),
                                 self._pump(up_reader, writer, delayed=False),
                                 return_exceptions=True)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *,
                    delayed: bool) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                dst.write(data)
                await dst.drain()
            dst.close()

        sender = asyncio.create_task(send())
        try:
            while data := await src.read(65536):
                queue.put_nowait((loop.time() + (self.delay if delayed else 0.0), data))
        finally:
            queue.put_nowait((0.0, b""))
            await sender

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()


@dataclass
class FakeControl:
    session: aiohttp.ClientSession
    url: str

    async def requests_since(self, since: int) -> tuple[list[dict[str, Any]], int]:
        async with self.session.get(self.url + "/_fake/requests",
                                    params={"since": str(since)}) as resp:
            data = await resp.json()
        return data["value"], int(data["next"])

    async def last_seq(self) -> int:
        return (await self.requests_since(1 << 60))[1]

    async def fault(self, **fault: Any) -> None:
        async with self.session.post(self.url + "/_fake/faults", json=fault) as resp:
            if resp.status != 201:
                raise RuntimeError(f"fault refused: {await resp.text()}")

    async def clear_faults(self) -> None:
        async with self.session.delete(self.url + "/_fake/faults"):
            pass

    async def app_token(self, tenant_id: str) -> str:
        """An app-only Graph token for the proxy's app (client credentials)."""
        async with self.session.post(
                f"{self.url}/{tenant_id}/oauth2/v2.0/token",
                data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                      "client_secret": CLIENT_SECRET,
                      "scope": "https://graph.microsoft.com/.default"}) as resp:
            return str((await resp.json())["access_token"])


Action = Callable[[], Awaitable[Any]]


def actions(m: Manager, *, html: bool = True,
            bulk: bool = False) -> dict[str, tuple[str, Action]]:
    """name -> (kind, call) for the benchmarked actions of Sam at Seattle.

    kind is "read", "change" or "bulk" (``bulk``: the bulk resets of ``BULK_SIZES`` people,
    on a stack started with ``bulk_staff``). Calls raise on an unexpected status, and a bulk
    reset when anyone in it was not reset.
    """
    base = f"/api/v1/locations/{SEATTLE}/staff"
    flip = {"n": 0}

    async def call(method: str, path: str, body: Any = None, ok: int = 200,
                   form: dict[str, str] | None = None) -> Any:
        if form is not None:
            async with m.session.post(m.proxy_url + path, data=dict(form, csrf=m.csrf),
                                      allow_redirects=False) as resp:
                await resp.read()
                status = resp.status
        else:
            status, data, _ = await m.call(method, path, body)
            if status == ok:
                return data
        if status != ok:
            raise RuntimeError(f"{method} {path}: HTTP {status}")
        return None

    def flip_sms() -> bool:
        flip["sms"] = flip.get("sms", 0) + 1
        return flip["sms"] % 2 == 1

    def number() -> str:
        flip["n"] += 1
        return "206 555 0125" if flip["n"] % 2 else "206 555 0105"

    out: dict[str, tuple[str, Action]] = {
        "profile view (API)": ("read", lambda: call("GET", f"{base}/{TAYLOR}")),
        "staff page (API)": ("read", lambda: call("GET", base)),
        "search (API)": ("read", lambda: call("GET", base + "?search=ta")),
        "password reset (API)": ("change", lambda: call("POST", f"{base}/{QUINN}/password",
                                                        {})),
        "phone change (API)": ("change", lambda: call(
            "PATCH", f"{base}/{TAYLOR}/phone-methods/mobile", {"phoneNumber": number()})),
        "temporary access pass (API)": ("change", lambda: call(
            "POST", f"{base}/{QUINN}/temporary-access-pass", {}, ok=201)),
        "SMS sign-in on/off (API)": ("change", lambda: call(
            "POST" if flip_sms() else "DELETE",
            f"{base}/{AVERY}/phone-methods/mobile/sms-sign-in")),
    }
    async def bulk_reset(size: int) -> None:
        data = await call("POST", f"/api/v1/locations/{SEATTLE}/password-resets",
                          {"userIds": list(BULK_STAFF[:size])})
        failed = [e for e in data["value"] if e["error"] is not None]
        if failed:
            raise RuntimeError(f"bulk reset of {size}: {failed[0]['error']}")

    if bulk:
        for size in BULK_SIZES:
            out[f"bulk reset of {size} (API)"] = ("bulk", lambda n=size: bulk_reset(n))
    if html:
        page = f"/locations/{SEATTLE}"
        out.update({
            "profile view (HTML)": ("read", lambda: call("GET", f"{page}/staff/{TAYLOR}")),
            "staff page (HTML)": ("read", lambda: call("GET", page)),
            "search (HTML)": ("read", lambda: call("GET", page + "?search=ta")),
            "password reset (HTML POST)": ("change", lambda: call(
                "POST", f"{page}/staff/{QUINN}/password", ok=200,
                form={"mode": "generate"})),
            "phone change (HTML POST)": ("change", lambda: call(
                "POST", f"{page}/staff/{TAYLOR}/phones/mobile/edit", ok=303,
                form={"phoneNumber": number()})),
            "temporary access pass (HTML POST)": ("change", lambda: call(
                "POST", f"{page}/staff/{QUINN}/temporary-access-pass", ok=200,
                form={"lifetimeMinutes": "60", "isUsableOnce": "true"})),
        })
    return out


def html_pages_exist(stack: Stack) -> bool:
    session = requests.Session()
    session.trust_env = False
    resp = session.get(stack.proxy.url + f"/locations/{SEATTLE}", allow_redirects=False)
    return resp.status_code != 404


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())


def env_note() -> str:
    return (f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
            f"load avg {os.getloadavg()[0]:.2f}")
