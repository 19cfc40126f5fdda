"""Former home of the fake's state and application factory, kept for existing imports.

Nothing in fake_graph imports this module. The names live in:

- ``fake_graph.state``: ``FakeGraph`` and its application key ``FAKE``;
- ``fake_graph.faults``: ``Fault``, ``FaultStore``, ``FaultKind``, ``FAULT_KINDS``,
  ``MALFORMED_BODY``, ``RESET_STATUS``, ``ConnectionAborted``, ``abort_connection``;
- ``fake_graph.recorder``: ``Recorder``, ``RecordedRequest``, ``redact_query``,
  ``SECRET_PARAMS``;
- ``fake_graph.app``: ``create_app``.
"""

from __future__ import annotations

from .app import create_app
from .faults import (
    FAULT_KINDS,
    MALFORMED_BODY,
    RESET_STATUS,
    ConnectionAborted,
    Fault,
    FaultKind,
    FaultStore,
    abort_connection,
)
from .recorder import SECRET_PARAMS, RecordedRequest, Recorder, redact_query
from .state import FAKE, FakeGraph

__all__ = [
    "FAKE",
    "FAULT_KINDS",
    "MALFORMED_BODY",
    "RESET_STATUS",
    "SECRET_PARAMS",
    "ConnectionAborted",
    "FakeGraph",
    "Fault",
    "FaultKind",
    "FaultStore",
    "RecordedRequest",
    "Recorder",
    "abort_connection",
    "create_app",
    "redact_query",
]
