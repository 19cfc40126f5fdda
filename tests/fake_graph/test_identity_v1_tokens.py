"""v1.0 access tokens for an app's own API, as Entra issues them when the API's manifest
accepts v1.0 (``accessTokenAcceptedVersion`` 1 or null, the default for a custom API):
tenant key ``applications[].access_token_version: 1 | 2`` (default 2), and the v1.0
metadata document (``/{tenant}/.well-known/openid-configuration``) naming their issuer
and keys."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from identity_support import session, unverified

from fake_graph import demo
from fake_graph.embedded import RunningFake
from fake_graph.tenant import TenantFileError, load_tenant

HEADER = 'tenant: {id: "11111111-2222-3333-4444-555555555555", domain: "t.example"}\n'
APP = "0d3e8f60-1111-4a4a-9b9b-00000000000a"


def _token(running: RunningFake, scope: str, grant: str = "password") -> dict[str, object]:
    data = {"grant_type": grant, "client_id": demo.CLIENT_ID,
            "client_secret": demo.CLIENT_SECRET, "scope": scope}
    if grant == "password":
        data |= {"username": demo.MANAGER.upn, "password": demo.MANAGER.password}
    response = session(running).post(f"{running.authority}/oauth2/v2.0/token", data=data,
                                     timeout=10)
    assert response.status_code == 200, response.text
    return unverified(response.json()["access_token"])


def test_the_v1_metadata_names_the_v1_issuer_and_the_keys(
        fake_graph_server: RunningFake) -> None:
    http = session(fake_graph_server)
    tid = fake_graph_server.tenant_id
    for tenant in (tid, demo.DOMAIN):
        config = http.get(f"{fake_graph_server.url}/{tenant}/.well-known/openid-configuration",
                          timeout=10).json()
        assert config["issuer"] == f"https://sts.windows.net/{tid}/"
        assert config["jwks_uri"] == f"{fake_graph_server.url}/{tid}/discovery/keys"
        keys = http.get(config["jwks_uri"], timeout=10).json()["keys"]
        assert [k["kid"] for k in keys] == [fake_graph_server.fake.tokens.key.kid]
    common = http.get(f"{fake_graph_server.url}/common/.well-known/openid-configuration",
                      timeout=10).json()
    assert common["issuer"] == "https://sts.windows.net/{tenantid}/"


def test_an_api_that_accepts_v1_gets_v1_tokens(fake_graph_server: RunningFake) -> None:
    fake_graph_server.fake.directory.applications[demo.CLIENT_ID].access_token_version = 1
    user = fake_graph_server.fake.directory.find_user(demo.MANAGER.upn)
    assert user is not None
    tid = fake_graph_server.tenant_id
    claims = _token(fake_graph_server, demo.API_SCOPE)
    assert claims["iss"] == f"https://sts.windows.net/{tid}/" and claims["ver"] == "1.0"
    assert claims["aud"] == f"api://{demo.CLIENT_ID}"  # as the client named the resource
    assert (claims["appid"], claims["oid"], claims["tid"]) == (demo.CLIENT_ID, user.id, tid)
    assert claims["upn"] == claims["unique_name"] == demo.MANAGER.upn
    assert claims["scp"] == "access_as_user"
    assert "azp" not in claims and "preferred_username" not in claims
    by_id = _token(fake_graph_server, f"{demo.CLIENT_ID}/access_as_user")
    assert by_id["aud"] == demo.CLIENT_ID
    app_only = _token(fake_graph_server, f"api://{demo.CLIENT_ID}/.default",
                      grant="client_credentials")
    assert (app_only["ver"], app_only["appid"], app_only["idtyp"]) == (
        "1.0", demo.CLIENT_ID, "app")
    # Signed with the tenant's key like every other token.
    raw = fake_graph_server.fake.tokens.api_user_token(
        demo.CLIENT_ID, demo.CLIENT_ID, user.id, demo.MANAGER.upn, "M", ["access_as_user"], [],
        version=1, audience=f"api://{demo.CLIENT_ID}")
    key = fake_graph_server.fake.tokens.key.private_key.public_key()
    assert jwt.decode(raw, key, algorithms=["RS256"], audience=f"api://{demo.CLIENT_ID}",
                      issuer=f"https://sts.windows.net/{tid}/")["ver"] == "1.0"


def test_v2_stays_the_default(fake_graph_server: RunningFake) -> None:
    claims = _token(fake_graph_server, demo.API_SCOPE)
    assert claims["ver"] == "2.0" and claims["aud"] == demo.CLIENT_ID
    assert claims["azp"] == demo.CLIENT_ID


def test_the_tenant_key(tmp_path: Path) -> None:
    path = tmp_path / "tenant.yaml"
    path.write_text(HEADER + f"applications:\n  - client_id: \"{APP}\"\n"
                    "    access_token_version: 1\n")
    assert load_tenant(path).applications[APP].access_token_version == 1
    path.write_text(HEADER + f"applications:\n  - client_id: \"{APP}\"\n")
    assert load_tenant(path).applications[APP].access_token_version == 2
    for bad in ("3", "true", "\"1\""):
        path.write_text(HEADER + f"applications:\n  - client_id: \"{APP}\"\n"
                        f"    access_token_version: {bad}\n")
        with pytest.raises(TenantFileError) as raised:
            load_tenant(path)
        assert str(raised.value) == f"{path}:4: 'access_token_version' must be 1 or 2"
