"""Discovery documents: OpenID configuration, JWKS, instance and user-realm discovery."""

from __future__ import annotations

import msal
from identity_support import session

from fake_graph import demo
from fake_graph.embedded import RunningFake


def test_openid_configuration_names_the_fake(fake_graph_server: RunningFake) -> None:
    http = session(fake_graph_server)
    for tenant in (demo.TENANT_ID, demo.DOMAIN):
        config = http.get(f"{fake_graph_server.url}/{tenant}/v2.0/.well-known/"
                          "openid-configuration", timeout=10).json()
        base = f"{fake_graph_server.url}/{demo.TENANT_ID}"
        assert config["issuer"] == f"{base}/v2.0"
        assert config["token_endpoint"] == f"{base}/oauth2/v2.0/token"
        assert config["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
        assert config["jwks_uri"] == f"{base}/discovery/v2.0/keys"


def test_common_uses_the_issuer_template(fake_graph_server: RunningFake) -> None:
    config = session(fake_graph_server).get(
        f"{fake_graph_server.url}/common/v2.0/.well-known/openid-configuration",
        timeout=10).json()
    assert config["issuer"] == f"{fake_graph_server.url}/{{tenantid}}/v2.0"
    assert config["token_endpoint"].endswith("/common/oauth2/v2.0/token")


def test_unknown_tenant_is_a_400_msal_reports(fake_graph_server: RunningFake) -> None:
    response = session(fake_graph_server).get(
        f"{fake_graph_server.url}/fabrikam.example/v2.0/.well-known/openid-configuration",
        timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_tenant"


def test_jwks_has_the_signing_key(fake_graph_server: RunningFake) -> None:
    keys = session(fake_graph_server).get(
        f"{fake_graph_server.authority}/discovery/v2.0/keys", timeout=10).json()
    [key] = keys["keys"]
    assert key["kid"] == fake_graph_server.fake.tokens.key.kid
    assert key["kty"] == "RSA" and key["use"] == "sig"


def test_msal_with_custom_instance_discovery(fake_graph_server: RunningFake) -> None:
    app = msal.ConfidentialClientApplication(
        demo.CLIENT_ID, client_credential=demo.CLIENT_SECRET,
        authority=fake_graph_server.authority, http_client=session(fake_graph_server),
        instance_discovery=f"{fake_graph_server.url}/common/discovery/instance")
    result = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result


def test_user_realm_is_managed(fake_graph_server: RunningFake) -> None:
    realm = session(fake_graph_server).get(
        f"{fake_graph_server.url}/common/userrealm/{demo.MANAGER.upn}",
        params={"api-version": "1.0"}, timeout=10).json()
    assert realm["account_type"] == "Managed"
