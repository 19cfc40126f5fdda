"""Scale: an administrative unit of 100,000 members, 10,000 requests of memory, a huge policy.

Run: ``/work/venv/bin/python bench/scale.py [--quick]``.

1. ``fake-graph generate --users 100000 --units 1`` (one store: ~99,997 user members), a policy
   naming its store manager and that unit, fake and proxy as separate processes.
2. The first staff page and the first search after sign-in, then 20 more of each: time at the
   client, the same Graph query sent straight to the fake (Graph's share), and the difference
   (the proxy's share); plus the proxy's CPU per staff page / search over 200 of each.
   Target: under 100 ms of proxy time.
3. 10,000 mixed requests (2% random two-letter searches, 28% next pages of the full list
   through cursors, 70% profiles of random members) from 16 clients, proxy RSS sampled
   every 500 requests. (Searches are few: the fake scans 100,000 users for each one.)
   Target: flat.
4. Policy of 20,000 assignments and 5,000 locations: ``bench/bench_policy.py`` (reused, run as
   it is). Targets: load (parse + resolve) under 1 s, a decision under 20 µs.

``--quick``: 20,000 members, 2,000 requests. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from _stack import (
    BIN,
    ROOT,
    FakeProcess,
    Stack,
    client_ssl,
    env_note,
    median,
    run,
    start_stack,
)

from fake_graph.directory import derive_id

CLIENTS = 16
PASSWORD = "Gen-Passw0rd!"
UNIT_NAME = "Seattle store 00001"


def policy_for(manager: str, unit: str) -> str:
    return (f"version: 1\nlocations:\n  big:\n    administrative_unit: \"{unit}\"\n"
            f"assignments:\n  - managers: [\"{manager}\"]\n    locations: [big]\n"
            "    allow: [reset_password, manage_phone]\n")


async def timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await call
    return (time.perf_counter() - started) * 1000, result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    users, total = (20_000, 2_000) if args.quick else (100_000, 10_000)

    work = Path(tempfile.mkdtemp(prefix="mystaff-bench-scale-"))
    tenant = work / "tenant.yaml"
    started = time.perf_counter()
    await asyncio.to_thread(
        subprocess.run, [str(BIN / "fake-graph"), "generate", "--users", str(users), "--units",
                         "1", "--seed", "7", "--out", str(tenant)], check=True)
    generated = time.perf_counter() - started
    manager = re.search(r"userPrincipalName: (\S+)", tenant.read_text()).group(1)  # type: ignore[union-attr]
    unit = derive_id("administrativeUnit", UNIT_NAME)
    started = time.perf_counter()
    fake = await asyncio.to_thread(lambda: FakeProcess(tenant, work).start())
    fake_ready = time.perf_counter() - started
    stack: Stack = await asyncio.to_thread(start_stack, fake=fake, workdir=work,
                                           policy_text=policy_for(manager, unit))
    try:
        control = await stack.control()
        token = await control.app_token(fake.tenant_id)
        direct = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            ssl=client_ssl(fake.ca_file)), headers={"Authorization": f"Bearer {token}",
                                                    "ConsistencyLevel": "eventual"})
        members_url = (f"{fake.url}/v1.0/directory/administrativeUnits/{unit}/members/"
                       "microsoft.graph.user")

        async def graph_direct(search: str) -> None:
            params = {"$select": "id,displayName,userPrincipalName,jobTitle", "$top": "25",
                      "$count": "true"}
            if search:
                q = "'" + search + "'"
                params["$filter"] = " or ".join(
                    f"startswith({f},{q})"
                    for f in ("displayName", "givenName", "surname", "userPrincipalName"))
            async with direct.get(members_url, params=params) as resp:
                await resp.read()

        m = await stack.manager(manager, PASSWORD)
        base = "/api/v1/locations/big/staff"

        async def staff(search: str = "", cursor: str | None = None) -> Any:
            path = base + (f"?search={search}" if search else "")
            if cursor:
                path += ("&" if "?" in path else "?") + "cursor=" + cursor
            status, data, _ = await m.call("GET", path)
            if status != 200:
                raise RuntimeError(f"staff page: HTTP {status}")
            return data

        first_page, data = await timed(staff())
        first_search, _ = await timed(staff("da"))
        await graph_direct("")
        first_direct, _ = await timed(graph_direct(""))
        first_direct_s, _ = await timed(graph_direct("da"))
        rows = []
        for label, search in (("staff page", ""), ("search 'da'", "da")):
            e2e = [(await timed(staff(search)))[0] for _ in range(20)]
            graph = [(await timed(graph_direct(search)))[0] for _ in range(20)]
            before = stack.proxy.cpu()
            for _ in range(200):
                await staff(search)
            cpu_ms = (stack.proxy.cpu() - before) / 200 * 1000
            rows.append((label, median(e2e), median(graph), cpu_ms))

        # -- memory over many requests -----------------------------------------------------
        ids = [u["id"] for u in data["value"]]
        managers = [m] + [await stack.manager(manager, PASSWORD) for _ in range(CLIENTS - 1)]
        rng = random.Random(3)
        letters = "abcdefghijklmnoprstw"
        done = {"n": 0}
        samples: list[tuple[int, float]] = [(0, stack.proxy.rss_mb())]
        cursors: list[str] = [data["nextCursor"]] if data.get("nextCursor") else []

        async def worker(client: Any) -> None:
            while done["n"] < total:
                done["n"] += 1
                n = done["n"]
                pick = rng.random()
                if pick < 0.02:
                    path = f"{base}?search={rng.choice(letters)}{rng.choice(letters)}"
                elif pick < 0.3 and cursors:
                    path = f"{base}?cursor={rng.choice(cursors)}"
                else:
                    path = f"{base}/{rng.choice(ids)}"
                status, body, _ = await client.call("GET", path)
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status}")
                if isinstance(body, dict):
                    for u in body.get("value", [])[:3]:
                        if len(ids) < 5000:
                            ids.append(u["id"])
                    if body.get("nextCursor") and len(cursors) < 200 and "search=" not in path:
                        cursors.append(body["nextCursor"])
                if n % 500 == 0:
                    samples.append((n, stack.proxy.rss_mb()))

        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in managers))
        mix_seconds = time.perf_counter() - started
        await direct.close()
        await stack.close()
    finally:
        stack.stop()

    policy = (await asyncio.to_thread(
        subprocess.run, [sys.executable, str(ROOT / "bench" / "bench_policy.py")],
        capture_output=True, text=True, check=True)).stdout

    print(f"Scale ({env_note()})")
    print(f"tenant: {users} users, one unit of ~{users - 3} user members (generated in "
          f"{generated:.1f} s; fake ready in {fake_ready:.1f} s)")
    print(f"first staff page after sign-in: {first_page:.1f} ms at the client "
          f"(the same Graph query straight to the fake: {first_direct:.1f} ms)")
    print(f"first search after sign-in:     {first_search:.1f} ms at the client "
          f"(straight to the fake: {first_direct_s:.1f} ms)")
    print(f"{'request':12} {'client p50':>10} {'Graph p50':>9} {'proxy share':>11} "
          f"{'proxy CPU':>9}  target < 100 ms")
    for label, e2e, graph, cpu in rows:
        share = e2e - graph
        print(f"{label:12} {e2e:10.1f} {graph:9.1f} {share:11.1f} {cpu:9.2f}  "
              f"{'met' if max(share, cpu) < 100 else 'MISSED'}")
    print(f"memory over {total} mixed requests from {CLIENTS} clients "
          f"({total / mix_seconds:.0f} req/s): RSS MB at request n:")
    print("  " + ", ".join(f"{n}: {rss:.1f}" for n, rss in samples))
    warm = [rss for n, rss in samples if n >= total // 5]
    growth = warm[-1] - warm[0] if warm else float("nan")
    print(f"  growth from request {total // 5} to {total}: {growth:+.1f} MB "
          f"({'flat' if abs(growth) < 5 else 'NOT flat'}; target: flat)")
    print("policy at scale (bench/bench_policy.py):")
    print("  " + policy.strip().replace("\n", "\n  "))
    total_ms = re.search(r"total:\s+median\s+([\d.]+) ms", policy)
    decide = re.search(r"decide:\s+([\d.]+) µs", policy)
    if total_ms and decide:
        load, us = float(total_ms.group(1)), float(decide.group(1))
        print(f"  load {load:.0f} ms (target < 1000: {'met' if load < 1000 else 'MISSED'}), "
              f"decision {us:.2f} µs (target < 20: {'met' if us < 20 else 'MISSED'})")


if __name__ == "__main__":
    run(main)
