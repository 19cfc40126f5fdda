"""fake_graph's own pytest fixtures, imported here so these tests do not depend on the
``pytest11`` entry point being installed (the plugin module is the same one users load)."""

from __future__ import annotations

from fake_graph.pytest_plugin import (
    fake_graph_server,
    fake_graph_session,
    fake_graph_tenant,
    fake_graph_tls_dir,
)

__all__ = ["fake_graph_server", "fake_graph_session", "fake_graph_tenant", "fake_graph_tls_dir"]
