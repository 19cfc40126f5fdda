"""$batch (limits, dependsOn, 424, per-request status) and injected faults (status, count,
latency, Retry-After), at top level and inside batches; recording of sub-requests."""

from __future__ import annotations

import re
import time
from typing import Any

from graph_support import (
    PROXY_APP,
    Served,
    app_token,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
)

from fake_graph.faults import Fault

BOB = uid("bob@contoso.test")
FRANK = uid("frank@contoso.test")


def get(rid: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": rid, "method": "GET", "url": url} | extra


async def batch(served: Served, requests: list[dict[str, Any]]) -> tuple[int, Any]:
    status, body, _ = await served.call("POST", "/$batch", token=app_token(served.fake),
                                        json={"requests": requests})
    return status, body


def by_id(body: Any) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in body["responses"]}


async def test_per_request_status_and_any_order(served: Served) -> None:
    status, body = await batch(served, [
        get("1", f"/users/{BOB}"), get("2", "users/nobody@contoso.test"),
        get("3", f"/users/{BOB}/authentication/phoneMethods")])
    assert status == 200
    responses = by_id(body)
    assert {k: v["status"] for k, v in responses.items()} == {"1": 200, "2": 404, "3": 200}
    assert responses["1"]["body"]["userPrincipalName"] == "bob@contoso.test"
    assert responses["2"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert responses["1"]["headers"]["Content-Type"].startswith("application/json")
    assert [r["id"] for r in body["responses"]] != ["1", "2", "3"]  # clients must match by id


async def test_at_most_20_requests(served: Served) -> None:
    status, _ = await batch(served, [get(str(n), f"/users/{BOB}") for n in range(20)])
    assert status == 200
    status, body = await batch(served, [get(str(n), f"/users/{BOB}") for n in range(21)])
    assert status == 400 and body["error"]["code"] == "BadRequest"
    assert body["error"]["message"] == ("Number of included requests in the request body must "
                                        "not exceed 20.")


async def test_malformed_batches_fail_whole(served: Served) -> None:
    bad = [
        [get("1", f"/users/{BOB}"), get("1", f"/users/{BOB}")],  # duplicate id
        [get("1", f"/users/{BOB}", dependsOn=["9"])],  # unknown dependency
        [get("1", f"/users/{BOB}", dependsOn=["2"]), get("2", "/users", dependsOn=["1"])],
        [{"id": "1", "method": "PATCH", "url": f"/users/{BOB}", "body": {"jobTitle": "x"}}],
        [],
    ]
    for requests in bad:
        status, body = await batch(served, requests)
        assert status == 400, requests
        assert body["error"]["code"] == "BadRequest"


async def test_depends_on_order_and_424(served: Served) -> None:
    phones = f"/users/{FRANK}/authentication/phoneMethods"
    json_header = {"Content-Type": "application/json"}
    status, body = await batch(served, [
        {"id": "add", "method": "POST", "url": phones, "headers": json_header,
         "body": {"phoneNumber": "+1 2065550150", "phoneType": "mobile"}},
        get("read", phones, dependsOn=["add"]),
        {"id": "again", "method": "POST", "url": phones, "headers": json_header,
         "body": {"phoneNumber": "+1 2065550151", "phoneType": "mobile"},
         "dependsOn": ["read"]},
        get("after-failure", phones, dependsOn=["again"]),
    ])
    assert status == 200
    responses = by_id(body)
    assert responses["add"]["status"] == 201
    assert [p["phoneNumber"] for p in responses["read"]["body"]["value"]] == ["+1 2065550150"]
    assert responses["again"]["status"] == 409
    assert responses["after-failure"]["status"] == 424


async def test_sub_requests_are_recorded_and_faulted(served: Served) -> None:
    since = served.fake.recorder.last_seq
    served.fake.faults.add(Fault(path=re.compile(r"/users/[^/]+/authentication/phoneMethods$"),
                                 method="GET", status=429, retry_after=7, count=1))
    status, body = await batch(served, [
        get("1", f"/users/{BOB}/authentication/phoneMethods"),
        get("2", f"/users/{BOB}?$select=id")])
    assert status == 200
    responses = by_id(body)
    assert responses["1"]["status"] == 429
    assert responses["1"]["headers"]["Retry-After"] == "7"
    assert responses["1"]["body"]["error"]["code"] == "TooManyRequests"
    assert responses["2"]["status"] == 200
    records, _ = served.fake.recorder.since(since)
    summary = sorted((r.path, r.query, r.status, r.batch, r.client_id) for r in records)
    assert summary == [
        ("/v1.0/$batch", "", 200, False, PROXY_APP),
        (f"/v1.0/users/{BOB}", "$select=id", 200, True, PROXY_APP),
        (f"/v1.0/users/{BOB}/authentication/phoneMethods", "", 429, True, PROXY_APP),
    ]


async def test_independent_sub_requests_run_concurrently(served: Served) -> None:
    served.fake.faults.add(Fault(path=re.compile(r"/users/"), latency_ms=300))
    started = time.perf_counter()
    status, body = await batch(served, [get(str(n), f"/users/{BOB}") for n in range(5)])
    elapsed = time.perf_counter() - started
    assert status == 200 and all(r["status"] == 200 for r in body["responses"])
    assert 0.3 <= elapsed < 1.2


async def test_nested_batch_is_refused(served: Served) -> None:
    status, body = await batch(served, [{"id": "1", "method": "POST", "url": "/$batch",
                                         "headers": {"Content-Type": "application/json"},
                                         "body": {"requests": []}}])
    assert status == 200
    assert by_id(body)["1"]["status"] == 400


async def test_fault_status_count_and_retry_after(served: Served) -> None:
    token = app_token(served.fake)
    served.fake.faults.add(Fault(path=re.compile(r"^/v1\.0/users/"), status=503,
                                 retry_after=2, count=2))
    for _ in range(2):
        status, body, headers = await served.call("GET", f"/users/{BOB}", token=token)
        assert (status, body["error"]["code"], headers["Retry-After"]) == (
            503, "serviceNotAvailable", "2")
    status, _, _ = await served.call("GET", f"/users/{BOB}", token=token)
    assert status == 200
    assert len(served.fake.faults) == 0


async def test_fault_method_filter_and_latency(served: Served) -> None:
    token = app_token(served.fake)
    served.fake.faults.add(Fault(path=re.compile("phoneMethods"), method="POST", status=500))
    served.fake.faults.add(Fault(path=re.compile(r"/users/"), method="GET", latency_ms=200,
                                 count=1))
    started = time.perf_counter()
    status, _, _ = await served.call("GET", f"/users/{BOB}/authentication/phoneMethods",
                                     token=token)
    assert status == 200 and time.perf_counter() - started >= 0.2
    status, body, _ = await served.call("POST", f"/users/{FRANK}/authentication/phoneMethods",
                                        token=token, json={"phoneNumber": "+1 2065550100",
                                                           "phoneType": "mobile"})
    assert (status, body["error"]["code"]) == (500, "generalException")
    assert served.fake.directory.users[FRANK].phones == {}
