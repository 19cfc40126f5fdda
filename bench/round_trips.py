"""Sequential Graph round trips per manager action, counted from the fake's request log.

Run: ``/work/venv/bin/python bench/round_trips.py [--quick]``.

Starts ``fake-graph serve`` (demo tenant) and ``mystaff-proxy serve`` as two processes, signs
Sam (Seattle + Tacoma) in, warms every action up, then for each action reads what the proxy
sent to Graph from ``GET /_fake/requests``:

- Graph requests: top-level requests to ``/v1.0`` (a ``$batch`` counts once, its sub-requests
  are listed in brackets); token and JWKS fetches are not Graph and are not counted.
- Sequential round trips: the same action again with a 100 ms latency fault on every Graph
  request; requests that finish more than 50 ms apart ran one after the other. (A ``$batch``
  then takes ~200 ms — its envelope and, concurrently, its sub-requests are each delayed — but
  it is one round trip.)

Targets (issue 6): 1 per read, 2 per change; a bulk reset of N people (issue 15): at most
3 + ceil(N/20), for 20 and 50 of Seattle's cashiers (50 are added to the demo tenant). Prints
figures only.

``--identity manager``: the proxy in manager mode (changes sent as Sam, who holds
Authentication Administrator over his units); a password reset is then ``resetPassword``
plus its operation, read after Graph's ``Retry-After`` (1 s from the fake): 3 round trips;
a bulk reset sends the ``resetPassword``s in ``$batch``es, then reads the operations in
``$batch``es.
"""

from __future__ import annotations

import argparse
import calendar
import itertools
import re
import time
from typing import Any

from _stack import (
    GRAPH_PREFIX,
    Stack,
    actions,
    bulk_target,
    env_note,
    html_pages_exist,
    run,
    start_stack,
)

DELAY_MS = 100
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _epoch(stamp: str) -> float:
    head, ms = stamp.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000


def _short(rec: dict[str, Any]) -> str:
    path = _GUID.sub("{id}", rec["path"][len(GRAPH_PREFIX):])
    return f"{rec['method']} {path}"


def describe(records: list[dict[str, Any]]) -> tuple[int, str]:
    """(top-level Graph requests, a one-line description) of one action's records, read from
    the run with the latency fault: requests finishing within DELAY/2 of each other were sent
    at once and are one step (``15 x $batch[300]``: 15 batches holding 300 sub-requests in
    all; their sub-requests interleave in the log, so only the step's total is told). A
    ``$batch`` of reads is ``$batch[n]``; one carrying changes names their method:
    ``$batch[20 PATCH]``."""
    graph = [r for r in records if r["path"].startswith(GRAPH_PREFIX)]
    steps: list[tuple[list[dict[str, Any]], list[str]]] = []  # (requests, sub-request methods)
    pending: list[str] = []
    last = None
    top = 0
    for rec in graph:  # sub-requests are recorded just before their $batch envelope
        if rec["batch"]:
            pending.append(rec["method"])
            continue
        top += 1
        now = _epoch(rec["time"])
        if last is None or now - last > DELAY_MS / 2000:
            steps.append(([], []))
        steps[-1][0].append(rec)
        steps[-1][1].extend(pending)
        pending, last = [], now
    return top, " -> ".join(_step(requests, subs) for requests, subs in steps) or "(none)"


def _step(requests: list[dict[str, Any]], subs: list[str]) -> str:
    if not all(r["path"].endswith("/$batch") for r in requests):
        return " + ".join(_short(r) for r in requests)
    changes = "".join(f" {m}" for m in sorted({m for m in subs if m != "GET"}))
    count = f"{len(requests)} x " if len(requests) > 1 else ""
    return f"{count}$batch[{len(subs)}{changes}]"


def sequential(records: list[dict[str, Any]]) -> int:
    """Round trips one after the other: top-level completions more than DELAY/2 apart."""
    times = sorted(_epoch(r["time"]) for r in records
                   if r["path"].startswith(GRAPH_PREFIX) and not r["batch"])
    if not times:
        return 0
    trips = 1
    for before, after in itertools.pairwise(times):
        if after - before > DELAY_MS / 2000:
            trips += 1
    return trips


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repetition instead of 3")
    parser.add_argument("--identity", choices=("app", "manager"), default="app",
                        help="who Graph sees sending a change ([graph] identity)")
    args = parser.parse_args()
    reps = 1 if args.quick else 3
    stack: Stack = start_stack(identity=args.identity, bulk_staff=True)
    try:
        html = html_pages_exist(stack)
        control = await stack.control()
        manager = await stack.manager()
        acts = actions(manager, html=html, bulk=True)
        for _name, (_kind, act) in acts.items():  # warm-up: app token, caches, connections
            await act()
            await act()
        rows = []
        for name, (kind, act) in acts.items():
            tops, trips, desc = [], [], ""
            for _ in range(reps):
                since = await control.last_seq()
                await act()
                records, _ = await control.requests_since(since)
                tops.append(describe(records)[0])
                await control.fault(path=r"^/v1\.0/", latencyMs=DELAY_MS)
                try:
                    since = await control.last_seq()
                    await act()
                    records, _ = await control.requests_since(since)
                finally:
                    await control.clear_faults()
                trips.append(sequential(records))
                desc = describe(records)[1]
            target = 1 if kind == "read" else 2
            if args.identity == "manager" and "password reset" in name:
                target = 3  # resetPassword, then its operation after Retry-After
            if kind == "bulk":
                target = bulk_target(int(re.findall(r"\d+", name)[0]))
            worst = max(trips)
            rows.append((name, kind, max(tops), worst, target,
                         "met" if worst <= target else "MISSED", desc))
        print(f"Sequential Graph round trips per action, {args.identity} mode (fake and proxy "
              f"in separate processes; {reps} repetition(s), worst shown; {env_note()})")
        print(f"{'action':28} {'kind':6} {'requests':>8} {'seq. RT':>7} {'target':>6}  "
              f"{'':6}  what the proxy sent")
        for name, kind, top, trips_, target, verdict, desc in rows:
            print(f"{name:28} {kind:6} {top:8d} {trips_:7d} {target:6d}  {verdict:6}  {desc}")
        if not html:
            print("(the HTML pages do not exist yet: only the JSON API was measured)")
        await stack.close()
    finally:
        stack.stop()


if __name__ == "__main__":
    run(main)
