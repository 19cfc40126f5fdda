"""Graph round trips per action (issue 6; bench/round_trips.py measures them with latency):
a read is one request (one ``$batch`` where several reads are needed), a change is the live
check plus the change itself."""

from __future__ import annotations

from e2e_support import Stack, uid

BASE = "/api/v1/locations/north/staff"


def graph_calls(stack: Stack, since: int) -> list[str]:
    """Top-level Graph requests the proxy sent after ``since`` (a $batch counts once)."""
    records, _ = stack.fake.fake.recorder.since(since)
    return [f"{r.method} {r.path}" for r in records
            if r.path.startswith("/v1.0/") and not r.batch]


async def test_reads_take_one_graph_request_and_changes_two(app_stack: Stack) -> None:
    stack = app_stack
    m = await stack.manager("mgr.upn@e2e.example")
    target = uid("staff2@e2e.example")
    await m.call("GET", BASE)  # the manager's groups are cached from here on
    for path in (f"{BASE}/{target}", BASE, BASE + "?search=st"):
        since = stack.fake.fake.recorder.last_seq
        status, body, _ = await m.call("GET", path)
        assert status == 200, body
        assert len(graph_calls(stack, since)) == 1, (path, graph_calls(stack, since))
    since = stack.fake.fake.recorder.last_seq
    status, body, _ = await m.call("POST", f"{BASE}/{target}/password", {})
    assert status == 200, body
    assert graph_calls(stack, since) == ["POST /v1.0/$batch", f"PATCH /v1.0/users/{target}"]


async def test_html_password_reset_checks_the_target_once(app_stack: Stack) -> None:
    """The page reads the profile, then resets: the same request's snapshot serves both."""
    stack = app_stack
    m = await stack.manager("mgr.upn@e2e.example")
    target = uid("staff2@e2e.example")
    await m.call("GET", BASE)
    since = stack.fake.fake.recorder.last_seq
    async with m.session.post(f"{m.proxy_url}/locations/north/staff/{target}/password",
                              data={"csrf": m.csrf, "mode": "generate"},
                              allow_redirects=False) as resp:
        assert resp.status == 200, await resp.text()
    assert graph_calls(stack, since) == ["POST /v1.0/$batch", f"PATCH /v1.0/users/{target}"]
    # The next request checks afresh: nothing is reused across requests.
    since = stack.fake.fake.recorder.last_seq
    status, body, _ = await m.call("POST", f"{BASE}/{target}/password", {})
    assert status == 200, body
    assert graph_calls(stack, since) == ["POST /v1.0/$batch", f"PATCH /v1.0/users/{target}"]


async def test_phone_changes_read_the_managers_numbers_in_the_check(app_stack: Stack) -> None:
    """Refusing the manager's own numbers costs no round trip: they are read in the live
    check's ``$batch`` (docs/phones.md); a removal carries no number and does not read them."""
    stack = app_stack
    m = await stack.manager("mgr.upn@e2e.example")
    target, manager = uid("staff2@e2e.example"), uid("mgr.upn@e2e.example")
    await m.call("GET", BASE)
    methods = f"/v1.0/users/{target}/authentication/phoneMethods"
    for method, path, body, status, change in (
            ("POST", "phone-methods", {"phoneType": "office", "phoneNumber": "4255550177"},
             201, f"POST {methods}"),
            ("PATCH", "phone-methods/office", {"phoneNumber": "4255550178"}, 200,
             f"PATCH {methods}/"),
            ("DELETE", "phone-methods/office", None, 204, f"DELETE {methods}/")):
        since = stack.fake.fake.recorder.last_seq
        got, answer, _ = await m.call(method, f"{BASE}/{target}/{path}", body)
        assert got == status, answer
        calls = graph_calls(stack, since)
        assert len(calls) == 2 and calls[0] == "POST /v1.0/$batch", calls
        assert calls[1].startswith(change), calls
        records, _ = stack.fake.fake.recorder.since(since)
        reads = {r.path for r in records if r.batch}
        mine = {f"/v1.0/users/{manager}/authentication/phoneMethods", f"/v1.0/users/{manager}"}
        assert (mine <= reads) == (method != "DELETE"), reads
