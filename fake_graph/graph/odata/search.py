"""``$search``: ``"property:term"`` clauses, double-quoted, joined by ``AND`` / ``OR``.

Matching is tokenised prefix matching, like Graph's search index: the property value is split
into words (on spaces, punctuation, ``@`` and camelCase boundaries) and every word of the term
must be a prefix of some word of the value, case-insensitively. ``"displayName:wal"`` matches
"Adele Walker"; ``"userPrincipalName:adele.va"`` matches ``adele.vance@contoso.com``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ...errors import bad_request
from .filter import Getter

_WORD_SPLIT = re.compile(r"[^0-9A-Za-z\u00c0-\uffff]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEARCH_CLAUSE = re.compile(r'\s*"([^"]*)"\s*')


@lru_cache(maxsize=262_144)
def cached_words(value: str) -> tuple[str, ...]:
    """``words`` memoised: a search over a 100,000-member unit re-tokenises nothing."""
    return tuple(words(value))


def words(value: str) -> list[str]:
    out: list[str] = []
    for chunk in _WORD_SPLIT.split(value):
        if chunk:
            out += [w.lower() for w in _CAMEL.split(chunk) if w]
            if any(c.isupper() for c in chunk[1:]):
                out.append(chunk.lower())  # "OneBrown" also matches "oneb..."
    return out


@dataclass(frozen=True)
class SearchClause:
    prop: str
    terms: tuple[str, ...]

    def matches(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        lowered = value.lower()
        # Fast reject: a term that prefixes a word is a substring of the value.
        if not all(t in lowered for t in self.terms):
            return False
        have = cached_words(value)
        return all(any(w.startswith(t) for w in have) for t in self.terms)


@dataclass(frozen=True)
class SearchQuery:
    """Clauses in disjunctive groups: ``a AND b OR c`` is ``[[a, b], [c]]``."""

    groups: tuple[tuple[SearchClause, ...], ...]

    @property
    def properties(self) -> set[str]:
        return {c.prop for g in self.groups for c in g}

    def matches(self, item: Any, get: Getter) -> bool:
        return any(all(c.matches(get(item, c.prop)) for c in g) for g in self.groups)


def parse_search(text: str) -> SearchQuery:
    rest = text.strip()
    groups: list[list[SearchClause]] = [[]]
    while True:
        m = _SEARCH_CLAUSE.match(rest)
        if m is None:
            raise bad_request(
                f"Invalid $search query '{text}': each clause is a double-quoted "
                "\"property:value\", joined by AND or OR.")
        clause = m.group(1)
        prop, sep, term = clause.partition(":")
        if not sep or not prop.strip() or not term.strip():
            raise bad_request(f"Invalid $search clause '{clause}': expected \"property:value\".")
        terms = tuple(words(term))
        if not terms:
            raise bad_request(f"Invalid $search clause '{clause}': the value has no words.")
        groups[-1].append(SearchClause(prop.strip(), terms))
        rest = rest[m.end():]
        if not rest:
            break
        op, _, rest = rest.partition(" ")
        if op == "OR":
            groups.append([])
        elif op != "AND":
            raise bad_request(f"Invalid $search query '{text}': expected AND or OR, got '{op}'.")
    return SearchQuery(tuple(tuple(g) for g in groups))
