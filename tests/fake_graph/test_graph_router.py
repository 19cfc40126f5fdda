"""Unit tests of path normalisation and routing."""

from __future__ import annotations

import pytest

from fake_graph.errors import GraphErrorResult
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
