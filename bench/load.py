"""Load and soak: N managers with sessions doing a realistic mix against proxy + fake_graph.

    python bench/load.py [--managers 16] [--duration 180] [--quick] [--probe]
                         [--limit-window 60] [--warmup S] [--proxy-env NAME=VALUE ...]

The fake (demo tenant) and the proxy each run in their own process (``fake-graph serve``, and
``mystaff-proxy serve`` started through ``bench/memprobe.py``); this process only generates
load. Prints throughput, p50/p95/p99 per action, the error count (must be 0) and the proxy's
resident memory over time: RSS at the end of the warm-up and at the end, the least-squares
slope over the second half of the run and a verdict (``plateau`` when the second half grows by
less than PLATEAU_MIB). ``--probe`` adds glibc malloc statistics per arena, Python blocks and
object types, open fds, the rate limiter's size and what ``malloc_trim(0)`` gives back at the
end. Exit status 1 when any request failed.

The policy's change limits are raised to 100,000 an hour so that no manager is refused; by
default their window is also shortened to 60 s (``--limit-window``), or every change of the
last hour stays in the in-memory rate limiter and RSS rises for an hour (bounded, but it hides
whatever else the soak is meant to show). ``--limit-window 0`` runs the product unpatched.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import shutil
import signal
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
PLATEAU_MIB = 2.0
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


def start_proxy(tmp: Path, fake_url: str, tenant_id: str, env: dict[str, str] | None = None,
                probe: Path | None = None, limit_window: float = 0,
                ) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    policy = (ROOT / "mystaff_proxy" / "demo_files" / "demo.yaml").read_text()
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
    env = {**os.environ, **(env or {})}
    if limit_window:
        env["MYSTAFF_BENCH_LIMIT_WINDOW"] = str(limit_window)
    launcher = ([str(ROOT / "bench" / "memprobe.py"), str(probe or "-"), "--"]
                if probe or limit_window else ["-m", "mystaff_proxy.cli"])
    proc = subprocess.Popen([sys.executable, *launcher, "serve", "--config",
                             str(tmp / "config.toml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
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
                          samples: dict[str, list[float]], errors: list[str],
                          changes: list[int]) -> None:
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
        calls: list[tuple[str, str, dict[str, str] | None, tuple[int, ...]]]
        if action == "staff_page":
            calls = [("GET", f"{base}?top=25", None, (200,))]
        elif action == "search":
            calls = [("GET", f"{base}?search={rng.choice('abcdeghjklmnprst')}", None, (200,))]
        elif action == "profile":
            calls = [("GET", f"{base}/{user}", None, (200,))]
        elif action == "reset":
            calls = [("POST", f"{base}/{user}/password", {}, (200, 403))]
        else:
            # 425-555-01xx: no demo account has these, so never a manager's own number
            # (refused as phone_number_not_allowed, docs/phones.md).
            number = f"+1 425555{rng.randrange(100, 190):04d}"
            calls = [("POST", f"{base}/{user}/phone-methods",
                      {"phoneType": "office", "phoneNumber": number}, (201, 403, 409)),
                     ("DELETE", f"{base}/{user}/phone-methods/office", None, (204, 403, 404))]
        for method, path, body, ok in calls:
            status, data, _ = await m.call(method, path, body)
            # 403 = a protected person picked at random; 409/404 = another virtual manager
            # changed the same phone first. Anything else is an error.
            if status not in ok:
                errors.append(f"{method} {path} -> {status} {json.dumps(data)[:200]}")
            elif method != "GET" and status < 300:
                changes.append(1)
        samples.setdefault(action, []).append(time.perf_counter() - started)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def slope_mib_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) points, in MiB per minute."""
    if len(points) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_m = statistics.fmean(m for _, m in points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (m - mean_m) for t, m in points) / var * 60


def memory_report(memory: list[tuple[float, float]], warmup: float, duration: float) -> list[str]:
    """RSS at start / end of warm-up / end, the second-half slope and a plateau verdict.

    Plateau: over the second half of the run RSS rose by less than PLATEAU_MIB in total
    (extrapolated from the slope) — an allocator settling, not a leak growing with traffic.
    """
    first, last = memory[0][1], memory[-1][1]
    peak = max(m for _, m in memory)
    at_warmup = min(memory, key=lambda point: abs(point[0] - warmup))[1]
    second_half = [(t, m) for t, m in memory if t >= duration / 2]
    slope = slope_mib_per_min(second_half)
    half_growth = slope * (duration / 2) / 60
    verdict = "plateau" if half_growth < PLATEAU_MIB else "still rising"
    return [
        "proxy RSS MiB over time: " + ", ".join(f"{t:.0f}s={m:.1f}" for t, m in memory),
        f"proxy RSS: first {first:.1f} MiB, last {last:.1f} MiB, peak {peak:.1f} MiB, "
        f"growth {last - first:+.1f} MiB; median {statistics.median(m for _, m in memory):.1f}",
        f"proxy RSS after {warmup:.0f} s warm-up {at_warmup:.1f} MiB, at end {last:.1f} MiB "
        f"({last - at_warmup:+.1f}); second-half slope {slope:+.2f} MiB/min "
        f"({half_growth:+.1f} MiB over the second half): {verdict}"]


def probe_report(path: Path) -> list[str]:
    """Native heap vs Python objects between the first and the last probe snapshot."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    trim = {row["trim"]: row for row in rows if "trim" in row}
    rows = [row for row in rows if "trim" not in row]
    if len(rows) < 2:
        return []
    a, b = rows[0], rows[-1]
    mib = 1024 * 1024
    out = []
    for key, label, scale in (
            ("rss_kib", "RSS MiB", 1024), ("malloc_used", "malloc in use MiB", mib),
            ("malloc_free", "malloc free-but-kept MiB", mib),
            ("malloc_arena", "malloc arena MiB", mib), ("malloc_mmap", "malloc mmapped MiB", mib),
            ("malloc_arenas", "malloc arenas", 1), ("threads", "threads", 1),
            ("fds", "open fds", 1), ("blocks", "Python allocated blocks", 1),
            ("gc_objects", "gc objects", 1), ("ratelimit_hits", "rate-limit timestamps", 1),
            ("ratelimit_bytes", "rate-limit windows MiB", mib),
            ("traced_kib", "tracemalloc KiB", 1)):
        if key in a and key in b:
            out.append(f"probe {label:<26}{a[key] / scale:>12.1f} -> {b[key] / scale:>12.1f} "
                       f"({(b[key] - a[key]) / scale:+.1f})")
    if "malloc_heaps" in b:
        heaps = ", ".join(f"#{i} {cur / mib:.1f}/{free / mib:.1f}"
                          for i, (cur, free) in enumerate(b["malloc_heaps"]))
        out.append(f"probe malloc per arena at the end, MiB from system/free (#0 main): {heaps}")
    grown = sorted(((b["types"].get(k, 0) - a["types"].get(k, 0), k) for k in b["types"]),
                   reverse=True)[:8]
    out.append("probe gc types grown: " + ", ".join(f"{k} {d:+d}" for d, k in grown if d))
    out += [f"probe tracemalloc {line}" for line in b.get("tracemalloc_top", [])[:10]]
    if "before" in trim and "after" in trim:
        before, after = trim["before"], trim["after"]
        out.append(f"probe malloc_trim(0) at the end: RSS {before['rss_kib'] / 1024:.1f} -> "
                   f"{after['rss_kib'] / 1024:.1f} MiB, malloc free-but-kept "
                   f"{before['malloc_free'] / mib:.1f} -> {after['malloc_free'] / mib:.1f} MiB")
    return out


async def run(managers: int, duration: float, warmup: float, env: dict[str, str],
              probe: bool, limit_window: float) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="mystaff-load-"))
    probe_file = tmp / "probe.jsonl" if probe else None
    fake, fake_url = start_fake(tmp)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                ssl=client_ssl(tmp / "tls" / "ca.pem"))) as probe_http:
            tenant = await (await probe_http.get(fake_url + "/_fake/tenant")).json()
        proxy, proxy_url = start_proxy(tmp, fake_url, tenant["id"], env, probe_file,
                                       limit_window)
    except BaseException:
        fake.kill()
        raise
    samples: dict[str, list[float]] = {}
    errors: list[str] = []
    changes: list[int] = []
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
        interval = min(30.0, max(1.0, duration / 20))

        async def sample_memory() -> None:
            while True:
                memory.append((time.monotonic() - start, rss_mib(proxy.pid)))
                if probe_file:
                    os.kill(proxy.pid, signal.SIGUSR1)
                if time.monotonic() >= stop:
                    return
                await asyncio.sleep(min(interval, max(0.0, stop - time.monotonic())))

        await asyncio.gather(sample_memory(), *(
            virtual_manager(m, locs, stop, random.Random(rng.random()), samples, errors,
                            changes)
            for m, locs in users))
        elapsed = time.monotonic() - start
        if probe_file:
            await asyncio.sleep(2)  # the last snapshot (gc.get_objects) takes a moment
            os.kill(proxy.pid, signal.SIGUSR2)  # then malloc_trim: how much RSS was kept-free
            await asyncio.sleep(3)
    finally:
        for http in sessions:
            await http.close()
        proxy.terminate()
        fake.terminate()
        proxy.wait(10)
        fake.wait(10)
    total = sum(len(v) for v in samples.values())
    print(f"load: {managers} managers, {elapsed:.0f} s, {total} actions, "
          f"{total / elapsed:.1f} actions/s, errors: {len(errors)}"
          + (f", change-limit window {limit_window:.0f} s" if limit_window else "")
          + "".join(f", {k}={v}" for k, v in env.items()))
    print(f"{'action':<12}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for action, values in sorted(samples.items()):
        print(f"{action:<12}{len(values):>8}{pct(values, 50):>10.1f}{pct(values, 95):>10.1f}"
              f"{pct(values, 99):>10.1f}")
    everything = [v for values in samples.values() for v in values]
    if everything:
        print(f"{'all':<12}{len(everything):>8}{pct(everything, 50):>10.1f}"
              f"{pct(everything, 95):>10.1f}{pct(everything, 99):>10.1f}")
    if memory:
        for line in memory_report(memory, warmup, elapsed):
            print(line)
        # Each change took a slot in its manager's sliding window, kept for an hour: with the
        # bench's 100,000-an-hour limits that is real, bounded, Python-heap growth of about
        # 40 bytes a change (a float and its deque slot); at the demo's 30/60 it stays tiny.
        window = limit_window or 3600
        kept = int(len(changes) * min(1.0, window / elapsed))
        print(f"rate-limit windows: {kept} of {len(changes)} changes kept ({window:.0f} s "
              f"window), ~{kept * 40 / 2**20:.1f} MiB of the growth")
    if probe_file and probe_file.exists():
        for line in probe_report(probe_file):
            print(line)
    for line in errors[:10]:
        print("error:", line)
    shutil.rmtree(tmp, ignore_errors=True)  # the audit log of a long soak is ~80 MB
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--managers", type=int, default=16)
    parser.add_argument("--duration", type=float, default=180)
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds counted as warm-up in the RSS report (default: a quarter "
                             "of the duration, at most 120)")
    parser.add_argument("--proxy-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the proxy, e.g. MALLOC_ARENA_MAX=2")
    parser.add_argument("--probe", action="store_true",
                        help="run the proxy under bench/memprobe.py and report native heap, "
                             "Python blocks and object types (MYSTAFF_BENCH_TRACEMALLOC=1 in "
                             "--proxy-env adds tracemalloc top differences)")
    parser.add_argument("--limit-window", type=float, default=60, metavar="SECONDS",
                        help="the change limits' sliding window in the proxy (default 60; 0 = "
                             "the product's hour, unpatched). The bench raises the limits to "
                             "100,000 an hour so no one is refused; with an hour-long window "
                             "the proxy then keeps every change of the last hour (~40 B each "
                             "plus the heap fragmentation around them) and RSS rises for an "
                             "hour; 60 s refuses no one either and measures the proxy instead")
    parser.add_argument("--quick", action="store_true", help="8 managers for 8 seconds")
    args = parser.parse_args()
    if args.quick:
        args.managers, args.duration = 8, 8
    warmup = args.warmup if args.warmup is not None else min(120.0, args.duration / 4)
    env = dict(item.split("=", 1) for item in args.proxy_env)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return asyncio.run(run(args.managers, args.duration, warmup, env, args.probe,
                           args.limit_window))


if __name__ == "__main__":
    raise SystemExit(main())
