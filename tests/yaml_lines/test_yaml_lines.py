"""``loads_fast`` must give exactly what ``loads`` gives: values, types, lines and errors."""

from __future__ import annotations

from typing import Any

import pytest

from yaml_lines import LineDict, LineList, YamlFileError, loads, loads_fast


def _same(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    if isinstance(a, LineDict):
        assert (a.line, a.key_lines, list(a)) == (b.line, b.key_lines, list(b))
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, LineList):
        assert (a.line, a.item_lines, len(a)) == (b.line, b.item_lines, len(b))
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b


DOCS = [
    "a: 1\nb: [x, 'y', 2.5, true, null, ~, 2020-01-01, '', \"q\"]\n"
    "c:\n  - {d: e}\n  - [1, {f: [g]}]\n",
    "- a\n- b: c\n  d:\n    - 1\n    -\n      e: f\n",
    "x", "", "1: 2\nyes: no\n", "a: &x 1\nb: *x\n",
    "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",
    "!!str 1", "{[a]: b}", "a: |\n  text\n  more\nb: >\n  folded\n",
]


@pytest.mark.parametrize("text", DOCS)
def test_same_as_loads(text: str) -> None:
    _same(loads_fast(text, "f"), loads(text, "f"))


@pytest.mark.parametrize("text", ["a: 1\na: 2\n", "a: [\n", "a: b\n---\nc: d\n",
                                  "l:\n  - {k: 1, k: 2}\n"])
def test_same_errors(text: str) -> None:
    with pytest.raises(YamlFileError) as slow:
        loads(text, "f.yaml")
    with pytest.raises(YamlFileError) as fast:
        loads_fast(text, "f.yaml")
    assert str(fast.value) == str(slow.value)
    assert fast.value.line == slow.value.line
