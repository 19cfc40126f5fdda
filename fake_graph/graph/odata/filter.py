"""``$filter``: the subset directory endpoints need.

``eq``, ``ne``, ``in (...)``, ``startswith(p,'x')``, ``endswith(p,'x')``, ``not``, ``and``,
``or``, parentheses. Each endpoint names the properties it supports (``query.check_properties``);
anything else is ``400 Request_UnsupportedQuery``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import GraphErrorResult, bad_request, unsupported_query

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
