"""Unit tests of the ``$search`` parser and matching (``fake_graph.graph.odata.search``)."""

from __future__ import annotations

import pytest

from fake_graph.errors import GraphErrorResult
from fake_graph.graph.odata.search import parse_search, words


def test_search_parser_and_tokenised_prefix_match() -> None:
    query = parse_search('"displayName:wal" OR "userPrincipalName:adele.va"')
    def get(item: dict[str, str], name: str) -> str | None:
        return item.get(name)
    assert query.matches({"displayName": "Frank Walker"}, get)
    assert query.matches({"userPrincipalName": "adele.vance@contoso.com"}, get)
    assert not query.matches({"displayName": "Rosewall"}, get)  # a prefix of a word, not infix
    assert words("OneBrown adele.vance@x") == ["one", "brown", "onebrown", "adele", "vance", "x"]
    for bad in ("displayName:foo", '"displayName"', '"a:b" XOR "c:d"'):
        with pytest.raises(GraphErrorResult):
            parse_search(bad)
