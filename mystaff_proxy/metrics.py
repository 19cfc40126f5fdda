"""Prometheus text-format metrics, kept in process: no client library needed for a few series.

Request counts and latency (histogram) per route, Graph call counts, errors and latency per
operation, policy reload failures, sign-in callbacks with an unknown state.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(_BUCKETS))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        self.n += 1
        self.total += seconds
        for i, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.request_seconds: dict[str, _Histogram] = defaultdict(_Histogram)
        self.graph_calls: dict[tuple[str, str], int] = defaultdict(int)
        self.graph_seconds: dict[str, _Histogram] = defaultdict(_Histogram)
        self.policy_reload_failures = 0
        self.policy_reloads = 0
        self.audit_failures = 0
        # Sign-in callbacks with a state no pending sign-in has (made up, used or expired):
        # anyone can send them, so they are counted here instead of audited.
        self.signin_unknown_state = 0

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[(route, method, status)] += 1
        self.request_seconds[route].observe(seconds)

    def observe_graph(self, operation: str, status: int, seconds: float) -> None:
        outcome = "error" if status == 0 or status >= 400 else "ok"
        self.graph_calls[(operation, outcome)] += 1
        self.graph_seconds[operation].observe(seconds)

    def render(self) -> str:
        out: list[str] = []
        out += ["# HELP mystaff_http_requests_total HTTP requests by route, method and status.",
                "# TYPE mystaff_http_requests_total counter"]
        for (route, method, status), n in sorted(self.requests.items()):
            out.append("mystaff_http_requests_total"
                       f"{_labels(route=route, method=method, status=str(status))} {n}")
        out += self._histogram("mystaff_http_request_seconds", "route", self.request_seconds,
                               "HTTP request latency by route.")
        out += ["# HELP mystaff_graph_calls_total Graph calls by operation and outcome.",
                "# TYPE mystaff_graph_calls_total counter"]
        for (op, outcome), n in sorted(self.graph_calls.items()):
            out.append(f"mystaff_graph_calls_total{_labels(operation=op, outcome=outcome)} {n}")
        out += self._histogram("mystaff_graph_call_seconds", "operation", self.graph_seconds,
                               "Graph call latency by operation.")
        out += ["# HELP mystaff_policy_reloads_total Policy files loaded successfully.",
                "# TYPE mystaff_policy_reloads_total counter",
                f"mystaff_policy_reloads_total {self.policy_reloads}",
                "# HELP mystaff_policy_reload_failures_total Policy files refused.",
                "# TYPE mystaff_policy_reload_failures_total counter",
                f"mystaff_policy_reload_failures_total {self.policy_reload_failures}",
                "# HELP mystaff_audit_failures_total Audit records that could not be written.",
                "# TYPE mystaff_audit_failures_total counter",
                f"mystaff_audit_failures_total {self.audit_failures}",
                "# HELP mystaff_signin_unknown_state_total Sign-in callbacks refused for an "
                "unknown, used or expired state (not audited).",
                "# TYPE mystaff_signin_unknown_state_total counter",
                f"mystaff_signin_unknown_state_total {self.signin_unknown_state}"]
        return "\n".join(out) + "\n"

    @staticmethod
    def _histogram(name: str, label: str, series: dict[str, _Histogram], help_: str) -> list[str]:
        out = [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
        for key, hist in sorted(series.items()):
            # Each count is already cumulative: observe() adds to every bucket >= the value.
            for bound, count in zip(_BUCKETS, hist.counts, strict=True):
                out.append(f"{name}_bucket{_labels(**{label: key, 'le': str(bound)})} {count}")
            out.append(f"{name}_bucket{_labels(**{label: key, 'le': '+Inf'})} {hist.n}")
            out.append(f"{name}_sum{_labels(**{label: key})} {hist.total:.6f}")
            out.append(f"{name}_count{_labels(**{label: key})} {hist.n}")
        return out
