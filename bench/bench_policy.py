"""Policy load + resolve time at scale, and the cost of one authorization decision.

Run: ``/work/venv/bin/python bench/bench_policy.py [--assignments 20000] [--locations 5000]``.
Prints figures only (no asserts): the same seed gives the same policy, so runs compare.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid

from mystaff_proxy.policy.decide import ActionRequest, TargetFacts, decide
from mystaff_proxy.policy.model import policy_names
from mystaff_proxy.policy.parse import parse_policy
from mystaff_proxy.policy.resolve import resolve


def guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_policy(assignments: int, locations: int, seed: int = 1) -> tuple[str, dict[str, str]]:
    """Policy YAML (block style, as IT writes it) and the UPN → oid answers Graph would give."""
    rng = random.Random(seed)
    lines = ["version: 1", "locations:"]
    for i in range(locations):
        lines += [f"  store-{i:05d}:", f"    administrative_unit: \"{guid(rng)}\"",
                  f"    name: \"Store {i}\""]
    lines.append("assignments:")
    upns: dict[str, str] = {}
    groups = [guid(rng) for _ in range(max(1, assignments // 20))]
    for i in range(assignments):
        upn = f"manager{i:05d}@contoso.example"
        upns[upn] = guid(rng)
        locs = ", ".join(f"store-{rng.randrange(locations):05d}" for _ in range(rng.randint(1, 3)))
        lines += [f"  - managers: [{upn}, \"{guid(rng)}\"]",
                  f"    manager_groups: [\"{rng.choice(groups)}\"]",
                  f"    locations: [{locs}]",
                  "    allow: [reset_password, manage_phone]"]
    lines += ["protected:", "  admins: true", f"  groups: [\"{guid(rng)}\"]",
              "password:", "  length: 16"]
    return "\n".join(lines) + "\n", upns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--assignments", type=int, default=20_000)
    ap.add_argument("--locations", type=int, default=5_000)
    ap.add_argument("--decisions", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    text, upns = build_policy(args.assignments, args.locations)
    print(f"policy: {args.assignments} assignments, {args.locations} locations, "
          f"{len(text) / 1e6:.1f} MB of YAML")
    parse_s, resolve_s = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        policy = parse_policy(text, "bench.yaml")
        t1 = time.perf_counter()
        names = policy_names(policy)
        resolved = resolve(policy, upns)
        t2 = time.perf_counter()
        parse_s.append(t1 - t0)
        resolve_s.append(t2 - t1)
    print(f"parse:   median {statistics.median(parse_s) * 1000:8.1f} ms")
    print(f"resolve: median {statistics.median(resolve_s) * 1000:8.1f} ms "
          f"({len(names.upns)} UPNs, {len(resolved.by_oid)} manager ids, "
          f"{len(resolved.by_group)} groups)")
    total = statistics.median(a + b for a, b in zip(parse_s, resolve_s, strict=True))
    print(f"total:   median {total * 1000:8.1f} ms")

    manager = upns["manager00042@contoso.example"]
    group_ids = frozenset([*names.group_ids[:3], *(str(uuid.uuid4()) for _ in range(40))])
    t0 = time.perf_counter()
    for _ in range(args.decisions // 10):
        grants = resolved.locations_for_manager(manager, group_ids)
    lookup_us = (time.perf_counter() - t0) / (args.decisions // 10) * 1e6
    location = next(iter(grants))
    facts = TargetFacts(
        target_id=str(uuid.uuid4()), target_upn="bob@contoso.example", is_member=True,
        role_template_ids=frozenset(), holds_scoped_role=False, in_role_assignable_group=False,
        group_ids=frozenset(str(uuid.uuid4()) for _ in range(20)))
    request = ActionRequest(manager_oid=manager, grants=grants, location=location,
                            action="reset_password")
    t0 = time.perf_counter()
    for _ in range(args.decisions):
        decision = decide(request, facts, resolved.protection)
    decide_us = (time.perf_counter() - t0) / args.decisions * 1e6
    print(f"locations_for_manager: {lookup_us:6.2f} µs per lookup "
          f"({len(group_ids)} groups, {len(grants)} locations)")
    print(f"decide:                {decide_us:6.2f} µs per decision "
          f"({args.decisions} decisions, last: {decision})")


if __name__ == "__main__":
    main()
