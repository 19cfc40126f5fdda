"""The long-running operations resetPassword starts, and the test switch that makes them fail.

State only (no HTTP): ``auth_methods`` creates and reads operations, ``control`` adds the
failure rules. Both live in ``fake.state`` under ``graph.``, so ``/_fake/reset`` drops them.

An operation answers ``running`` to a first poll made before the ``Retry-After`` it was
accepted with has passed, then its outcome (``succeeded`` or ``failed``; Graph's
``longRunningOperationStatus`` values are camelCase: ``notStarted``, ``running``,
``succeeded``, ``failed``). A failing reset is decided when it is accepted: the
password stays as it was, as when Entra cannot complete a reset.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from ..state import FakeGraph

_STATE_KEY = "graph.operations"
#: What a failed operation's ``statusDetail`` says unless the rule names its own.
FAILED_DETAIL = "The password reset could not be completed."


@dataclass
class Operation:
    id: str
    user_id: str
    created: str  # ISO 8601, UTC
    outcome: str  # "succeeded" | "failed": the status once ``seconds`` have passed
    status_detail: str | None = None
    polls: int = 0
    seconds: float = 1.0  # how long it runs: the Retry-After it was accepted with
    started: float = field(default_factory=time.monotonic)

    def next_status(self) -> str:
        """``running`` on a first poll made before ``seconds`` have passed (a client that
        ignores Retry-After sees it running), the outcome otherwise."""
        early = self.polls == 0 and time.monotonic() - self.started < self.seconds
        self.polls += 1
        return "running" if early else self.outcome


@dataclass
class FailureRule:
    """``POST /_fake/password-reset-failures``: the next resets (of ``user_id``, or of anyone)
    are accepted and their operations end ``failed``."""

    user_id: str | None  # None: any user
    count: int | None  # None: until deleted
    status_detail: str = FAILED_DETAIL
    hits: int = 0


@dataclass
class OperationStore:
    operations: dict[str, Operation] = field(default_factory=dict)
    failures: list[FailureRule] = field(default_factory=list)
    #: How long a reset runs, and the Retry-After it is accepted with (whole seconds, as
    #: Graph sends them). Tests may set 0: the first poll then finds it done.
    seconds: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_failure(self, rule: FailureRule) -> None:
        with self._lock:
            self.failures.append(rule)

    def clear_failures(self) -> None:
        with self._lock:
            self.failures.clear()

    def _take_failure(self, user_id: str) -> FailureRule | None:
        for rule in self.failures:
            if rule.user_id is None or rule.user_id == user_id:
                rule.hits += 1
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self.failures.remove(rule)
                return rule
        return None

    def start(self, user_id: str) -> Operation:
        """A new operation for a reset of ``user_id``; its outcome is decided now."""
        with self._lock:
            rule = self._take_failure(user_id)
            op = Operation(id=str(uuid.uuid4()), user_id=user_id,
                           created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           outcome="failed" if rule else "succeeded",
                           status_detail=rule.status_detail if rule else None,
                           seconds=float(self.seconds))
            self.operations[op.id] = op
            return op

    def get(self, operation_id: str) -> Operation | None:
        return self.operations.get(operation_id.lower())


def store(fake: FakeGraph) -> OperationStore:
    current = fake.state.get(_STATE_KEY)
    if not isinstance(current, OperationStore):
        current = OperationStore()
        fake.state[_STATE_KEY] = current
    return current
