"""``/_fake`` test control over a real socket (docs/fake_graph.md, "Test control")."""

from __future__ import annotations

import time
from typing import Any

import msal
import pytest
import requests
from identity_support import REDIRECT_URI, redirect_params, session, sign_in

from fake_graph import demo
from fake_graph.control import parse_fault
from fake_graph.embedded import RunningFake

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def control(running: RunningFake, method: str, path: str, **kwargs: Any) -> requests.Response:
    return session(running).request(method, f"{running.url}/_fake{path}", timeout=10, **kwargs)


def token(running: RunningFake, **extra: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_id": demo.CLIENT_ID,
            "client_secret": demo.CLIENT_SECRET, "scope": GRAPH_DEFAULT} | extra
    return session(running).post(f"{running.authority}/oauth2/v2.0/token", data=data,
                                 timeout=10)


def test_user_state(fake_graph_server: RunningFake) -> None:
    by_upn = control(fake_graph_server, "GET", f"/users/{demo.MANAGER.upn}").json()
    by_id = control(fake_graph_server, "GET", f"/users/{by_upn['id']}").json()
    assert by_upn == by_id
    assert by_upn["password"] == demo.MANAGER.password
    assert by_upn["accountEnabled"] is True
    assert {p["phoneType"] for p in by_upn["phoneMethods"]} == {"mobile", "office"}
    assert by_upn["phoneMethods"][0] == {"id": "3179e48a-750b-4051-897c-87b9720928f7",
                                         "phoneType": "mobile", "phoneNumber": "+1 2065550101",
                                         "smsSignInState": "notEnabled"}
    assert control(fake_graph_server, "GET", "/users/nobody@x.example").status_code == 404


def test_fault_with_count_and_retry_after(fake_graph_server: RunningFake) -> None:
    added = control(fake_graph_server, "POST", "/faults",
                    json={"path": "/oauth2/v2.0/token$", "status": 503, "retryAfter": 1,
                          "count": 2})
    assert added.status_code == 201
    for _ in range(2):
        failed = token(fake_graph_server)
        assert failed.status_code == 503
        assert failed.headers["Retry-After"] == "1"
        assert failed.json()["error"] == "temporarily_unavailable"
    assert token(fake_graph_server).status_code == 200


def test_fault_method_and_regex(fake_graph_server: RunningFake) -> None:
    control(fake_graph_server, "POST", "/faults",
            json={"path": "openid-configuration", "method": "GET", "status": 429})
    config = f"{fake_graph_server.authority}/v2.0/.well-known/openid-configuration"
    assert session(fake_graph_server).get(config, timeout=10).status_code == 429
    assert session(fake_graph_server).get(config, timeout=10).status_code == 429  # no count
    assert token(fake_graph_server).status_code == 200  # another path
    assert control(fake_graph_server, "DELETE", "/faults").status_code == 204
    assert session(fake_graph_server).get(config, timeout=10).status_code == 200


def test_fault_reaches_msal(fake_graph_server: RunningFake) -> None:
    control(fake_graph_server, "POST", "/faults",
            json={"path": "/token$", "status": 500, "count": 1})
    app = msal.ConfidentialClientApplication(
        demo.CLIENT_ID, client_credential=demo.CLIENT_SECRET,
        authority=fake_graph_server.authority, instance_discovery=False,
        http_client=session(fake_graph_server))
    # MSAL raises on a 5xx token response instead of returning an error dict.
    with pytest.raises(msal.exceptions.MsalServiceError, match="500"):
        app.acquire_token_for_client([GRAPH_DEFAULT])


def test_latency_only_fault(fake_graph_server: RunningFake) -> None:
    control(fake_graph_server, "POST", "/faults", json={"path": "/token", "latencyMs": 300,
                                                        "count": 1})
    start = time.perf_counter()
    assert token(fake_graph_server).status_code == 200
    assert time.perf_counter() - start >= 0.3


@pytest.mark.parametrize("body", [
    {}, {"path": ""}, {"path": "("}, {"path": "x", "status": "500"}, {"path": "x", "count": 0},
    {"path": "x", "method": "FETCH"}, {"path": "x", "colour": "red"}, [1], {"path": "x",
                                                                           "retryAfter": -1},
])
def test_bad_fault_bodies_are_refused(fake_graph_server: RunningFake, body: Any) -> None:
    response = control(fake_graph_server, "POST", "/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"]
    with pytest.raises(ValueError):
        parse_fault(body)


def test_requests_are_recorded_without_secrets(fake_graph_server: RunningFake) -> None:
    start = control(fake_graph_server, "GET", "/requests").json()["next"]
    app = msal.ConfidentialClientApplication(
        demo.CLIENT_ID, client_credential=demo.CLIENT_SECRET,
        authority=fake_graph_server.authority, instance_discovery=False,
        http_client=session(fake_graph_server))
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI)
    params = redirect_params(sign_in(session(fake_graph_server), flow["auth_uri"],
                                     demo.MANAGER.upn, demo.MANAGER.password))
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert "access_token" in result
    listing = control(fake_graph_server, "GET", f"/requests?since={start}")
    body = listing.json()
    text = listing.text
    for secret in (demo.CLIENT_SECRET, demo.MANAGER.password, params["code"], params["state"],
                   flow["code_verifier"], flow["nonce"], result["access_token"],
                   result["refresh_token"]):
        assert secret not in text
    paths = [(r["method"], r["path"]) for r in body["value"]]
    tid = demo.TENANT_ID
    assert ("GET", f"/{tid}/v2.0/.well-known/openid-configuration") in paths
    assert ("GET", f"/{tid}/oauth2/v2.0/authorize") in paths
    assert ("POST", f"/{tid}/oauth2/v2.0/authorize") in paths
    assert ("POST", f"/{tid}/oauth2/v2.0/token") in paths
    assert not any(p.startswith("/_fake") for _, p in paths)
    posted = [r for r in body["value"] if r["path"].endswith("/token")][-1]
    assert posted["clientId"] == demo.CLIENT_ID and posted["status"] == 200
    assert posted["batch"] is False
    assert body["next"] == body["value"][-1]["seq"]
    assert [r["seq"] for r in body["value"]] == sorted(r["seq"] for r in body["value"])
    again = control(fake_graph_server, "GET", f"/requests?since={body['next']}").json()
    assert again["value"] == [] and again["next"] == body["next"]


def test_reset_restores_the_tenant_file(fake_graph_server: RunningFake) -> None:
    user = fake_graph_server.fake.directory.find_user(demo.MANAGER.upn)
    assert user is not None
    user.password = "changed"
    control(fake_graph_server, "POST", "/faults", json={"path": "/token", "status": 500})
    assert control(fake_graph_server, "POST", "/reset").status_code == 204
    state = control(fake_graph_server, "GET", f"/users/{demo.MANAGER.upn}").json()
    assert state["password"] == demo.MANAGER.password
    assert token(fake_graph_server).status_code == 200


def test_tenant_summary(fake_graph_server: RunningFake) -> None:
    body = control(fake_graph_server, "GET", "/tenant").json()
    assert body["id"] == demo.TENANT_ID and body["domain"] == demo.DOMAIN
    assert body["authority"] == fake_graph_server.authority
    assert body["applications"][0]["clientId"] == demo.CLIENT_ID
    assert demo.CLIENT_SECRET not in str(body)
