"""The real azure-identity credentials, sync (MSAL inside) and aio (own client), against the fake.

``authority=`` is the fake's origin without the tenant (the credential appends ``tenant_id``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential
from azure.identity.aio import CertificateCredential as AioCertificateCredential
from azure.identity.aio import ClientSecretCredential as AioClientSecretCredential
from identity_support import unverified

from fake_graph import demo
from fake_graph.embedded import RunningFake
from fake_graph.tls import ClientCertificate, issue_client_certificate

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


@pytest.fixture(scope="module")
def client_cert() -> ClientCertificate:
    return issue_client_certificate("mystaff-proxy test")


@pytest.fixture
def registered_cert(fake_graph_server: RunningFake, client_cert: ClientCertificate,
                    tmp_path: Path) -> Iterator[Path]:
    """The certificate uploaded to the demo app; its key+cert PEM on disk for the credential."""
    fake_graph_server.fake.directory.applications[demo.CLIENT_ID].certificates.append(
        client_cert.cert_pem)
    path = tmp_path / "client.pem"
    path.write_text(client_cert.pem)
    yield path


def _kwargs(running: RunningFake) -> dict[str, object]:
    return {"authority": running.url, "connection_verify": running.ca_file, "retry_total": 0}


def _assert_app_token(token: str) -> None:
    claims = unverified(token)
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["appid"] == demo.CLIENT_ID
    assert set(claims["roles"]) >= {"User.Read.All", "AdministrativeUnit.Read.All",
                                    "UserAuthenticationMethod.ReadWrite.All"}


def test_sync_client_secret_credential(fake_graph_server: RunningFake) -> None:
    cred = ClientSecretCredential(demo.TENANT_ID, demo.CLIENT_ID, demo.CLIENT_SECRET,
                                  disable_instance_discovery=True, **_kwargs(fake_graph_server))
    _assert_app_token(cred.get_token(GRAPH_DEFAULT).token)


async def test_aio_client_secret_credential(fake_graph_server: RunningFake) -> None:
    async with AioClientSecretCredential(demo.TENANT_ID, demo.CLIENT_ID, demo.CLIENT_SECRET,
                                         **_kwargs(fake_graph_server)) as cred:
        token = await cred.get_token(GRAPH_DEFAULT)
    _assert_app_token(token.token)


async def test_aio_wrong_secret(fake_graph_server: RunningFake) -> None:
    async with AioClientSecretCredential(demo.TENANT_ID, demo.CLIENT_ID, "wrong",
                                         **_kwargs(fake_graph_server)) as cred:
        with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
            await cred.get_token(GRAPH_DEFAULT)


def test_sync_certificate_credential_rs256(fake_graph_server: RunningFake,
                                           registered_cert: Path) -> None:
    cred = CertificateCredential(demo.TENANT_ID, demo.CLIENT_ID, str(registered_cert),
                                 disable_instance_discovery=True, **_kwargs(fake_graph_server))
    _assert_app_token(cred.get_token(GRAPH_DEFAULT).token)
    # MSAL re-sends its cached assertion (same jti) for later requests: still accepted.
    cred2_token = cred.get_token("api://" + demo.CLIENT_ID + "/.default").token
    assert unverified(cred2_token)["aud"] == demo.CLIENT_ID


async def test_aio_certificate_credential_ps256(fake_graph_server: RunningFake,
                                                registered_cert: Path) -> None:
    async with AioCertificateCredential(demo.TENANT_ID, demo.CLIENT_ID, str(registered_cert),
                                        **_kwargs(fake_graph_server)) as cred:
        token = await cred.get_token(GRAPH_DEFAULT)
    _assert_app_token(token.token)


async def test_unregistered_certificate_is_refused(fake_graph_server: RunningFake,
                                                   tmp_path: Path) -> None:
    stranger = issue_client_certificate("not registered")
    path = tmp_path / "stranger.pem"
    path.write_text(stranger.pem)
    async with AioCertificateCredential(demo.TENANT_ID, demo.CLIENT_ID, str(path),
                                        **_kwargs(fake_graph_server)) as cred:
        with pytest.raises(ClientAuthenticationError, match="AADSTS700027"):
            await cred.get_token(GRAPH_DEFAULT)


def test_sync_unregistered_certificate_is_refused(fake_graph_server: RunningFake,
                                                  tmp_path: Path) -> None:
    stranger = issue_client_certificate("not registered")
    path = tmp_path / "stranger.pem"
    path.write_text(stranger.pem)
    cred = CertificateCredential(demo.TENANT_ID, demo.CLIENT_ID, str(path),
                                 disable_instance_discovery=True, **_kwargs(fake_graph_server))
    with pytest.raises(ClientAuthenticationError, match="AADSTS700027"):
        cred.get_token(GRAPH_DEFAULT)
