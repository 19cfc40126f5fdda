"""fake_graph: an offline Microsoft Graph + Entra ID tenant for the real Microsoft clients."""

from __future__ import annotations

from .app import create_app
from .directory import derive_id
from .embedded import FakeGraphThread, RunningFake, run_fake
from .state import FakeGraph
from .tenant import DEMO_TENANT, TenantFileError, load_tenant

__all__ = [
    "DEMO_TENANT",
    "FakeGraph",
    "FakeGraphThread",
    "RunningFake",
    "TenantFileError",
    "create_app",
    "derive_id",
    "load_tenant",
    "run_fake",
]
