"""Unit tests of path normalisation and the OData parsers."""

from __future__ import annotations

import pytest

from fake_graph.errors import GraphErrorResult
from fake_graph.graph.odata import parse_filter, parse_search, words
from fake_graph.graph.router import Router, normalize_path


@pytest.mark.parametrize(("raw", "normal"), [
    ("//users//u1/", "/users/u1"),
    ("/users('a%40b.c')", "/users/a%40b.c"),
    ("/directory/administrativeUnits/x/members/graph.user",
     "/directory/administrativeUnits/x/members/microsoft.graph.user"),
    ("/users/u1/memberOf/Microsoft.Graph.Group", "/users/u1/memberOf/microsoft.graph.Group"),
])
def test_normalize_path(raw: str, normal: str) -> None:
    assert normalize_path(raw) == normal


async def _noop(req: object) -> object:
    return req


def test_cast_placeholder_only_matches_casts() -> None:
    router = Router()
    router.get("/units/{unit}/members/{cast}", _noop)  # type: ignore[arg-type]
    router.get("/units/{unit}/members/{member}", _noop)  # type: ignore[arg-type]
    assert router.match("GET", "/units/a/members/microsoft.graph.user").route.template.endswith(
        "{cast}")
    match = router.match("GET", "/units/a/members/b%2Bc%40d")
    assert match.params == {"unit": "a", "member": "b+c@d"}
    with pytest.raises(GraphErrorResult) as err:
        router.match("POST", "/units/a/members/b")
    assert err.value.status == 405


def test_filter_parser() -> None:
    expr = parse_filter("startswith(displayName,'O''Brien') and (id eq 'x' or not(mail ne null))")
    assert expr.operators == {"startswith", "and", "eq", "or", "not", "ne"}
    assert expr.advanced_operator() == "not"
    row = {"displayName": "o'brien smith", "id": "y", "mail": None}
    assert expr.matches(row, lambda item, name: item.get(name))
    for bad in ("displayName eq", "displayName gt 'a'", "foo(bar)", "startswith(a,'b'"):
        with pytest.raises(GraphErrorResult):
            parse_filter(bad)


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
