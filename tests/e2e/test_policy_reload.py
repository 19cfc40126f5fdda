"""The policy file is watched: a change takes effect within seconds, a broken file is refused
and the last good policy stays in force (docs/policy.md), with the failure counted in /metrics."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_checks import error_code, metrics_samples
from e2e_support import Manager, Stack, running_stack, uid

import mystaff_proxy.web.wiring as wiring
from fake_graph.embedded import RunningFake
from mystaff_proxy.policy.runtime import PolicyRuntime

NORTH = "/api/v1/locations/north/staff"
STAFF2 = uid("staff2@e2e.example")


def rewrite(stack: Stack, *replacements: tuple[str, str], text: str | None = None) -> None:
    """Replace the policy file in one step (as an editor or a config tool would)."""
    if text is None:
        text = stack.policy_path.read_text()
        for old, new in replacements:
            assert old in text, old
            text = text.replace(old, new)
    tmp = stack.policy_path.with_suffix(".new")
    tmp.write_text(text)
    os.replace(tmp, stack.policy_path)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 6.0) -> float:
    """Poll ``check`` until it holds; the seconds it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def metrics(stack: Stack) -> dict[str, float]:
    async with aiohttp.ClientSession() as s, s.get(stack.proxy_url + "/metrics") as resp:
        assert resp.status == 200
        return metrics_samples(await resp.text())


async def me_locations(m: Manager) -> list[Any]:
    status, me, _ = await m.call("GET", "/api/v1/me")
    assert status == 200
    return me["locations"]  # type: ignore[no-any-return]


async def test_a_changed_policy_takes_effect_within_seconds(app_stack: Stack) -> None:
    """With the real watcher (every 2 s): grants, a new manager by UPN, a removed manager."""
    stack = app_stack
    viewer = await stack.manager("viewer@e2e.example")
    nobody = await stack.manager("nobody@e2e.example")
    mgr = await stack.manager("mgr.upn@e2e.example")
    reloads = (await metrics(stack))["mystaff_policy_reloads_total"]
    rewrite(stack,
            ('managers: ["viewer@e2e.example"]\n    locations: [north, south]\n    allow: []',
             'managers: ["viewer@e2e.example"]\n    locations: [north, south]\n'
             '    allow: [reset_password]\n'
             '  - managers: ["NOBODY@e2e.example"]\n    locations: [south]\n'
             '    allow: [manage_phone]'),
            ('managers: ["mgr.upn@e2e.example"]', 'managers: ["mgr.oid@e2e.example"]'))

    async def viewer_may_reset() -> bool:
        return bool((await me_locations(viewer))[0]["actions"] == ["reset_password"])

    assert await eventually(viewer_may_reset) < 6
    status, body, _ = await viewer.call("POST", f"{NORTH}/{STAFF2}/password", {})
    assert status == 200 and stack.fake_user("staff2@e2e.example").password == \
        body["temporaryPassword"]
    status, body, _ = await viewer.call("POST", f"{NORTH}/{STAFF2}/phone-methods",
                                        {"phoneType": "office", "phoneNumber": "4255550100"})
    assert (status, error_code(body)) == (403, "forbidden")
    # a manager named by UPN (in another case) is resolved to its object id on reload
    assert await me_locations(nobody) == [{"id": "south", "name": "South store",
                                           "actions": ["manage_phone"]}]
    status, body, _ = await nobody.call("GET", f"/api/v1/locations/south/staff/"
                                        f"{uid('south1@e2e.example')}")
    assert status == 200 and body["actions"] == ["manage_phone"]
    # a removed manager loses access at once, session or not
    status, body, _ = await mgr.call("GET", "/api/v1/locations")
    assert (status, error_code(body)) == (403, "insufficient_permissions")
    status, body, _ = await mgr.call("POST", f"{NORTH}/{STAFF2}/password", {})
    assert (status, error_code(body)) == (403, "insufficient_permissions")
    assert (await metrics(stack))["mystaff_policy_reloads_total"] == reloads + 1


@pytest.fixture
async def fast_stack(e2e_fake: RunningFake, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> Any:
    """A stack whose policy watcher looks every 0.2 s instead of 2 s."""
    monkeypatch.setattr(wiring, "PolicyRuntime",
                        functools.partial(PolicyRuntime, check_interval=0.2))
    async with running_stack(e2e_fake, tmp_path) as stack:
        yield stack


async def test_a_broken_policy_leaves_the_old_rules_in_force(fast_stack: Stack) -> None:
    stack = fast_stack
    mgr = await stack.manager("mgr.upn@e2e.example")
    viewer = await stack.manager("viewer@e2e.example")
    good = stack.policy_path.read_text()
    broken = [
        "version: 1\nlocations: [\n",
        "",
        good.replace("allow: [reset_password, manage_phone]", "allow: [delete_user]", 1),
        good.replace("locations: [north]", "locations: [nowhere]", 1),
        good.replace("version: 1", "version: 1\nextra_key: true"),
        good + "\nprotected:\n  admins: false\n",  # a duplicate key
    ]
    for text in broken:
        failures = (await metrics(stack))["mystaff_policy_reload_failures_total"]
        rewrite(stack, text=text)

        async def refused(before: float = failures) -> bool:
            return (await metrics(stack))["mystaff_policy_reload_failures_total"] > before

        await eventually(refused)
        # the old rules are still the rules
        status, body, _ = await mgr.call("POST", f"{NORTH}/{STAFF2}/password", {})
        assert status == 200, (text[:40], body)
        status, body, _ = await viewer.call("POST", f"{NORTH}/{STAFF2}/password", {})
        assert (status, error_code(body)) == (403, "forbidden")
        assert [loc["id"] for loc in await me_locations(viewer)] == ["north", "south"]
        async with aiohttp.ClientSession() as s, s.get(stack.proxy_url + "/readyz") as resp:
            assert resp.status == 200
    # and a good file after the broken ones takes effect
    rewrite(stack, text=good.replace("allow: []", "allow: [manage_phone]"))

    async def viewer_may_manage_phones() -> bool:
        return bool((await me_locations(viewer))[0]["actions"] == ["manage_phone"])

    await eventually(viewer_may_manage_phones)


async def test_a_deleted_policy_file_leaves_the_old_rules_in_force(fast_stack: Stack) -> None:
    stack = fast_stack
    mgr = await stack.manager("mgr.upn@e2e.example")
    viewer = await stack.manager("viewer@e2e.example")
    good = stack.policy_path.read_text()
    failures = (await metrics(stack))["mystaff_policy_reload_failures_total"]
    stack.policy_path.unlink()

    async def refused() -> bool:
        return (await metrics(stack))["mystaff_policy_reload_failures_total"] == failures + 1

    await eventually(refused)
    await asyncio.sleep(0.6)  # three more checks: the same problem is counted (and logged) once
    assert (await metrics(stack))["mystaff_policy_reload_failures_total"] == failures + 1
    status, body, _ = await mgr.call("POST", f"{NORTH}/{STAFF2}/password", {})
    assert status == 200, body
    status, body, _ = await viewer.call("POST", f"{NORTH}/{STAFF2}/password", {})
    assert (status, error_code(body)) == (403, "forbidden")
    async with aiohttp.ClientSession() as s, s.get(stack.proxy_url + "/readyz") as resp:
        assert resp.status == 200  # serving on the last good policy
    # The file back, with a change: it takes effect.
    rewrite(stack, text=good.replace("allow: []", "allow: [manage_phone]"))

    async def viewer_may_manage_phones() -> bool:
        return bool((await me_locations(viewer))[0]["actions"] == ["manage_phone"])

    await eventually(viewer_may_manage_phones)


async def test_a_policy_file_replaced_by_the_same_text_after_deletion_is_loaded(
        fast_stack: Stack) -> None:
    stack = fast_stack
    good = stack.policy_path.read_text()
    reloads = (await metrics(stack))["mystaff_policy_reloads_total"]
    stack.policy_path.unlink()
    failures = (await metrics(stack))["mystaff_policy_reload_failures_total"]

    async def refused() -> bool:
        return (await metrics(stack))["mystaff_policy_reload_failures_total"] > failures

    await eventually(refused)
    stack.policy_path.write_text(good)

    async def reloaded() -> bool:
        return (await metrics(stack))["mystaff_policy_reloads_total"] > reloads

    await eventually(reloaded)
