"""The ``reset`` and ``malformed`` fault kinds and ``after`` faults, at top level, inside
``$batch`` and on the identity endpoints (the ``status`` kind: test_graph_batch, test_control).

A reset must look to a client like a server that vanished mid-request (aiohttp raises
ServerDisconnectedError / ClientOSError, requests a ConnectionError), never like an HTTP
answer; a malformed answer is a 2xx with a JSON content type that no JSON parser accepts.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest
import requests
from graph_support import (
    Served,
    app_token,
    load_fake,
    served_fixture,  # noqa: F401  (the "served" fixture)
    uid,
)
from identity_support import session

from fake_graph import demo
from fake_graph.control import parse_fault
from fake_graph.embedded import RunningFake, run_fake
from fake_graph.faults import RESET_STATUS, Fault

BOB = uid("bob@contoso.test")
FRANK = uid("frank@contoso.test")
PROFILE = {"passwordProfile": {"password": "Tmp-4xQ9-wLp2", "forceChangePasswordNextSignIn": True}}
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


async def raw(served: Served, method: str, path: str, json_body: Any = None
              ) -> tuple[int, str, bytes]:
    """One Graph request as the app; status, content type and the body exactly as sent."""
    headers = {"Authorization": f"Bearer {app_token(served.fake)}"}
    async with served.session.request(method, served.graph + path, json=json_body,
                                      headers=headers) as resp:
        return resp.status, resp.content_type, await resp.read()


def not_json(data: bytes | str) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return True
    return False


def fault(path: str, **kwargs: Any) -> Fault:
    return Fault(path=re.compile(path), **kwargs)


# -- Graph, top level ------------------------------------------------------------------------

async def test_a_reset_drops_the_connection_and_changes_nothing(served: Served) -> None:
    since = served.fake.recorder.last_seq
    served.fake.faults.add(fault(rf"^/v1\.0/users/{BOB}$", method="PATCH", kind="reset",
                                 count=1))
    before = served.fake.directory.users[BOB].password
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await raw(served, "PATCH", f"/users/{BOB}", PROFILE)
    assert served.fake.directory.users[BOB].password == before  # applied before the handler
    records, _ = served.fake.recorder.since(since)
    assert [(r.method, r.status) for r in records] == [("PATCH", RESET_STATUS)]
    # count=1: the next request is served normally, on a new connection
    status, _, _ = await raw(served, "PATCH", f"/users/{BOB}", PROFILE)
    assert status == 204 and served.fake.directory.users[BOB].password == "Tmp-4xQ9-wLp2"


async def test_a_reset_after_the_handler_loses_only_the_answer(served: Served) -> None:
    served.fake.faults.add(fault(rf"^/v1\.0/users/{BOB}$", method="PATCH", kind="reset",
                                 after=True))
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await raw(served, "PATCH", f"/users/{BOB}", PROFILE)
    user = served.fake.directory.users[BOB]
    assert (user.password, user.force_change_password_next_sign_in) == ("Tmp-4xQ9-wLp2", True)


async def test_a_malformed_answer_is_json_typed_but_not_json(served: Served) -> None:
    served.fake.faults.add(fault(rf"^/v1\.0/users/{BOB}$", method="GET", kind="malformed"))
    status, content_type, body = await raw(served, "GET", f"/users/{BOB}")
    assert (status, content_type) == (200, "application/json")
    assert body and not_json(body)
    served.fake.faults.clear()
    served.fake.faults.add(fault(r"/phoneMethods$", method="POST", kind="malformed",
                                 status=201))
    status, _, body = await raw(served, "POST", f"/users/{FRANK}/authentication/phoneMethods",
                                {"phoneNumber": "+1 2065550100", "phoneType": "mobile"})
    assert status == 201 and not_json(body)
    assert served.fake.directory.users[FRANK].phones == {}  # nothing was done


async def test_a_malformed_answer_after_the_handler_is_the_real_one_cut_short(
        served: Served) -> None:
    _, _, real = await raw(served, "GET", f"/users/{BOB}/authentication/phoneMethods")
    served.fake.faults.add(fault(r"/phoneMethods$", kind="malformed", after=True))
    status, _, body = await raw(served, "GET", f"/users/{BOB}/authentication/phoneMethods")
    assert status == 200 and not_json(body)
    assert real.startswith(body) and len(body) < len(real)
    status, _, body = await raw(served, "POST", f"/users/{FRANK}/authentication/phoneMethods",
                                {"phoneNumber": "+1 2065550100", "phoneType": "mobile"})
    assert status == 201 and not_json(body)
    assert [p.number for p in served.fake.directory.users[FRANK].phones.values()] == [
        "+1 2065550100"]  # the POST took effect; its answer did not arrive intact


async def test_a_status_after_the_handler_reports_an_error_for_a_done_change(
        served: Served) -> None:
    served.fake.faults.add(fault(rf"^/v1\.0/users/{BOB}$", method="PATCH", status=504,
                                 after=True))
    status, _, body = await raw(served, "PATCH", f"/users/{BOB}", PROFILE)
    assert status == 504 and json.loads(body)["error"]["code"] == "gatewayTimeout"
    assert served.fake.directory.users[BOB].password == "Tmp-4xQ9-wLp2"


# -- inside $batch ---------------------------------------------------------------------------

def get(rid: str, url: str) -> dict[str, Any]:
    return {"id": rid, "method": "GET", "url": url}


async def test_a_reset_sub_request_aborts_the_whole_batch(served: Served) -> None:
    since = served.fake.recorder.last_seq
    served.fake.faults.add(fault(r"/phoneMethods$", method="GET", kind="reset"))
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await raw(served, "POST", "/$batch", {"requests": [
            get("1", f"/users/{BOB}/authentication/phoneMethods"),
            get("2", f"/users/{BOB}?$select=id")]})
    records, _ = served.fake.recorder.since(since)
    summary = sorted((r.path, r.status, r.batch) for r in records)
    assert summary == [
        ("/v1.0/$batch", RESET_STATUS, False),
        (f"/v1.0/users/{BOB}", 200, True),  # the sibling ran; its answer went down with it
        (f"/v1.0/users/{BOB}/authentication/phoneMethods", RESET_STATUS, True),
    ]


async def test_a_malformed_sub_request_has_a_broken_body_in_a_good_envelope(
        served: Served) -> None:
    served.fake.faults.add(fault(r"/phoneMethods$", method="GET", kind="malformed"))
    status, _, body = await raw(served, "POST", "/$batch", {"requests": [
        get("1", f"/users/{BOB}/authentication/phoneMethods"),
        get("2", f"/users/{BOB}?$select=id")]})
    assert status == 200
    responses = {r["id"]: r for r in json.loads(body)["responses"]}
    broken = responses["1"]
    assert broken["status"] == 200
    assert broken["headers"]["Content-Type"].startswith("application/json")
    assert isinstance(broken["body"], str) and not_json(broken["body"])
    assert responses["2"]["body"]["id"] == BOB


# -- identity endpoints and the control API --------------------------------------------------

def token(running: RunningFake) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_id": demo.CLIENT_ID,
            "client_secret": demo.CLIENT_SECRET, "scope": GRAPH_DEFAULT}
    return session(running).post(f"{running.authority}/oauth2/v2.0/token", data=data,
                                 timeout=10)


def add(running: RunningFake, **body: Any) -> requests.Response:
    return session(running).post(f"{running.url}/_fake/faults", json=body, timeout=10)


def test_identity_reset_and_malformed_over_the_control_api(
        fake_graph_server: RunningFake) -> None:
    added = add(fake_graph_server, path="/oauth2/v2.0/token$", kind="reset", count=1)
    assert added.status_code == 201
    assert added.json() == {
        "path": "/oauth2/v2.0/token$", "method": None, "status": None, "retryAfter": None,
        "count": 1, "latencyMs": 0, "kind": "reset", "after": False}
    since = fake_graph_server.fake.recorder.last_seq
    with pytest.raises(requests.ConnectionError):
        token(fake_graph_server)
    records, _ = fake_graph_server.fake.recorder.since(since)
    assert [r.status for r in records] == [RESET_STATUS]
    assert add(fake_graph_server, path="/oauth2/v2.0/token$", kind="malformed",
               count=1).status_code == 201
    broken = token(fake_graph_server)
    assert broken.status_code == 200
    assert broken.headers["Content-Type"].startswith("application/json")
    assert not_json(broken.content)
    assert "access_token" in token(fake_graph_server).json()  # both faults were used up


def test_an_identity_malformed_fault_after_the_handler(fake_graph_server: RunningFake) -> None:
    add(fake_graph_server, path="/discovery/v2.0/keys$", kind="malformed", after=True)
    url = f"{fake_graph_server.authority}/discovery/v2.0/keys"
    broken = session(fake_graph_server).get(url, timeout=10)
    assert broken.status_code == 200 and not_json(broken.content)
    assert broken.content.startswith(b'{"keys"')  # the real key set, cut short


@pytest.mark.parametrize("body", [
    {"path": "x", "kind": "boom"}, {"path": "x", "kind": "reset", "status": 500},
    {"path": "x", "after": "yes"}, {"path": "x", "after": True}, {"path": "x", "kind": 1},
])
def test_bad_kind_and_after_are_refused(fake_graph_server: RunningFake, body: Any) -> None:
    response = add(fake_graph_server, **body)
    assert response.status_code == 400 and response.json()["error"]["message"]
    with pytest.raises(ValueError):
        parse_fault(body)


def test_parsed_kinds() -> None:
    assert parse_fault({"path": "x"}).kind == "status"
    malformed = parse_fault({"path": "x", "kind": "malformed", "status": 500, "after": True})
    assert (malformed.kind, malformed.status, malformed.after) == ("malformed", 500, True)
    assert parse_fault({"path": "x", "kind": "reset", "latencyMs": 50}).latency_ms == 50


# -- requests in progress ----------------------------------------------------------------------

async def test_a_request_the_client_gave_up_on_counts_until_it_is_recorded() -> None:
    """``in_progress`` (what a test waits on before reading the recorder) counts a request
    from its arrival until its record, also after its client timed out and left. Served as
    ``run_fake`` serves (aiohttp's TestServer would cancel the handler instead)."""
    fake = load_fake()
    fake.faults.add(fault(f"/users/{BOB}$", method="PATCH", kind="reset", after=True,
                          latency_ms=300))
    headers = {"Authorization": f"Bearer {app_token(fake)}"}
    async with run_fake(fake=fake, tls=False) as running, aiohttp.ClientSession() as http:
        seq = fake.recorder.last_seq
        assert fake.in_progress == 0
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await http.patch(f"{running.graph_url}/users/{BOB}", json=PROFILE,
                                 headers=headers)
        assert fake.in_progress == 1
        assert not [r for r in fake.recorder.since(seq)[0] if r.method == "PATCH"]
        for _ in range(100):
            if not fake.in_progress:
                break
            await asyncio.sleep(0.01)
        assert fake.in_progress == 0
        patches = [r for r in fake.recorder.since(seq)[0] if r.method == "PATCH"]
        assert [r.status for r in patches] == [RESET_STATUS]
