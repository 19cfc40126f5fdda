"""Unit tests of the ``$filter`` parser (``fake_graph.graph.odata.filter``)."""

from __future__ import annotations

import pytest

from fake_graph.errors import GraphErrorResult
from fake_graph.graph.odata.filter import parse_filter


def test_filter_parser() -> None:
    expr = parse_filter("startswith(displayName,'O''Brien') and (id eq 'x' or not(mail ne null))")
    assert expr.operators == {"startswith", "and", "eq", "or", "not", "ne"}
    assert expr.advanced_operator() == "not"
    row = {"displayName": "o'brien smith", "id": "y", "mail": None}
    assert expr.matches(row, lambda item, name: item.get(name))
    for bad in ("displayName eq", "displayName gt 'a'", "foo(bar)", "startswith(a,'b'"):
        with pytest.raises(GraphErrorResult):
            parse_filter(bad)
