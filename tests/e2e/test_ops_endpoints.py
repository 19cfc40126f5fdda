"""/healthz, /readyz and /metrics (docs/api.md, operations)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
from e2e_checks import bearer_call, drop_app_token, error_code, metrics_samples, user_token
from e2e_support import Stack, running_stack, uid

from fake_graph.embedded import RunningFake
from fake_graph.faults import Fault

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
    assert delta(f'mystaff_http_requests_total{{method="GET",route="{route}",status="200"}}') == 3
    assert delta(f'mystaff_http_requests_total{{method="GET",route="{route}",status="404"}}') == 1
    assert delta(f'mystaff_http_requests_total{{method="GET",route="{route}",status="503"}}') == 1
    assert delta(f'mystaff_http_request_seconds_count{{route="{route}"}}') == 5
    assert delta('mystaff_http_requests_total{method="GET",route="unmatched",status="404"}') == 1
    assert delta('mystaff_graph_calls_total{operation="fetch_target",outcome="ok"}') == 4
    assert delta('mystaff_graph_calls_total{operation="fetch_target",outcome="error"}') == 1
    assert "mystaff_policy_reload_failures_total" in after
    assert after["mystaff_policy_reloads_total"] >= 1
    # histogram buckets are cumulative and end at the count
    buckets = [v for k, v in sorted(
        ((k, v) for k, v in after.items() if k.startswith("mystaff_http_request_seconds_bucket{")
         and f'route="{route}"' in k),
        key=lambda kv: float(re.search(r'le="([^"]+)"', kv[0]).group(1)))]
    assert buckets == sorted(buckets)
    assert buckets[-1] == after[f'mystaff_http_request_seconds_count{{route="{route}"}}']


# -- who may read /metrics -------------------------------------------------------------------

async def _scrape(stack: Stack, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, \
            s.get(stack.proxy_url + "/metrics", headers=headers or {}) as resp:
        return resp.status, await resp.text()


async def test_without_a_token_metrics_are_for_this_machine_only(stack: Stack) -> None:
    """Counts of resets and refusals are business activity. A loopback peer may read them,
    unless a reverse proxy relayed it (which makes every outside client a loopback peer)."""
    status, text = await _scrape(stack)
    assert status == 200 and "mystaff_http_requests_total" in text
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host"):
        status, text = await _scrape(stack, {header: "203.0.113.9"})
        assert status == 403 and "metrics_token" in text and "mystaff_" not in text


async def test_metrics_from_another_machine_are_refused_without_a_token(stack: Stack) -> None:
    """The peer is not loopback (aiohttp's own request, cloned with another address)."""
    from aiohttp.test_utils import make_mocked_request

    from mystaff_proxy.web.ops_routes import metrics

    request = make_mocked_request("GET", "/metrics", app=stack.app).clone(remote="192.0.2.7")
    assert (await metrics(request)).status == 403
    request = make_mocked_request("GET", "/metrics", app=stack.app).clone(remote="127.0.0.1")
    assert (await metrics(request)).status == 200


async def test_with_a_token_metrics_need_it_from_anywhere(e2e_fake: RunningFake,
                                                          tmp_path: Path) -> None:
    token = "m" * 12 + "-token-1234"
    async with running_stack(e2e_fake, tmp_path, server={"metrics_token": token}) as stack:
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"},
                        {"Authorization": token}, {"Authorization": f"Basic {token}"},
                        {"Authorization": f"Bearer {token}x"}):
            status, text = await _scrape(stack, headers)
            assert status == 401 and "mystaff_" not in text, headers
        status, text = await _scrape(stack, {"Authorization": f"Bearer {token}",
                                             "X-Forwarded-For": "203.0.113.9"})
        assert status == 200 and "process_resident_memory_bytes" in text


async def test_made_up_methods_share_one_series(stack: Stack) -> None:
    """aiohttp's pure-Python parser takes any token for a method (the C parser knows ~40,
    WebDAV's among them): each kept a series of its own, for ever. Now they are ``other``,
    and the route is the route's template, never the raw path."""
    import asyncio
    from urllib.parse import urlsplit

    from mystaff_proxy.metrics import KNOWN_METHODS

    port = urlsplit(stack.proxy_url).port
    methods = ["PROPFIND", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "PURGE",
               "REPORT", "MKCALENDAR", "M1X", "BREW"]
    for i, method in enumerate(methods):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"{method} /api/v1/locations/north/staff/x{i} HTTP/1.1\r\n"
                     "Host: x\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        assert (await reader.read(100)).split(b" ")[1] in (b"400", b"405")  # 400: C parser
        writer.close()
        await writer.wait_closed()
    _, text = await _scrape(stack)
    samples = metrics_samples(text)
    assert not [k for k in samples if "/x1" in k]
    seen = {m for k in samples if k.startswith("mystaff_http_requests_total{")
            for m in re.findall(r'method="([^"]*)"', k)}
    assert seen <= KNOWN_METHODS | {"other"}
    others = [v for k, v in samples.items()
              if k.startswith("mystaff_http_requests_total{") and 'method="other"' in k]
    assert sum(others) >= 10  # the WebDAV ones reached the application
