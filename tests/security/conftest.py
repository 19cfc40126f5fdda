"""The security suite runs against the e2e harness: the same fake tenant and live proxy,
plus ``https_client``: the proxy configured with an https ``public_url``."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from e2e.conftest import e2e_fake, stack  # noqa: F401 - the e2e fixtures, reused as they are
from e2e_support import CLIENT_ID, POLICY_TEMPLATE, render_policy, stack_settings

from fake_graph.embedded import RunningFake
from mystaff_proxy.web.app import init_app

HTTPS_PUBLIC_URL = "https://mystaff.example"


@pytest.fixture
async def https_client(e2e_fake: RunningFake,  # noqa: F811 - the fixture imported above
                       tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    """The proxy configured for https://mystaff.example (TLS ends at a load balancer in
    front of it, so the test client speaks plain http to it)."""
    e2e_fake.fake.reset()
    public = HTTPS_PUBLIC_URL
    e2e_fake.fake.directory.applications[CLIENT_ID].redirect_uris.append(
        public + "/auth/callback")
    settings = stack_settings(proxy_url=public, fake=e2e_fake,
                              audit_path=tmp_path / "audit.jsonl",
                              policy_path=render_policy(POLICY_TEMPLATE,
                                                        tmp_path / "policy.yaml"))
    client: TestClient[Any, Any] = TestClient(TestServer(init_app(settings)),
                                              cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    yield client
    await client.close()
