"""Prometheus metrics, through ``prometheus_client`` (one registry per application).

Request counts and latency (histogram) per route, Graph call counts, errors and latency per
operation, policy reloads and their failures, sign-in callbacks with an unknown state, and
the process itself (CPU, memory, open files, garbage collection).

Every label takes a bounded set of values, whatever clients send: the route is the route's
template (``/api/v1/locations/{loc}/staff/{userId}``, or ``unmatched``), never the raw path;
a method outside ``KNOWN_METHODS`` is ``other`` (aiohttp's pure-Python parser accepts any
token as a method, so each made-up one used to keep a series of its own for ever); the status
is the HTTP status (``other`` outside 100-599). Who may read them: app.py (``/metrics``).
"""

from __future__ import annotations

from typing import Final

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector

# The ``*_created`` series (a timestamp per label set) would double the exposition for
# nothing a dashboard of this service uses; a process-wide switch of the library.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

METRICS_CONTENT_TYPE: Final = prometheus_client.CONTENT_TYPE_LATEST
KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


def _status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else "other"


class _Count:
    """``metrics.policy_reloads += 1`` increments a Counter (callers keep the int style)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = "_" + name
        self.sample = f"mystaff_{name}_total"

    def __get__(self, obj: Metrics, objtype: type | None = None) -> int:
        return int(obj.registry.get_sample_value(self.sample) or 0)

    def __set__(self, obj: Metrics, value: int) -> None:
        counter: Counter = getattr(obj, self.name)
        added = value - self.__get__(obj)
        if added < 0:
            raise ValueError("a counter only goes up")
        counter.inc(added)


class Metrics:
    policy_reloads = _Count()
    policy_reload_failures = _Count()
    audit_failures = _Count()
    signin_unknown_state = _Count()

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        r = self.registry
        self._requests = Counter("mystaff_http_requests", "HTTP requests by route, method "
                                 "and status.", ["route", "method", "status"], registry=r)
        self._request_seconds = Histogram("mystaff_http_request_seconds", "HTTP request "
                                          "latency by route.", ["route"], buckets=_BUCKETS,
                                          registry=r)
        self._graph_calls = Counter("mystaff_graph_calls", "Graph calls by operation and "
                                    "outcome.", ["operation", "outcome"], registry=r)
        self._graph_seconds = Histogram("mystaff_graph_call_seconds", "Graph call latency by "
                                        "operation.", ["operation"], buckets=_BUCKETS,
                                        registry=r)
        self._policy_reloads = Counter("mystaff_policy_reloads", "Policy files loaded "
                                       "successfully.", registry=r)
        self._policy_reload_failures = Counter("mystaff_policy_reload_failures", "Policy "
                                               "files refused.", registry=r)
        self._audit_failures = Counter("mystaff_audit_failures", "Audit records that could "
                                       "not be written.", registry=r)
        self._signin_unknown_state = Counter(
            "mystaff_signin_unknown_state", "Sign-in callbacks refused for an unknown, used "
            "or expired state (not audited).", registry=r)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """``route``: the route's template or ``unmatched`` (the caller's job: never a path)."""
        self._requests.labels(route, method_label(method), _status_label(status)).inc()
        self._request_seconds.labels(route).observe(seconds)

    def observe_graph(self, operation: str, status: int, seconds: float) -> None:
        outcome = "error" if status == 0 or status >= 400 else "ok"
        self._graph_calls.labels(operation, outcome).inc()
        self._graph_seconds.labels(operation).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition (``METRICS_CONTENT_TYPE``)."""
        return generate_latest(self.registry)
