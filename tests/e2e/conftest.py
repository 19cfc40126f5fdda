from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_checks import check_api_answer
from e2e_support import TENANT, Manager, Stack, running_stack

from fake_graph.embedded import FakeGraphThread, RunningFake


@pytest.fixture(scope="session")
def e2e_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFake]:
    """One fake tenant for the e2e tests, on its own thread; each test resets its state."""
    thread = FakeGraphThread(TENANT, tls_dir=tmp_path_factory.mktemp("e2e-tls"))
    running = thread.start()
    yield running
    thread.stop()


@pytest.fixture(params=["app", "manager"])
async def stack(request: pytest.FixtureRequest, e2e_fake: RunningFake,
                tmp_path: Path) -> AsyncIterator[Stack]:
    """The proxy in front of the fake, once per ``[graph] identity``: the same end-to-end
    tests run with changes sent as the app and as the signed-in manager."""
    async with running_stack(e2e_fake, tmp_path, identity=request.param) as s:
        yield s


@pytest.fixture
async def app_stack(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    """App mode only: for tests about the app's own identity (round trips, the app token)."""
    async with running_stack(e2e_fake, tmp_path) as s:
        yield s


@pytest.fixture(autouse=True)
def _openapi_checked_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON API answer a test gets through ``Manager.call`` must match the OpenAPI doc."""
    original = Manager.call

    async def call(self: Manager, method: str, path: str, body: Any = None,
                   **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        status, data, headers = await original(self, method, path, body, **kwargs)
        check_api_answer(method, path, status, data, headers)
        return status, data, headers

    monkeypatch.setattr(Manager, "call", call)
