"""The embedded fake: ``run_fake`` (async), ``FakeGraphThread`` (sync), the demo constants."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp

from fake_graph import DEMO_TENANT, FakeGraphThread, demo, load_tenant, run_fake


async def test_run_fake_serves_https_on_a_free_port(fake_graph_tls_dir: Path) -> None:
    async with run_fake(tls_dir=fake_graph_tls_dir) as running:
        assert running.url.startswith("https://127.0.0.1:") and running.port > 0
        assert running.authority == f"{running.url}/{demo.TENANT_ID}"
        assert running.graph_url == f"{running.url}/v1.0"
        assert running.tenant_id == demo.TENANT_ID
        context = ssl.create_default_context(cafile=running.ca_file)
        async with aiohttp.ClientSession() as http, http.get(
                f"{running.authority}/v2.0/.well-known/openid-configuration",
                ssl=context) as response:
            config = await response.json()
        assert config["issuer"] == f"{running.url}/{demo.TENANT_ID}/v2.0"


def test_thread_and_bundle_env_for_a_child_process(fake_graph_tls_dir: Path) -> None:
    with FakeGraphThread(DEMO_TENANT, tls_dir=fake_graph_tls_dir) as running:
        # A child that trusts the fake only through the environment (requests reads it).
        code = ("import requests,sys; r=requests.get(sys.argv[1]); "
                "print(r.json()['keys'][0]['kty'])")
        out = subprocess.run(
            [sys.executable, "-c", code, f"{running.authority}/discovery/v2.0/keys"],
            env={"PATH": "/usr/bin:/bin", **running.bundle_env()}, capture_output=True,
            text=True, timeout=60, check=True)
        assert out.stdout.strip() == "RSA"


def test_plain_http_mode() -> None:
    with FakeGraphThread(DEMO_TENANT, tls=False) as running:
        assert running.url.startswith("http://") and running.ca_file is None


def test_demo_constants_match_the_tenant_file() -> None:
    directory = load_tenant(DEMO_TENANT)
    assert directory.tenant.id == demo.TENANT_ID and directory.tenant.domain == demo.DOMAIN
    app = directory.applications[demo.CLIENT_ID]
    assert app.client_secrets == [demo.CLIENT_SECRET]
    assert tuple(app.redirect_uris) == demo.REDIRECT_URIS
    assert app.object_id == demo.APPLICATION_ID
    assert {u.display_name: u.id for u in directory.administrative_units.values()} == {
        f"{k.title()} store": v for k, v in demo.UNITS.items()}
    assert {g.display_name: g.id for g in directory.groups.values()} == demo.GROUPS
    for account in demo.ACCOUNTS:
        user = directory.find_user(account.upn)
        assert user is not None and user.password == account.password, account
    # a small chain, with a Seattle big enough for a bulk reset of 20
    assert 36 <= len(directory.users) <= 60


def test_exported_names() -> None:
    import fake_graph

    assert set(fake_graph.__all__) == {
        "DEMO_TENANT", "FakeGraph", "FakeGraphThread", "RunningFake", "TenantFileError",
        "create_app", "derive_id", "load_tenant", "run_fake"}
