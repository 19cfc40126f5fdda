"""/healthz, /readyz and /metrics (SPEC §7.4)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
from e2e_checks import bearer_call, drop_app_token, error_code, metrics_samples, user_token
from e2e_support import Stack, running_stack, uid

from fake_graph.embedded import RunningFake
from fake_graph.server import Fault

NORTH = "/api/v1/locations/north/staff"


async def get(stack: Stack, path: str) -> tuple[int, Any, dict[str, str]]:
    async with aiohttp.ClientSession() as s, s.get(stack.proxy_url + path) as resp:
        body = await (resp.json() if resp.content_type == "application/json" else resp.text())
        return resp.status, body, dict(resp.headers)


async def test_healthz_and_readyz_when_all_is_well(stack: Stack) -> None:
    assert (await get(stack, "/healthz"))[:2] == (200, {"status": "ok"})
    assert (await get(stack, "/readyz"))[:2] == (200, {"status": "ready"})


async def test_readyz_without_a_graph_token(e2e_fake: RunningFake, tmp_path: Path) -> None:
    """A wrong client secret: alive, not ready, and the reason says why; the API fails closed."""
    async with running_stack(e2e_fake, tmp_path, app={"client_secret": "wrong"}) as stack:
        assert (await get(stack, "/healthz"))[0] == 200
        status, body, _ = await get(stack, "/readyz")
        assert status == 503 and body["status"] == "not ready"
        assert any("Graph token" in r for r in body["reasons"])
        assert "wrong" not in str(body)
        # a valid bearer token still cannot get anything done
        token = await user_token(stack, "mgr.upn@e2e.example")
        before = stack.fake_user("staff2@e2e.example").password
        cases: list[tuple[str, str, Any]] = [
            ("GET", "/api/v1/locations", None),
            ("POST", f"{NORTH}/{uid('staff2@e2e.example')}/password", {}),
        ]
        for method, path, payload in cases:
            status, data, _ = await bearer_call(stack, token, method, path, payload)
            assert (status, error_code(data)) == (503, "upstream_unavailable")
        assert stack.fake_user("staff2@e2e.example").password == before


async def test_readyz_when_the_token_endpoint_fails(stack: Stack) -> None:
    await drop_app_token(stack)
    stack.fake.fake.faults.add(Fault(path=re.compile(r"/oauth2/v2\.0/token$"), status=400))
    status, body, _ = await get(stack, "/readyz")
    assert status == 503 and any("Graph token" in r for r in body["reasons"])
    stack.fake.fake.faults.clear()
    status, body, _ = await get(stack, "/readyz")
    assert status == 200


async def test_metrics_count_requests_and_graph_calls(stack: Stack) -> None:
    m = await stack.manager("mgr.upn@e2e.example")
    status, text, headers = await get(stack, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    before = metrics_samples(text)
    staff1 = uid("staff1@e2e.example")
    for _ in range(3):
        assert (await m.call("GET", f"{NORTH}/{staff1}"))[0] == 200
    assert (await m.call("GET", f"{NORTH}/{uid('south1@e2e.example')}"))[0] == 404
    stack.fake.fake.faults.add(Fault(path=re.compile(r"^/v1\.0/\$batch$"), status=500,
                                     count=1))
    assert (await m.call("GET", f"{NORTH}/{staff1}"))[0] == 503
    assert (await m.call("GET", "/api/v1/nothing-here"))[0] == 404
    after = metrics_samples((await get(stack, "/metrics"))[1])

    def delta(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    route = "/api/v1/locations/{loc}/staff/{userId}"
    assert delta(f'mystaff_http_requests_total{{route="{route}",method="GET",status="200"}}') == 3
    assert delta(f'mystaff_http_requests_total{{route="{route}",method="GET",status="404"}}') == 1
    assert delta(f'mystaff_http_requests_total{{route="{route}",method="GET",status="503"}}') == 1
    assert delta(f'mystaff_http_request_seconds_count{{route="{route}"}}') == 5
    assert delta('mystaff_http_requests_total{route="unmatched",method="GET",status="404"}') == 1
    assert delta('mystaff_graph_calls_total{operation="fetch_target",outcome="ok"}') == 4
    assert delta('mystaff_graph_calls_total{operation="fetch_target",outcome="error"}') == 1
    assert "mystaff_policy_reload_failures_total" in after
    assert after["mystaff_policy_reloads_total"] >= 1
    # histogram buckets are cumulative and end at the count
    buckets = [v for k, v in after.items()
               if k.startswith(f'mystaff_http_request_seconds_bucket{{route="{route}"')]
    assert buckets == sorted(buckets)
    assert buckets[-1] == after[f'mystaff_http_request_seconds_count{{route="{route}"}}']
