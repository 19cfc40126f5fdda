"""``$expand``: ``rel`` or ``rel($select=a,b)``; no other option nested.

Only where an endpoint implements it (``GraphRequest.expanding``); elsewhere it is refused. As
real Graph does for directory objects, an expanded relationship holds at most 20 objects (no
nextLink inside), a page of a collection with ``$expand`` holds at most 100 items, and
``$expand`` is refused in advanced queries (see ``advanced``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...errors import bad_request, unsupported_query

# Directory objects with $expand: at most 20 objects in an expanded relationship, and at most
# 100 items in a page whatever $top says (Graph's known limitations of $expand).
MAX_EXPANDED = 20
MAX_EXPAND_PAGE_SIZE = 100


@dataclass(frozen=True)
class Expand:
    """One expanded relationship: ``owners`` or ``owners($select=id,displayName)``."""

    name: str  # as the endpoint spells it
    select: tuple[str, ...] | None = None


def _split_top_level(text: str, sep: str) -> list[str]:
    """``text`` split on ``sep`` outside parentheses."""
    parts: list[str] = []
    depth = start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise bad_request(f"Invalid $expand: unbalanced parentheses in '{text}'.")
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise bad_request(f"Invalid $expand: unbalanced parentheses in '{text}'.")
    parts.append(text[start:])
    return parts


def parse_expand(text: str, expandable: Sequence[str], type_name: str) -> tuple[Expand, ...]:
    known = {name.lower(): name for name in expandable}
    out: list[Expand] = []
    for item in _split_top_level(text, ","):
        item = item.strip()
        name, paren, rest = item.partition("(")
        name = name.strip()
        if not name:
            raise bad_request(f"Invalid $expand: '{text}'.")
        canonical = known.get(name.lower())
        if canonical is None:
            raise bad_request(f"Could not find a property named '{name}' on type "
                              f"'microsoft.graph.{type_name}'.")
        if any(e.name == canonical for e in out):
            raise bad_request(f"Invalid $expand: '{canonical}' is expanded more than once.")
        select: tuple[str, ...] | None = None
        if paren:
            if not rest.endswith(")"):
                raise bad_request(f"Invalid $expand: '{item}'.")
            for option in _split_top_level(rest[:-1], ";"):
                key, eq, value = option.strip().partition("=")
                if key.strip().lower() != "$select" or not eq:
                    raise unsupported_query(
                        f"Query option '{key.strip()}' is not supported inside $expand on "
                        "directory objects: only $select is.")
                select = tuple(p.strip() for p in value.split(",") if p.strip())
                if not select:
                    raise bad_request("Invalid $select inside $expand: no property named.")
        out.append(Expand(canonical, select))
    return tuple(out)
