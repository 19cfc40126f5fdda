"""GraphClient against the real fake over real sockets (HTTPS, its own CA, the app's token
from the fake's identity platform): a GET, a ``$batch``, errors mapped to exceptions,
``Retry-After`` honoured and retries bounded by ``max_retries``. And ``connect``, which wires
the same client from the settings for the service and for ``policy check --online``.

Waits go through an injected ``sleep`` that records them (and yields), so no test waits for
real; the fake's own request log (``/_fake/requests``) says how often Graph was asked.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import CLIENT_ID, CLIENT_SECRET, TENANT, stack_settings, uid

from fake_graph.embedded import RunningFake, run_fake
from fake_graph.tls import ensure_tls_dir
from mystaff_proxy.graph import (
    AppToken,
    BatchRequest,
    GraphClient,
    GraphNotFound,
    GraphThrottled,
    GraphUnavailable,
    connect,
    ssl_context,
)
from mystaff_proxy.graph.credentials import build_credential

MANAGER = "mgr.upn@e2e.example"
LEAD = "lead@e2e.example"


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_tls_dir(tmp_path_factory.mktemp("graph-client-tls")).directory


@pytest.fixture
async def fake(tls_dir: Path) -> AsyncIterator[RunningFake]:
    async with run_fake(TENANT, tls_dir=tls_dir) as running:
        yield running


@pytest.fixture
async def http(fake: RunningFake) -> AsyncIterator[aiohttp.ClientSession]:
    assert fake.ca_file is not None
    connector = aiohttp.TCPConnector(ssl=ssl_context(fake.ca_file))
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


@pytest.fixture
async def token(fake: RunningFake) -> AsyncIterator[AppToken]:
    app_token = AppToken(build_credential(
        tenant_id=fake.tenant_id, client_id=CLIENT_ID, authority_host=fake.url,
        client_secret=CLIENT_SECRET, ca_file=str(fake.ca_file)))
    yield app_token
    await app_token.close()


class Sleeps:
    """A ``sleep`` for GraphClient: records each wait, and waits for nothing."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def client(fake: RunningFake, http: aiohttp.ClientSession, token: AppToken,
           sleep: Sleeps | None = None, **options: Any) -> GraphClient:
    return GraphClient(fake.graph_url, http, token, timeout=5, sleep=sleep or Sleeps(),
                       **options)


async def control(http: aiohttp.ClientSession, fake: RunningFake, method: str, path: str,
                  body: Any = None) -> Any:
    async with http.request(method, f"{fake.url}/_fake{path}", json=body) as resp:
        assert resp.status < 300, await resp.text()
        return await resp.json() if resp.status != 204 else None


async def graph_requests(http: aiohttp.ClientSession, fake: RunningFake,
                         path: str) -> list[dict[str, Any]]:
    """What the fake was asked at ``path`` directly, not inside a ``$batch`` (its log)."""
    log = await control(http, fake, "GET", "/requests")
    return [r for r in log["value"] if r["path"] == path and not r["batch"]]


async def test_a_get_answers_the_body(fake: RunningFake, http: aiohttp.ClientSession,
                                      token: AppToken) -> None:
    graph = client(fake, http, token)
    body = await graph.get(f"users/{uid(MANAGER)}",
                           params={"$select": "id,userPrincipalName"})
    assert body["id"] == uid(MANAGER)
    assert body["userPrincipalName"] == MANAGER


async def test_a_batch_answers_every_sub_request_by_id(
        fake: RunningFake, http: aiohttp.ClientSession, token: AppToken) -> None:
    graph = client(fake, http, token)
    missing = str(uuid.uuid4())
    answers = await graph.batch([
        BatchRequest("manager", "GET", f"/users/{uid(MANAGER)}?$select=id,userPrincipalName"),
        BatchRequest("lead", "GET", f"/users/{uid(LEAD)}?$select=id,userPrincipalName"),
        BatchRequest("missing", "GET", f"/users/{missing}?$select=id"),
    ])
    assert set(answers) == {"manager", "lead", "missing"}
    assert answers["manager"].status == 200
    assert answers["manager"].body["userPrincipalName"] == MANAGER
    assert answers["lead"].status == 200
    assert answers["lead"].body["userPrincipalName"] == LEAD
    assert answers["missing"].status == 404  # a failed sub-request is answered, not raised
    assert len(await graph_requests(http, fake, "/v1.0/$batch")) == 1  # one round trip


async def test_a_404_is_graph_not_found(fake: RunningFake, http: aiohttp.ClientSession,
                                        token: AppToken) -> None:
    graph = client(fake, http, token)
    with pytest.raises(GraphNotFound) as raised:
        await graph.get(f"users/{uuid.uuid4()}")
    assert raised.value.status == 404


async def test_retry_after_of_a_429_is_honoured(fake: RunningFake, http: aiohttp.ClientSession,
                                                token: AppToken) -> None:
    path = f"/v1.0/users/{uid(MANAGER)}"
    await control(http, fake, "POST", "/faults", {"path": f"{path}$", "method": "GET",
                                                  "status": 429, "retryAfter": 3, "count": 1})
    sleeps = Sleeps()
    graph = client(fake, http, token, sleeps, retry_budget=30)
    body = await graph.get(path.removeprefix("/v1.0/"))
    assert body["id"] == uid(MANAGER)
    assert sleeps.waits == [3.0]  # the server's Retry-After, not the client's own back-off
    assert [r["status"] for r in await graph_requests(http, fake, path)] == [429, 200]


async def test_a_retry_after_beyond_the_budget_is_not_waited_for(
        fake: RunningFake, http: aiohttp.ClientSession, token: AppToken) -> None:
    path = f"/v1.0/users/{uid(MANAGER)}"
    await control(http, fake, "POST", "/faults", {"path": f"{path}$", "method": "GET",
                                                  "status": 429, "retryAfter": 60, "count": 1})
    sleeps = Sleeps()
    graph = client(fake, http, token, sleeps, retry_budget=5)
    with pytest.raises(GraphThrottled) as raised:
        await graph.get(path.removeprefix("/v1.0/"))
    assert raised.value.retry_after == 60
    assert sleeps.waits == []


async def test_retries_are_bounded_by_max_retries(fake: RunningFake,
                                                  http: aiohttp.ClientSession,
                                                  token: AppToken) -> None:
    path = f"/v1.0/users/{uid(MANAGER)}"
    await control(http, fake, "POST", "/faults", {"path": f"{path}$", "method": "GET",
                                                  "status": 503, "retryAfter": 1})
    sleeps = Sleeps()
    graph = client(fake, http, token, sleeps, max_retries=2, retry_budget=30)
    with pytest.raises(GraphUnavailable) as raised:
        await graph.get(path.removeprefix("/v1.0/"))
    assert raised.value.status == 503
    assert sleeps.waits == [1.0, 1.0]
    assert [r["status"] for r in await graph_requests(http, fake, path)] == [503, 503, 503]


async def test_connect_wires_the_client_from_the_settings(
        fake: RunningFake, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    """``[graph] max_retries = 0``: a 429 is raised at once, nothing is asked twice."""
    settings = stack_settings(proxy_url="http://127.0.0.1:8080", fake=fake,
                              audit_path=tmp_path / "audit.jsonl",
                              policy_path=tmp_path / "policy.yaml", graph={"max_retries": 0})
    graph = connect(settings, http)
    try:
        assert graph.client.base_url == fake.graph_url
        path = f"/v1.0/users/{uid(MANAGER)}"
        upns = await graph.ops.user_principal_names([uid(MANAGER)])  # through $batch
        assert upns == {uid(MANAGER): MANAGER}
        await control(http, fake, "POST", "/faults", {"path": f"{path}$", "method": "GET",
                                                      "status": 429, "retryAfter": 1})
        with pytest.raises(GraphThrottled):
            await graph.client.get(path.removeprefix("/v1.0/"))
        assert [r["status"] for r in await graph_requests(http, fake, path)] == [429]
    finally:
        await graph.app_token.close()
