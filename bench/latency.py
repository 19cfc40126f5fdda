"""Manager-visible latency of each action when every Graph round trip costs 50 ms.

Run: ``/work/venv/bin/python bench/latency.py [--quick]``.

Fake and proxy run as separate processes; the proxy reaches Graph through a forwarder in this
process (for model B). Two ways of making Graph slow, measured in the same run:

A. the fake's own fault, ``{"path": "^/v1\\.0/", "latencyMs": 50}``: every Graph request AND
   every ``$batch`` sub-request waits 50 ms. The fake runs sub-requests concurrently, so a
   ``$batch`` costs 50 ms (envelope) + 50 ms (its sub-requests, in parallel) = 2 waits;
B. 50 ms of network latency (the forwarder holds each request 50 ms): every HTTP exchange,
   a ``$batch`` included, costs one wait, as over a real network to Graph.

"One round trip" is measured, in each model, as a single ``GET /users/{id}`` sent straight from
this process; a 5-request ``$batch`` sent the same way is shown too. Targets (issue 6): a read
within 1.2 x one round trip, a change within 2.2 x (p50); a bulk reset of N people (issue
15) within 3 + ceil(N/20) round trips (50 cashiers are added to Seattle for it). Prints
figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from _stack import (
    DEMO_TENANT,
    QUINN,
    TAYLOR,
    DelayingForwarder,
    FakeProcess,
    Stack,
    actions,
    bulk_target,
    client_ssl,
    env_note,
    html_pages_exist,
    median,
    pct,
    run,
    start_stack,
    with_bulk_staff,
)

LATENCY_MS = 50
SEATTLE_AU = "3c1f6f0e-2a4b-4c3d-8e5f-6a7b8c9d0e01"


async def timed(call: Callable[[], Awaitable[Any]], n: int, warm: int = 2) -> list[float]:
    for _ in range(warm):
        await call()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 samples instead of 40")
    args = parser.parse_args()
    n = 10 if args.quick else 40

    forwarder: DelayingForwarder | None = None

    def via_forwarder(fake: FakeProcess) -> str:
        return f"https://127.0.0.1:{forwarder.port}/v1.0" if forwarder else fake.url + "/v1.0"

    workdir = Path(tempfile.mkdtemp(prefix="mystaff-bench-"))
    tenant = with_bulk_staff(DEMO_TENANT, workdir)
    fake = await asyncio.to_thread(lambda: FakeProcess(tenant, workdir).start())
    parts = urlsplit(fake.url)
    forwarder = await DelayingForwarder(parts.hostname or "127.0.0.1", parts.port or 443).start()
    stack: Stack = await asyncio.to_thread(start_stack, fake=fake, workdir=fake.workdir,
                                           graph_url=via_forwarder)
    try:
        html = html_pages_exist(stack)
        control = await stack.control()
        token = await control.app_token(fake.tenant_id)
        graph = f"https://127.0.0.1:{forwarder.port}/v1.0"
        direct = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            ssl=client_ssl(fake.ca_file)), headers={"Authorization": f"Bearer {token}"})

        async def one_get() -> None:
            async with direct.get(f"{graph}/users/{TAYLOR}",
                                  params={"$select": "id,displayName"}) as resp:
                await resp.read()

        async def one_batch() -> None:
            subs = [f"/directory/administrativeUnits/{SEATTLE_AU}/members/{TAYLOR}?$select=id",
                    f"/users/{TAYLOR}?$select=id,displayName",
                    f"/users/{TAYLOR}/transitiveMemberOf?$top=999",
                    "/roleManagement/directory/roleAssignments"
                    f"?$filter=principalId%20eq%20'{QUINN}'",
                    f"/users/{TAYLOR}/authentication/phoneMethods"]
            body = {"requests": [{"id": str(i), "method": "GET", "url": u}
                                 for i, u in enumerate(subs)]}
            async with direct.post(f"{graph}/$batch", json=body) as resp:
                await resp.read()

        manager = await stack.manager()
        acts = actions(manager, html=html, bulk=True)
        models: dict[str, dict[str, list[float]]] = {}
        for model in ("none", "A", "B"):
            if model == "A":
                await control.fault(path=r"^/v1\.0/", latencyMs=LATENCY_MS)
            forwarder.delay = LATENCY_MS / 1000 if model == "B" else 0.0
            try:
                got = {"one GET (direct)": await timed(one_get, n),
                       "5-request $batch (direct)": await timed(one_batch, n)}
                for name, (_kind, act) in acts.items():
                    got[name] = await timed(act, n)
            finally:
                await control.clear_faults()
            models[model] = got

        print(f"Latency per action, {n} sequential samples each (ms; fake and proxy in separate "
              f"processes; {env_note()})")
        print("  none: no injected latency;  A: fake fault 50 ms on every Graph request and "
              "sub-request;  B: 50 ms network latency per HTTP exchange")
        kinds = {name: kind for name, (kind, _) in acts.items()}
        header = (f"{'action':28} {'none p50':>8} | {'A p50':>6} {'A p95':>6} {'A xRT':>6} | "
                  f"{'B p50':>6} {'B p95':>6} {'B xRT':>6} {'target':>6}  B verdict")
        print(header)
        rt = {m: median(models[m]["one GET (direct)"]) for m in models}
        for name in models["none"]:
            kind = kinds.get(name)
            target = {"read": 1.2, "change": 2.2}.get(kind or "")
            if kind == "bulk":
                target = float(bulk_target(int(re.findall(r"\d+", name)[0])))
            a, b = models["A"][name], models["B"][name]
            ra, rb = median(a) / rt["A"], median(b) / rt["B"]
            verdict = "" if target is None else ("met" if rb <= target else "MISSED")
            t = f"{target:6.1f}" if target is not None else f"{'':6}"
            print(f"{name:28} {median(models['none'][name]):8.1f} | {median(a):6.1f} "
                  f"{pct(a, 95):6.1f} {ra:6.2f} | {median(b):6.1f} {pct(b, 95):6.1f} {rb:6.2f} "
                  f"{t}  {verdict}")
        print(f"one round trip (p50 of one direct GET): A {rt['A']:.1f} ms, B {rt['B']:.1f} ms. "
              "In A a $batch is two 50 ms waits (envelope + concurrent sub-requests), "
              f"measured {median(models['A']['5-request $batch (direct)']):.1f} ms, so a read "
              "that needs one $batch is ~2 x RT in A by construction.")
        await direct.close()
        await stack.close()
    finally:
        await forwarder.close()
        stack.stop()


if __name__ == "__main__":
    run(main)
