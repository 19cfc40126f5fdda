"""End to end, nothing static: azure-identity aio gets a token from the fake's token endpoint,
and the stock msgraph-sdk client uses it against the fake's Graph, all over HTTPS."""

from __future__ import annotations

import ssl

import httpx
import pytest
from azure.identity.aio import ClientSecretCredential

from fake_graph import demo
from fake_graph.embedded import RunningFake

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*")]


async def test_msgraph_sdk_with_a_real_credential(fake_graph_server: RunningFake) -> None:
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory

    credential = ClientSecretCredential(demo.TENANT_ID, demo.CLIENT_ID, demo.CLIENT_SECRET,
                                        authority=fake_graph_server.url,
                                        connection_verify=fake_graph_server.ca_file)
    context = ssl.create_default_context(cafile=fake_graph_server.ca_file)
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(base_url=fake_graph_server.graph_url, verify=context))
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )

    # scopes= must name Graph: without it the SDK asks for https://127.0.0.1/.default, which
    # real Entra (and the fake) refuse as an unknown resource (kiota derives the scope from the
    # request's host, port dropped).
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=["https://graph.microsoft.com/.default"])
    client = GraphServiceClient(request_adapter=GraphRequestAdapter(auth, client=http))
    async with credential:
        user = await client.users.by_user_id(demo.MANAGER.upn).get()
    assert user is not None and user.display_name == "Sam Rivera"
