"""fake_graph: an offline Microsoft Graph + Entra ID tenant for the real Microsoft clients."""

from __future__ import annotations

from .directory import derive_id
from .embedded import FakeGraphThread, RunningFake, run_fake
from .server import FakeGraph, create_app
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
