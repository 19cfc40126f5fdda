"""The token endpoint at the HTTP level: client authentication, scope rules, OBO, errors."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from identity_support import session, unverified

from fake_graph import demo
from fake_graph.embedded import RunningFake
from fake_graph.tls import ClientCertificate, issue_client_certificate

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def token_url(running: RunningFake, tenant: str | None = None) -> str:
    return f"{running.url}/{tenant or running.tenant_id}/oauth2/v2.0/token"


def post(running: RunningFake, data: dict[str, str], tenant: str | None = None,
         **kwargs: Any) -> requests.Response:
    return session(running).post(token_url(running, tenant), data=data, timeout=10, **kwargs)


def client_credentials(scope: str = GRAPH_DEFAULT, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": demo.CLIENT_ID,
            "client_secret": demo.CLIENT_SECRET, "scope": scope, **extra}


@pytest.fixture(scope="module")
def cert() -> ClientCertificate:
    return issue_client_certificate("assertion tests")


def assertion(running: RunningFake, cert: ClientCertificate, *, alg: str = "PS256",
              **claims: Any) -> str:
    now = int(time.time())
    body = {"aud": token_url(running), "iss": demo.CLIENT_ID, "sub": demo.CLIENT_ID,
            "jti": str(uuid.uuid4()), "nbf": now, "exp": now + 600} | claims
    header = {"x5t#S256": cert.x5t_s256} if alg == "PS256" else {"x5t": cert.x5t}
    key = serialization.load_pem_private_key(cert.key_pem.encode(), password=None)
    return jwt.encode(body, key, algorithm=alg, headers=header)  # type: ignore[arg-type]


def with_assertion(token: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": demo.CLIENT_ID,
            "scope": GRAPH_DEFAULT, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": token}


def test_secret_in_basic_auth(fake_graph_server: RunningFake) -> None:
    data = client_credentials()
    del data["client_secret"], data["client_id"]
    response = post(fake_graph_server, data, auth=(demo.CLIENT_ID, demo.CLIENT_SECRET))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 3000 and body["ext_expires_in"] > 3000
    assert response.headers["Cache-Control"].startswith("no-store")


def test_error_shape_is_entra_s(fake_graph_server: RunningFake) -> None:
    response = post(fake_graph_server, client_credentials(client_secret="bad"))
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: ")
    assert "\r\nTrace ID: " in body["error_description"]
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


@pytest.mark.parametrize(("scope", "error", "code"), [
    ("https://graph.microsoft.com/User.Read.All", "invalid_scope", 1002012),
    ("https://127.0.0.1/.default", "invalid_resource", 500011),  # msgraph-sdk without scopes=
    ("openid", "invalid_scope", 1002012),
])
def test_client_credentials_scope_rules(fake_graph_server: RunningFake, scope: str, error: str,
                                        code: int) -> None:
    response = post(fake_graph_server, client_credentials(scope))
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_codes"] == [code]


def test_tenant_by_domain_and_unknown_tenant(fake_graph_server: RunningFake) -> None:
    ok = post(fake_graph_server, client_credentials(), tenant=demo.DOMAIN)
    assert ok.status_code == 200
    unknown = post(fake_graph_server, client_credentials(), tenant="fabrikam.example")
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [90002]


def test_unsupported_grant_type(fake_graph_server: RunningFake) -> None:
    response = post(fake_graph_server, {"grant_type": "device_code", "client_id": "x"})
    assert response.json()["error"] == "unsupported_grant_type"


def test_rs256_and_ps256_assertions(fake_graph_server: RunningFake,
                                    cert: ClientCertificate) -> None:
    fake_graph_server.fake.directory.applications[demo.CLIENT_ID].certificates.append(
        cert.cert_pem)
    for alg in ("RS256", "PS256"):
        token = assertion(fake_graph_server, cert, alg=alg)
        response = post(fake_graph_server, with_assertion(token))
        assert response.status_code == 200, response.text
        again = post(fake_graph_server, with_assertion(token))  # MSAL reuses its assertion
        assert again.status_code == 200, again.text


@pytest.mark.parametrize(("claims", "code"), [
    ({"aud": "https://login.microsoftonline.com/x/oauth2/v2.0/token"}, 50027),
    ({"iss": "someone-else"}, 700021),
    ({"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200}, 700024),
])
def test_bad_assertions_are_refused(fake_graph_server: RunningFake, cert: ClientCertificate,
                                    claims: dict[str, Any], code: int) -> None:
    fake_graph_server.fake.directory.applications[demo.CLIENT_ID].certificates.append(
        cert.cert_pem)
    response = post(fake_graph_server, with_assertion(assertion(fake_graph_server, cert,
                                                                **claims)))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_codes"] == [code]


def test_assertion_with_a_forged_signature(fake_graph_server: RunningFake,
                                           cert: ClientCertificate) -> None:
    fake_graph_server.fake.directory.applications[demo.CLIENT_ID].certificates.append(
        cert.cert_pem)
    other = issue_client_certificate("forger")
    forged = assertion(fake_graph_server, ClientCertificate(
        cert_pem=cert.cert_pem, key_pem=other.key_pem, thumbprint_sha1=cert.thumbprint_sha1,
        thumbprint_sha256=cert.thumbprint_sha256))
    response = post(fake_graph_server, with_assertion(forged))
    assert response.status_code == 401
    assert "signature" in response.json()["error_description"]


def _user_api_token(running: RunningFake, upn: str = demo.MANAGER.upn) -> str:
    user = running.fake.directory.find_user(upn)
    assert user is not None
    return running.fake.tokens.api_user_token(demo.CLIENT_ID, demo.CLIENT_ID, user.id,
                                              user.user_principal_name, user.display_name,
                                              ["access_as_user"], [])


def test_on_behalf_of_exchanges_an_api_token_for_graph(fake_graph_server: RunningFake) -> None:
    data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "client_id": demo.CLIENT_ID, "client_secret": demo.CLIENT_SECRET,
            "assertion": _user_api_token(fake_graph_server),
            "requested_token_use": "on_behalf_of", "scope": "https://graph.microsoft.com/User.Read"}
    response = post(fake_graph_server, data)
    assert response.status_code == 200, response.text
    claims = unverified(response.json()["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["scp"] == "User.Read"
    assert claims["upn"] == demo.MANAGER.upn
    garbage = post(fake_graph_server, data | {"assertion": "x.y.z"})
    assert garbage.json()["error"] == "invalid_grant"


def test_obo_refuses_a_graph_token_as_assertion(fake_graph_server: RunningFake) -> None:
    graph = post(fake_graph_server, client_credentials()).json()["access_token"]
    data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "client_id": demo.CLIENT_ID, "client_secret": demo.CLIENT_SECRET,
            "assertion": graph, "requested_token_use": "on_behalf_of", "scope": "User.Read"}
    response = post(fake_graph_server, data)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_two_resources_in_one_request_are_refused(fake_graph_server: RunningFake) -> None:
    data = {"grant_type": "password", "client_id": demo.CLIENT_ID,
            "client_secret": demo.CLIENT_SECRET, "username": demo.MANAGER.upn,
            "password": demo.MANAGER.password,
            "scope": f"User.Read {demo.API_SCOPE} openid"}
    response = post(fake_graph_server, data)
    assert response.json()["error_codes"] == [28000]


def test_basic_auth_encoding_is_form_urlencoded(fake_graph_server: RunningFake) -> None:
    # RFC 6749 §2.3.1: a client may url-encode id and secret before Basic encoding.
    raw = f"{demo.CLIENT_ID}:{demo.CLIENT_SECRET}".encode()
    header = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    response = post(fake_graph_server, {"grant_type": "client_credentials",
                                        "scope": GRAPH_DEFAULT}, headers=header)
    assert response.status_code == 200, response.text
