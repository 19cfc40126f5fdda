from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from e2e_support import TENANT, Stack, running_stack

from fake_graph.embedded import FakeGraphThread, RunningFake


@pytest.fixture(scope="session")
def e2e_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFake]:
    """One fake tenant for the e2e tests, on its own thread; each test resets its state."""
    thread = FakeGraphThread(TENANT, tls_dir=tmp_path_factory.mktemp("e2e-tls"))
    running = thread.start()
    yield running
    thread.stop()


@pytest.fixture
async def stack(e2e_fake: RunningFake, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(e2e_fake, tmp_path) as s:
        yield s
