"""Load and soak: N managers with sessions doing a realistic mix against proxy + fake_graph.

    python bench/load.py [--managers 16] [--duration 180] [--quick]

The fake (demo tenant) and the proxy each run in their own process (``fake-graph serve``,
``mystaff-proxy serve``); this process only generates load. Prints throughput, p50/p95/p99
per action, the error count (must be 0) and the proxy's resident memory over time (must stay
flat). Exit status 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # before tests/, whose fake_graph/ folder would shadow the package

from e2e_support import Manager, client_ssl, parse_forms  # noqa: E402

DEMO_CLIENT_ID = "6d5ac1a4-5b8c-4f3e-9a60-1f0c2b7e3d11"
DEMO_SECRET = "demo-proxy-secret-not-for-production"
MANAGERS = [("sam.rivera@contoso.example", "Demo-Manager-1!", ["seattle", "tacoma"]),
            ("dana.whitfield@contoso.example", "Demo-Manager-1!", ["tacoma"]),
            ("priya.natarajan@contoso.example", "Demo-Manager-1!", ["portland"]),
            ("robin.okafor@contoso.example", "Demo-Manager-1!", ["spokane"])]
MIX = [("staff_page", 40), ("search", 15), ("profile", 30), ("reset", 7), ("phone", 8)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_fake(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fake_graph", "serve", "--tenant",
         str(ROOT / "fake_graph" / "tenants" / "demo.yaml"), "--port", "0",
         "--tls-dir", str(tmp / "tls")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("fake-graph ready on "):
        proc.kill()
        raise SystemExit(f"fake-graph did not start: {line!r}")
    return proc, line.removeprefix("fake-graph ready on ")


def start_proxy(tmp: Path, fake_url: str, tenant_id: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    policy = (ROOT / "policies" / "demo.yaml").read_text()
    policy = policy.replace("per_hour: 30", "per_hour: 100000").replace(
        "per_hour: 60", "per_hour: 100000")
    (tmp / "policy.yaml").write_text(policy)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    (tmp / "config.toml").write_text(f"""
[server]
host = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
[tenant]
id = "{tenant_id}"
authority_host = "{fake_url}"
graph_url = "{fake_url}/v1.0"
ca_file = "{tmp / 'tls' / 'ca.pem'}"
[app]
client_id = "{DEMO_CLIENT_ID}"
client_secret = "{DEMO_SECRET}"
[session]
secret = "{secret}"
[policy]
path = "{tmp / 'policy.yaml'}"
[audit]
path = "{tmp / 'audit.jsonl'}"
""")
    proc = subprocess.Popen([sys.executable, "-m", "mystaff_proxy.cli", "serve", "--config",
                             str(tmp / "config.toml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the proxy did not start")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def sign_in(http: aiohttp.ClientSession, proxy: str, upn: str, password: str) -> Manager:
    m = Manager(http, proxy)
    resp = await http.get(proxy + "/auth/login", allow_redirects=False)
    url = resp.headers["Location"]
    page = await (await http.get(url)).text()
    action, fields = parse_forms(page)[0]
    fields.update(username=upn, password=password)
    resp = await http.post(urljoin(url, action), data=fields, allow_redirects=False)
    await http.get(resp.headers["Location"], allow_redirects=False)
    status, me, _ = await m.call("GET", "/api/v1/me")
    if status != 200:
        raise SystemExit(f"sign-in of {upn} failed: {status}")
    m.csrf = me["csrfToken"]
    return m


async def virtual_manager(m: Manager, locations: list[str], stop: float, rng: random.Random,
                          samples: dict[str, list[float]], errors: list[str]) -> None:
    staff: dict[str, list[str]] = {}
    for loc in locations:
        _, page, _ = await m.call("GET", f"/api/v1/locations/{loc}/staff?top=100")
        staff[loc] = [s["id"] for s in page["value"]]
    actions, weights = zip(*MIX, strict=True)
    while time.monotonic() < stop:
        action = rng.choices(actions, weights)[0]
        loc = rng.choice(locations)
        user = rng.choice(staff[loc])
        base = f"/api/v1/locations/{loc}/staff"
        started = time.perf_counter()
        if action == "staff_page":
            calls = [("GET", f"{base}?top=25", None, (200,))]
        elif action == "search":
            calls = [("GET", f"{base}?search={rng.choice('abcdeghjklmnprst')}", None, (200,))]
        elif action == "profile":
            calls = [("GET", f"{base}/{user}", None, (200,))]
        elif action == "reset":
            calls = [("POST", f"{base}/{user}/password", {}, (200, 403))]
        else:
            number = f"+1 206555{rng.randrange(100, 190):04d}"
            calls = [("POST", f"{base}/{user}/phone-methods",
                      {"phoneType": "office", "phoneNumber": number}, (201, 403, 409)),
                     ("DELETE", f"{base}/{user}/phone-methods/office", None, (204, 403, 404))]
        for method, path, body, ok in calls:
            status, data, _ = await m.call(method, path, body)
            # 403 = a protected person picked at random; 409/404 = another virtual manager
            # changed the same phone first. Anything else is an error.
            if status not in ok:
                errors.append(f"{method} {path} -> {status} {json.dumps(data)[:200]}")
        samples.setdefault(action, []).append(time.perf_counter() - started)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def run(managers: int, duration: float) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="mystaff-load-"))
    fake, fake_url = start_fake(tmp)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                ssl=client_ssl(tmp / "tls" / "ca.pem"))) as probe:
            tenant = await (await probe.get(fake_url + "/_fake/tenant")).json()
        proxy, proxy_url = start_proxy(tmp, fake_url, tenant["id"])
    except BaseException:
        fake.kill()
        raise
    samples: dict[str, list[float]] = {}
    errors: list[str] = []
    memory: list[tuple[float, float]] = []
    sessions = []
    try:
        users = []
        for i in range(managers):
            upn, password, locations = MANAGERS[i % len(MANAGERS)]
            http = aiohttp.ClientSession(
                cookie_jar=aiohttp.CookieJar(unsafe=True),
                connector=aiohttp.TCPConnector(ssl=client_ssl(tmp / "tls" / "ca.pem")))
            sessions.append(http)
            users.append((await sign_in(http, proxy_url, upn, password), locations))
        start = time.monotonic()
        stop = start + duration
        rng = random.Random(1)

        async def sample_memory() -> None:
            while time.monotonic() < stop:
                memory.append((time.monotonic() - start, rss_mib(proxy.pid)))
                await asyncio.sleep(max(1.0, duration / 20))

        await asyncio.gather(sample_memory(), *(
            virtual_manager(m, locs, stop, random.Random(rng.random()), samples, errors)
            for m, locs in users))
        elapsed = time.monotonic() - start
    finally:
        for http in sessions:
            await http.close()
        proxy.terminate()
        fake.terminate()
        proxy.wait(10)
        fake.wait(10)
    total = sum(len(v) for v in samples.values())
    print(f"load: {managers} managers, {elapsed:.0f} s, {total} actions, "
          f"{total / elapsed:.1f} actions/s, errors: {len(errors)}")
    print(f"{'action':<12}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for action, values in sorted(samples.items()):
        print(f"{action:<12}{len(values):>8}{pct(values, 50):>10.1f}{pct(values, 95):>10.1f}"
              f"{pct(values, 99):>10.1f}")
    everything = [v for values in samples.values() for v in values]
    if everything:
        print(f"{'all':<12}{len(everything):>8}{pct(everything, 50):>10.1f}"
              f"{pct(everything, 95):>10.1f}{pct(everything, 99):>10.1f}")
    if memory:
        first, last = memory[0][1], memory[-1][1]
        peak = max(m for _, m in memory)
        print("proxy RSS MiB over time: " + ", ".join(f"{t:.0f}s={m:.1f}" for t, m in memory))
        print(f"proxy RSS: first {first:.1f} MiB, last {last:.1f} MiB, peak {peak:.1f} MiB, "
              f"growth {last - first:+.1f} MiB; "
              f"median {statistics.median(m for _, m in memory):.1f}")
    for line in errors[:10]:
        print("error:", line)
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--managers", type=int, default=16)
    parser.add_argument("--duration", type=float, default=180)
    parser.add_argument("--quick", action="store_true", help="8 managers for 8 seconds")
    args = parser.parse_args()
    if args.quick:
        args.managers, args.duration = 8, 8
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return asyncio.run(run(args.managers, args.duration))


if __name__ == "__main__":
    raise SystemExit(main())
