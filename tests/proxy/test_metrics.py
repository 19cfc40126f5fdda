from __future__ import annotations

from mystaff_proxy.metrics import Metrics


def test_prometheus_text() -> None:
    m = Metrics()
    m.observe_request("/api/v1/me", "GET", 200, 0.003)
    m.observe_request("/api/v1/me", "GET", 200, 0.2)
    m.observe_graph("fetch_target", 200, 0.05)
    m.observe_graph("fetch_target", 503, 0.05)
    text = m.render()
    assert 'mystaff_http_requests_total{route="/api/v1/me",method="GET",status="200"} 2' in text
    assert 'mystaff_http_request_seconds_bucket{route="/api/v1/me",le="0.005"} 1' in text
    assert 'mystaff_http_request_seconds_bucket{route="/api/v1/me",le="+Inf"} 2' in text
    assert 'mystaff_graph_calls_total{operation="fetch_target",outcome="error"} 1' in text
    assert 'mystaff_graph_calls_total{operation="fetch_target",outcome="ok"} 1' in text
    assert text.endswith("\n")
