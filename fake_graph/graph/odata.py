"""OData query options as Graph's directory endpoints accept them.

- ``$select``, ``$top`` (1..999; default page size 100), ``$count``, ``$skiptoken``.
- ``$search``: ``"property:term"`` clauses, double-quoted, joined by ``AND`` / ``OR``. Matching is
  tokenised prefix matching, like Graph's search index: the property value is split into words
  (on spaces, punctuation, ``@`` and camelCase boundaries) and every word of the term must be a
  prefix of some word of the value, case-insensitively. ``"displayName:wal"`` matches
  "Adele Walker"; ``"userPrincipalName:adele.va"`` matches ``adele.vance@contoso.com``.
- ``$filter``: the subset directory endpoints need: ``eq``, ``ne``, ``in (...)``,
  ``startswith(p,'x')``, ``endswith(p,'x')``, ``not``, ``and``, ``or``, parentheses. Each endpoint
  names the properties it supports; anything else is ``400 Request_UnsupportedQuery``.
- The advanced-query rule (graph-and-entra-facts §3, G-AQ): ``$search`` needs the header
  ``ConsistencyLevel: eventual``; ``$count`` needs it too; ``ne`` / ``not`` / ``endswith`` need the
  header and ``$count=true``; on relationships (``members``, ``memberOf``, ...) ``$filter``,
  ``$search`` and OData casts need the header and ``$count=true`` (§2.1, §2.2).
- ``$expand``: only where an endpoint implements it (``GraphRequest.expanding``); elsewhere it is
  refused. ``rel`` or ``rel($select=a,b)``; no other option nested. As real Graph does for
  directory objects, an expanded relationship holds at most 20 objects (no nextLink inside),
  a page of a collection with ``$expand`` holds at most 100 items, and ``$expand`` is refused in
  advanced queries (``ConsistencyLevel: eventual`` with ``$count`` or ``$search``).
- Paging: ``@odata.nextLink`` is absolute (built from the fake's base URL), keeps the query and
  adds an opaque ``$skiptoken`` bound to that query; ``@odata.count`` only on the first page.
  The header is not remembered across pages: as with real Graph, a client re-sends it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from ..errors import GraphErrorResult, bad_request, unsupported_query

if TYPE_CHECKING:
    from .context import GraphRequest

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999
# Directory objects with $expand: at most 20 objects in an expanded relationship, and at most
# 100 items in a page whatever $top says (Graph's known limitations of $expand).
MAX_EXPANDED = 20
MAX_EXPAND_PAGE_SIZE = 100
ADVANCED_QUERIES_URL = "https://aka.ms/graph-docs/advanced-queries"
_KNOWN_OPTIONS = {"$select", "$top", "$count", "$search", "$filter", "$skiptoken", "$expand"}
# Recognised but not implemented by the fake: refused rather than silently ignored, so a
# program never relies on an option the fake did not apply. ($expand too, on the endpoints that
# do not implement it.)
_UNIMPLEMENTED = {"$orderby", "$skip", "$format", "$apply", "$compute"}


# -- $search -------------------------------------------------------------------------------

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


# -- $filter -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w-])"
    r"|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<ident>[A-Za-z_$][\w./]*)|(?P<punct>[(),]))"
)


Getter = Callable[[Any, str], Any]  # (item, property name) -> value


class Node:
    def evaluate(self, item: Any, get: Getter) -> bool:
        raise NotImplementedError


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@dataclass(frozen=True)
class Compare(Node):
    prop: str
    op: str  # eq | ne
    value: Any

    def evaluate(self, item: Any, get: Getter) -> bool:
        equal = _fold(get(item, self.prop)) == _fold(self.value)
        return equal if self.op == "eq" else not equal


@dataclass(frozen=True)
class In(Node):
    prop: str
    values: tuple[Any, ...]

    def evaluate(self, item: Any, get: Getter) -> bool:
        return _fold(get(item, self.prop)) in {_fold(v) for v in self.values}


@dataclass(frozen=True)
class Func(Node):
    name: str  # startswith | endswith
    prop: str
    value: str

    def evaluate(self, item: Any, get: Getter) -> bool:
        have = get(item, self.prop)
        if not isinstance(have, str):
            return False
        h, v = have.lower(), self.value.lower()
        return h.startswith(v) if self.name == "startswith" else h.endswith(v)


@dataclass(frozen=True)
class Not(Node):
    inner: Node

    def evaluate(self, item: Any, get: Getter) -> bool:
        return not self.inner.evaluate(item, get)


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # and | or
    left: Node
    right: Node

    def evaluate(self, item: Any, get: Getter) -> bool:
        if self.op == "and":
            return self.left.evaluate(item, get) and self.right.evaluate(item, get)
        return self.left.evaluate(item, get) or self.right.evaluate(item, get)


@dataclass
class FilterExpr:
    text: str
    root: Node
    operators: set[str] = field(default_factory=set)  # in source order of first use
    properties: set[str] = field(default_factory=set)
    first_operator: dict[str, int] = field(default_factory=dict)

    def matches(self, item: Any, get: Getter) -> bool:
        return self.root.evaluate(item, get)

    def advanced_operator(self) -> str | None:
        """The first operator that makes this an advanced query, if any."""
        advanced = [op for op in ("ne", "not", "endswith") if op in self.operators]
        return min(advanced, key=lambda op: self.first_operator[op]) if advanced else None


class _FilterParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        stripped = text.rstrip()
        while pos < len(stripped):
            m = _TOKEN.match(stripped, pos)
            if m is None or m.end() == pos:
                raise self.error(f"syntax error at position {pos}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0
        self.expr = FilterExpr(text, Compare("", "eq", None))

    def error(self, detail: str) -> GraphErrorResult:
        return bad_request(f"Invalid filter clause: {detail} in '{self.text}'.")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of expression")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        _, got = self.take()
        if got.lower() != value:
            raise self.error(f"expected '{value}', got '{got}'")

    def note(self, op: str) -> None:
        self.expr.operators.add(op)
        self.expr.first_operator.setdefault(op, self.i)

    def parse(self) -> FilterExpr:
        if not self.tokens:
            raise self.error("empty expression")
        self.expr.root = self.or_expr()
        if self.peek() is not None:
            raise self.error(f"unexpected '{self.peek()[1]}'")  # type: ignore[index]
        return self.expr

    def or_expr(self) -> Node:
        node = self.and_expr()
        while (tok := self.peek()) and tok[0] == "ident" and tok[1].lower() == "or":
            self.take()
            self.note("or")
            node = BoolOp("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.unary()
        while (tok := self.peek()) and tok[0] == "ident" and tok[1].lower() == "and":
            self.take()
            self.note("and")
            node = BoolOp("and", node, self.unary())
        return node

    def unary(self) -> Node:
        kind, value = self.take()
        if kind == "punct" and value == "(":
            node = self.or_expr()
            self.expect(")")
            return node
        if kind != "ident":
            raise self.error(f"unexpected '{value}'")
        lowered = value.lower()
        if lowered == "not":
            self.note("not")
            return Not(self.unary())
        if lowered in ("startswith", "endswith") and (nxt := self.peek()) and nxt[1] == "(":
            self.take()
            self.note(lowered)
            prop = self.prop()
            self.expect(",")
            literal = self.literal()
            self.expect(")")
            if not isinstance(literal, str):
                raise self.error(f"{lowered} needs a string")
            return Func(lowered, prop, literal)
        if (nxt := self.peek()) and nxt[1] == "(":
            raise unsupported_query(f"Unsupported Query. The function '{value}' is not "
                                    "supported.")
        self.i -= 1
        prop = self.prop()
        _, op = self.take()
        op = op.lower()
        if op in ("eq", "ne"):
            self.note(op)
            return Compare(prop, op, self.literal())
        if op == "in":
            self.note("in")
            self.expect("(")
            values = [self.literal()]
            while (tok := self.peek()) and tok[1] == ",":
                self.take()
                values.append(self.literal())
            self.expect(")")
            return In(prop, tuple(values))
        if op in ("gt", "ge", "lt", "le", "has", "any", "all"):
            raise unsupported_query(f"Unsupported Query. The operator '{op}' is not supported "
                                    "on this property.")
        raise self.error(f"unknown operator '{op}'")

    def prop(self) -> str:
        kind, value = self.take()
        if kind != "ident":
            raise self.error(f"expected a property name, got '{value}'")
        self.expr.properties.add(value)
        return value

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "guid":
            return value
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "ident" and value in ("true", "false"):
            return value == "true"
        if kind == "ident" and value == "null":
            return None
        raise self.error(f"expected a literal, got '{value}'")


def parse_filter(text: str) -> FilterExpr:
    return _FilterParser(text).parse()


# -- $expand -------------------------------------------------------------------------------


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


# -- the query as a whole ------------------------------------------------------------------


@dataclass
class ODataQuery:
    raw: dict[str, str]
    select: tuple[str, ...] | None = None
    top: int | None = None
    count: bool = False
    search: SearchQuery | None = None
    filter: FilterExpr | None = None
    skiptoken: str | None = None
    expand: tuple[Expand, ...] = ()

    @property
    def page_size(self) -> int:
        if self.expand:
            return min(self.top or DEFAULT_PAGE_SIZE, MAX_EXPAND_PAGE_SIZE)
        return self.top or DEFAULT_PAGE_SIZE

    def expanded(self, name: str) -> Expand | None:
        return next((e for e in self.expand if e.name == name), None)


def parse_query(query: dict[str, str], expandable: Sequence[str] = (),
                type_name: str = "entity") -> ODataQuery:
    """The query options; ``$expand`` is refused unless ``expandable`` names relationships
    the endpoint can expand (``type_name``: its resource type, for error messages)."""
    for name in query:
        if name in _UNIMPLEMENTED or (name == "$expand" and not expandable):
            raise unsupported_query(f"fake_graph does not implement the query option '{name}'.")
        if name.startswith("$") and name not in _KNOWN_OPTIONS:
            raise bad_request(f"Query option '{name}' is not supported.")
    q = ODataQuery(raw=dict(query))
    if "$select" in query:
        q.select = tuple(p.strip() for p in query["$select"].split(",") if p.strip())
        if not q.select:
            raise bad_request("Invalid $select: no property named.")
    if "$expand" in query:
        q.expand = parse_expand(query["$expand"], expandable, type_name)
    if "$top" in query:
        text = query["$top"].strip()
        if not re.fullmatch(r"-?\d+", text):
            raise bad_request(f"Invalid value '{text}' for query option '$top'.")
        top = int(text)
        if not 1 <= top <= MAX_PAGE_SIZE:
            raise bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and "
                              f"{MAX_PAGE_SIZE} inclusive.")
        q.top = top
    if "$count" in query:
        value = query["$count"].strip().lower()
        if value not in ("true", "false"):
            raise bad_request(f"Invalid value '{query['$count']}' for query option '$count'.")
        q.count = value == "true"
    if "$search" in query:
        q.search = parse_search(query["$search"])
    if "$filter" in query:
        q.filter = parse_filter(query["$filter"])
    if "$skiptoken" in query:
        q.skiptoken = query["$skiptoken"]
    return q


def check_properties(q: ODataQuery, *, filterable: Iterable[str], searchable: Iterable[str],
                     type_name: str, filter_ops: Iterable[str] | None = None) -> None:
    """Refuse ``$filter`` / ``$search`` on properties (or operators) this endpoint lacks."""
    if q.filter is not None:
        allowed = set(filterable)
        for prop in sorted(q.filter.properties):
            if prop not in allowed:
                raise unsupported_query(
                    "Unsupported or invalid query filter clause specified for property "
                    f"'{prop}' of resource '{type_name}'.")
        if filter_ops is not None:
            ops = set(filter_ops)
            for op in sorted(q.filter.operators - ops):
                raise unsupported_query(
                    f"Unsupported Query. The operator '{op}' is not supported on "
                    f"'{type_name}'.")
    if q.search is not None:
        allowed = set(searchable)
        for prop in sorted(q.search.properties):
            if prop not in allowed:
                raise bad_request(
                    f"Invalid $search: property '{prop}' of resource '{type_name}' is not "
                    "searchable.")


def require_advanced(req: GraphRequest, *, relationship: bool = False,
                     cast: str | None = None) -> None:
    """Enforce the advanced-query rule; the messages are real Graph's where known."""
    q = req.odata
    eventual = req.eventual
    if q.expand and eventual and (q.count or q.search is not None):
        raise unsupported_query(
            "$expand is not supported in advanced queries (the 'ConsistencyLevel: eventual' "
            f"header with $count or $search). Refer to {ADVANCED_QUERIES_URL} for more "
            "information")
    if q.search is not None and not eventual:
        raise unsupported_query(
            "Request with $search query parameter only works through MSGraph with a special "
            "request header: 'ConsistencyLevel: eventual'")
    if q.count and not eventual:
        raise bad_request("$count is not currently supported.")
    full = eventual and q.count
    if q.filter is not None:
        op = q.filter.advanced_operator()
        if op is not None and not eventual:
            raise unsupported_query(
                f"Operator '{op}' is not supported because the 'ConsistencyLevel:eventual' "
                f"header is missing. Refer to {ADVANCED_QUERIES_URL} for more information")
        if op is not None and not full:
            raise unsupported_query(
                f"Operator '{op}' is not supported because the required parameters might be "
                "missing. Try adding $count with a value of true and the ConsistencyLevel "
                "header with a value of eventual.")
        if relationship and not full:
            raise unsupported_query(
                "The specified filter to the reference property query is currently not "
                "supported.")
    if relationship and q.search is not None and not full:
        raise unsupported_query(
            "$search on a relationship is an advanced query: it needs the header "
            f"'ConsistencyLevel: eventual' and $count=true. Refer to {ADVANCED_QUERIES_URL} "
            "for more information")
    if cast is not None and not full:
        raise unsupported_query(
            f"The OData cast to '{cast}' on a relationship is an advanced query: it needs the "
            f"header 'ConsistencyLevel: eventual' and $count=true. Refer to "
            f"{ADVANCED_QUERIES_URL} for more information")


# -- paging --------------------------------------------------------------------------------


def _query_digest(path: str, raw: dict[str, str]) -> str:
    canonical = json.dumps([path.lower(), sorted((k, v) for k, v in raw.items()
                                                 if k != "$skiptoken")])
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _encode_skiptoken(offset: int, digest: str) -> str:
    payload = json.dumps({"o": offset, "q": digest}, separators=(",", ":")).encode()
    return "RFNwdAIA" + base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _decode_skiptoken(token: str, digest: str) -> int:
    expired = GraphErrorResult(
        400, "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your "
        "request.")
    if not token.startswith("RFNwdAIA"):
        raise expired
    body = token[len("RFNwdAIA"):]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        offset = int(data["o"])
        same_query = data["q"] == digest
    except (ValueError, KeyError, TypeError):
        raise expired from None
    if not same_query or offset < 0:
        raise expired
    return offset


def next_link(req: GraphRequest, offset: int) -> str:
    raw = {k: v for k, v in req.query.items() if k != "$skiptoken"}
    token = _encode_skiptoken(offset, _query_digest(req.path, raw))
    parts = [f"{quote(k, safe='$')}={quote(v, safe=_SAFE)}" for k, v in raw.items()]
    parts.append(f"$skiptoken={token}")
    return f"{req.base_url}/v1.0{req.path}?{'&'.join(parts)}"


_SAFE = "$,'()*:@/=!"


def paged(req: GraphRequest, items: Sequence[T], render: Callable[[T], dict[str, Any]],
          context: str, accept: Callable[[T], bool] | None = None) -> dict[str, Any]:
    """One page of ``items`` (those ``accept`` keeps), rendered, with count and nextLink.

    The skiptoken holds an index into ``items``, so a page costs O(page + skipped items), not
    O(all items): ``items`` must keep a stable order between pages (insertion order does).
    """
    q = req.odata
    offset = 0
    if q.skiptoken is not None:
        offset = _decode_skiptoken(q.skiptoken, _query_digest(req.path, req.query))
    size = q.page_size
    counting = q.count and q.skiptoken is None
    values: list[dict[str, Any]] = []
    n = len(items)
    next_index: int | None = None
    if accept is None:
        values = [render(item) for item in items[offset:offset + size]]
        next_index = offset + size if offset + size < n else None
        matched = n
    else:
        # One pass: the page, the index of the first item of the next page (so that the last
        # page carries no nextLink) and, on page 1 with $count, the total.
        matched = 0
        for i in range(offset, n):
            item = items[i]
            if not accept(item):
                continue
            if len(values) < size:
                values.append(render(item))
            elif next_index is None:
                next_index = i
                if not counting:
                    break
            matched += 1
    body: dict[str, Any] = {"@odata.context": req.context_url(context)}
    if counting:
        body["@odata.count"] = matched
    if next_index is not None:
        body["@odata.nextLink"] = next_link(req, next_index)
    body["value"] = values
    return body


def matcher(q: ODataQuery, get: Callable[[T, str], Any]) -> Callable[[T], bool] | None:
    """A predicate for ``$filter`` and ``$search`` (None when neither is given)."""
    flt, search = q.filter, q.search
    if flt is None and search is None:
        return None

    def accept(item: T) -> bool:
        if flt is not None and not flt.matches(item, get):
            return False
        return search is None or search.matches(item, get)

    return accept
