"""Shared set-up for the Graph conformance tests: a fake on a real socket, tokens, clients.

The fake is served in-process over plain http on 127.0.0.1 (msgraph-sdk allows http only for
loopback: kiota's ``AzureIdentityAccessTokenProvider``), tokens are minted by the fake's own
TokenService, and msgraph-sdk gets them through a static ``AsyncTokenCredential``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp.test_utils import TestServer
from azure.core.credentials import AccessToken

from fake_graph.app import create_app
from fake_graph.directory import AdministrativeUnit, User, derive_id
from fake_graph.state import FakeGraph

TENANT = Path(__file__).parent / "tenants" / "graph_test.yaml"
PROXY_APP = "0d3e8f60-1111-4a4a-9b9b-000000000001"
PA_APP = "0d3e8f60-1111-4a4a-9b9b-000000000002"
NOROLE_APP = "0d3e8f60-1111-4a4a-9b9b-000000000003"
READER_APP = "0d3e8f60-1111-4a4a-9b9b-000000000004"
WEB_APP = "0d3e8f60-1111-4a4a-9b9b-000000000005"
BIG_UNIT = "Big store"
BIG_USERS = 250
BIG_GROUPS = 3
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def uid(upn: str) -> str:
    return derive_id("user", upn)


def unit_id(name: str) -> str:
    return derive_id("administrativeUnit", name)


def add_big_unit(fake: FakeGraph, users: int = BIG_USERS, groups: int = BIG_GROUPS) -> str:
    """An AU of ``users`` generated users with ``groups`` groups interleaved among them."""
    directory = fake.directory
    unit = AdministrativeUnit(id=unit_id(BIG_UNIT), display_name=BIG_UNIT)
    group_ids = list(directory.groups)[:groups]
    for n in range(users):
        upn = f"staff{n:05d}@{directory.tenant.domain}"
        user = User(id=uid(upn), user_principal_name=upn, display_name=f"Staff Member {n:05d}",
                    password="Staff-Passw0rd!", job_title="Associate")
        directory.add_user(user)
        unit.members.append(user.id)
        if n % 80 == 40 and group_ids:
            unit.members.append(group_ids.pop())
    directory.administrative_units[unit.id] = unit
    return unit.id


def load_fake() -> FakeGraph:
    fake = FakeGraph.from_file(TENANT)
    add_big_unit(fake)

    def regenerate() -> None:  # /_fake/reset reloads the file: generate the big unit again
        add_big_unit(fake)

    fake.on_reset.append(regenerate)
    return fake


def app_token(fake: FakeGraph, client_id: str = PROXY_APP, roles: list[str] | None = None,
              **extra: Any) -> str:
    app = fake.directory.applications[client_id]
    granted = app.application_permissions if roles is None else roles
    return fake.tokens.graph_app_token(client_id, app.service_principal_id, list(granted),
                                       extra or None)


def user_token(fake: FakeGraph, upn: str, scopes: list[str],
               client_id: str = WEB_APP) -> str:
    user = fake.directory.find_user(upn)
    assert user is not None
    return fake.tokens.graph_user_token(client_id, user.id, user.user_principal_name,
                                        user.display_name, scopes, [])


class StaticCredential:
    """An ``AsyncTokenCredential`` handing out one fixed token (msgraph-sdk needs AccessToken)."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None


@dataclass
class Served:
    fake: FakeGraph
    base_url: str  # e.g. http://127.0.0.1:PORT
    session: aiohttp.ClientSession

    @property
    def graph(self) -> str:
        return self.base_url + "/v1.0"

    async def call(self, method: str, path: str, token: str | None = None,
                   json: Any = None, headers: dict[str, str] | None = None,
                   params: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        """A raw request; ``path`` after /v1.0 or absolute. Returns status, JSON body, headers."""
        url = path if path.startswith("http") else self.graph + path
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, url, json=json, headers=hdrs,
                                        params=params) as resp:
            text = await resp.text()
            body = await resp.json(content_type=None) if text else None
            return resp.status, body, dict(resp.headers)


@asynccontextmanager
async def serve(fake: FakeGraph) -> AsyncIterator[Served]:
    server = TestServer(create_app(fake))
    await server.start_server()
    try:
        fake.base_url = str(server.make_url("")).rstrip("/")
        async with aiohttp.ClientSession() as session:
            yield Served(fake, fake.base_url, session)
    finally:
        await server.close()


@pytest.fixture(name="served")
async def served_fixture() -> AsyncIterator[Served]:
    """The fake on a socket; import ``served_fixture`` into a test module to use ``served``."""
    async with serve(load_fake()) as s:
        yield s


def graph_client(base_url: str, token: str) -> Any:
    """The real msgraph-sdk client with a custom base URL: our own httpx client with Graph's
    default middleware (``GraphClientFactory.create_with_default_middleware``). httpx adds a
    trailing slash to ``base_url``, so the SDK requests ``/v1.0//users/...`` exactly as the stock
    client does against real Graph."""
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory

    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(base_url=base_url + "/v1.0", timeout=30))
    auth = AzureIdentityAuthenticationProvider(StaticCredential(token), scopes=[GRAPH_SCOPE])
    adapter = GraphRequestAdapter(auth, client=http)
    return GraphServiceClient(request_adapter=adapter)
