"""pytest fixtures for testing against fake_graph (entry point ``pytest11``).

- ``fake_graph_tenant`` (session): the tenant file; override it to use your own.
- ``fake_graph_tls_dir`` (session): a CA and server certificate, generated once per session.
- ``fake_graph_session`` (session): one fake served over HTTPS in a background thread, so both
  sync (MSAL, requests) and async (aiohttp, azure-identity aio, msgraph-sdk) tests can use it.
- ``fake_graph_server``: that fake, reset to the tenant file before and after the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .embedded import FakeGraphThread, RunningFake
from .tenant import DEMO_TENANT
from .tls import ensure_tls_dir


@pytest.fixture(scope="session")
def fake_graph_tenant() -> Path:
    return DEMO_TENANT


@pytest.fixture(scope="session")
def fake_graph_tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_tls_dir(tmp_path_factory.mktemp("fake-graph-tls")).directory


@pytest.fixture(scope="session")
def fake_graph_session(fake_graph_tenant: Path, fake_graph_tls_dir: Path) -> Iterator[RunningFake]:
    with FakeGraphThread(fake_graph_tenant, tls_dir=fake_graph_tls_dir) as running:
        yield running


@pytest.fixture
def fake_graph_server(fake_graph_session: RunningFake) -> Iterator[RunningFake]:
    fake_graph_session.fake.reset()
    yield fake_graph_session
    fake_graph_session.fake.reset()
