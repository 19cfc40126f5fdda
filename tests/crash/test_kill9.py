"""``kill -9`` of the proxy during a burst of writes: every change Graph shows has its audit line.

The proxy runs as its own process (``mystaff-proxy serve``); the fake runs in this process, so
its record of the writes it accepted survives the kill. Afterwards every line of the audit
file parses, and every successful Graph write (password PATCH, phone POST/PATCH/DELETE) has a
record for that target and kind of change — written before the change was sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import CLIENT_ID, CLIENT_SECRET, TENANT, Manager, render_policy, uid

from fake_graph.embedded import FakeGraphThread, RunningFake

STAFF = ["staff1@e2e.example", "staff2@e2e.example", "staff3@e2e.example"]
WRITES = {("PATCH", "user"): "password_reset", ("POST", "phones"): "phone_added",
          ("PATCH", "phone"): "phone_changed", ("DELETE", "phone"): "phone_removed"}
_USER = re.compile(r"^/v1\.0/users/([0-9a-f-]{36})$")
_PHONES = re.compile(r"^/v1\.0/users/([0-9a-f-]{36})/authentication/phoneMethods(/[0-9a-f-]{36})?$")


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFake]:
    thread = FakeGraphThread(TENANT, tls_dir=tmp_path_factory.mktemp("crash-tls"))
    yield thread.start()
    thread.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_proxy(fake: RunningFake, tmp: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    policy_text = (Path(__file__).parents[1] / "e2e" / "policy.yaml").read_text()
    policy_text = policy_text.replace("per_hour: 30", "per_hour: 100000").replace(
        "per_hour: 60", "per_hour: 100000")
    template = tmp / "policy-template.yaml"
    template.write_text(policy_text)
    policy = render_policy(template, tmp / "policy.yaml")
    audit = tmp / "audit.jsonl"
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    config = tmp / "config.toml"
    config.write_text(f"""
[server]
host = "127.0.0.1"
port = {port}
public_url = "{url}"
[tenant]
id = "{fake.tenant_id}"
authority_host = "{fake.url}"
graph_url = "{fake.url}/v1.0"
ca_file = "{fake.ca_file}"
[app]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
[session]
secret = "{secret}"
[policy]
path = "{policy}"
[audit]
path = "{audit}"
""")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mystaff_proxy.cli", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, url, audit
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the proxy did not start")


async def _burst(m: Manager, stop: asyncio.Event) -> None:
    async def worker(n: int) -> None:
        upn = STAFF[n % len(STAFF)]
        base = f"/api/v1/locations/north/staff/{uid(upn)}"
        i = 0
        while not stop.is_set():
            i += 1
            try:
                if n % 2 == 0:
                    await m.call("POST", base + "/password", {})
                else:
                    number = f"+1 206555{100 + i % 90:04d}"
                    await m.call("POST", base + "/phone-methods",
                                 {"phoneType": "office", "phoneNumber": number})
                    await m.call("DELETE", base + "/phone-methods/office")
            except Exception:  # the proxy dies mid-request: that is the point
                return

    await asyncio.gather(*(worker(n) for n in range(8)))


async def test_kill_9_during_a_burst_leaves_no_change_without_its_record(
        fake: RunningFake, tmp_path: Path) -> None:
    import aiohttp
    from e2e_support import client_ssl

    fake.fake.reset()
    proc, url, audit = _start_proxy(fake, tmp_path)
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(
                cookie_jar=jar, connector=aiohttp.TCPConnector(ssl=client_ssl(fake.ca_file))
        ) as http:
            m = Manager(http, url)
            await m.sign_in("mgr.upn@e2e.example")
            assert m.csrf
            seq0 = fake.fake.recorder.last_seq
            stop = asyncio.Event()
            burst = asyncio.create_task(_burst(m, stop))
            # Let writes flow, then kill the proxy without warning while they are in flight.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _writes(fake, seq0) < 40:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            stop.set()
            await burst
    finally:
        if proc.poll() is None:
            proc.kill()

    records = [json.loads(line) for line in audit.read_text().splitlines()]  # every line parses
    done = _successful_writes(fake, seq0)
    assert len(done) >= 20, "the burst did not reach Graph"
    recorded: dict[tuple[str, str], int] = {}
    for r in records:
        if r["event"] in WRITES.values() and "target" in r:
            key = (r["target"]["id"], r["event"])
            recorded[key] = recorded.get(key, 0) + 1
    needed: dict[tuple[str, str], int] = {}
    for key in done:
        needed[key] = needed.get(key, 0) + 1
    for key, count in needed.items():
        assert recorded.get(key, 0) >= count, (key, count, recorded.get(key, 0))


def _writes(fake: RunningFake, since: int) -> int:
    return len(_successful_writes(fake, since))


def _successful_writes(fake: RunningFake, since: int) -> list[tuple[str, str]]:
    items, _ = fake.fake.recorder.since(since)
    out = []
    for r in items:
        if r.status >= 300 or r.method not in ("PATCH", "POST", "DELETE"):
            continue
        path = re.sub("/+", "/", r.path)
        if (m := _USER.match(path)) and r.method == "PATCH":
            out.append((m.group(1), WRITES[("PATCH", "user")]))
        elif m := _PHONES.match(path):
            kind = "phone" if m.group(2) else "phones"
            event = WRITES.get((r.method, kind))
            if event:
                out.append((m.group(1), event))
    return out
