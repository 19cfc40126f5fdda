from __future__ import annotations

import re

from mystaff_proxy.metrics import Metrics


def test_prometheus_text() -> None:
    m = Metrics()
    m.observe_request("/api/v1/me", "GET", 200, 0.003)
    m.observe_request("/api/v1/me", "GET", 200, 0.2)
    m.observe_graph("fetch_target", 200, 0.05)
    m.observe_graph("fetch_target", 503, 0.05)
    text = m.render().decode()
    assert 'mystaff_http_requests_total{method="GET",route="/api/v1/me",status="200"} 2.0' in text
    assert 'mystaff_http_request_seconds_bucket{le="0.005",route="/api/v1/me"} 1.0' in text
    assert 'mystaff_http_request_seconds_bucket{le="+Inf",route="/api/v1/me"} 2.0' in text
    assert 'mystaff_graph_calls_total{operation="fetch_target",outcome="error"} 1.0' in text
    assert 'mystaff_graph_calls_total{operation="fetch_target",outcome="ok"} 1.0' in text
    assert "_created" not in text
    assert text.endswith("\n")


def test_counters_keep_their_names_and_the_int_style() -> None:
    m = Metrics()
    m.policy_reloads += 1
    m.policy_reload_failures += 2
    m.signin_unknown_state += 1
    assert (m.policy_reloads, m.policy_reload_failures, m.audit_failures) == (1, 2, 0)
    text = m.render().decode()
    for line in ("mystaff_policy_reloads_total 1.0", "mystaff_policy_reload_failures_total 2.0",
                 "mystaff_audit_failures_total 0.0", "mystaff_signin_unknown_state_total 1.0"):
        assert line in text


def test_label_values_are_bounded_whatever_clients_send() -> None:
    """aiohttp's pure-Python parser takes any token as a method: each made-up one kept a
    series of its own, for ever (memory, and the scraper's storage)."""
    m = Metrics()
    for i in range(500):
        m.observe_request("unmatched", f"X{i}", 405, 0.001)
        m.observe_request("unmatched", "get", 405, 0.001)
    m.observe_request("unmatched", "PATCH", 1000, 0.001)
    text = m.render().decode()
    series = re.findall(r"^mystaff_http_requests_total\{.*$", text, re.M)
    assert series == [
        'mystaff_http_requests_total{method="other",route="unmatched",status="405"} 1000.0',
        'mystaff_http_requests_total{method="PATCH",route="unmatched",status="other"} 1.0']


def test_process_metrics() -> None:
    text = Metrics().render().decode()
    assert "process_resident_memory_bytes" in text and "python_info" in text
