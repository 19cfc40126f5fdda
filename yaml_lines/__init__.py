"""Safe YAML loading that remembers line numbers and refuses duplicate keys.

A leaf that neither mystaff_proxy nor fake_graph owns: both read their line-numbered files
through it, so the fake does not depend on the proxy it is used to test.

Both the policy file and fake_graph's tenant file report errors as ``PATH:LINE: message``;
this module is the one place that knows how to get lines out of PyYAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """A problem in a YAML file, located at a line (1-based)."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


class LineDict(dict[str, Any]):
    """A mapping that knows its own line and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence that knows its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


class _DuplicateKey(Exception):
    def __init__(self, line: int, key: str) -> None:
        super().__init__(key)
        self.line = line
        self.key = key


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        line = key_node.start_mark.line + 1
        if key in result:
            raise _DuplicateKey(line, key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def loads(text: str, path: str = "<string>") -> Any:
    """Parse YAML text; mappings become LineDict, sequences LineList."""
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise YamlFileError(path, exc.line, f"duplicate key '{exc.key}'") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlFileError(path, line, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlFileError(path, 1, f"invalid YAML: {exc}") from None


def load(path: str | Path) -> Any:
    """Read and parse a YAML file; the path appears in errors as given."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlFileError(name, 0, f"cannot read file: {exc.strerror}") from None
    return loads(text, name)


# -- a fast path for large files ----------------------------------------------------------------
#
# PyYAML's pure-Python loader takes ~10 s for a 5 MB policy (20,000 assignments) and even its
# libyaml composer ~2.5 s. ``loads_fast`` reads libyaml's *event* stream and builds the same
# LineDict / LineList directly, resolving plain scalars with the same resolver and constructor.
# Anything unusual (aliases, merge keys, explicit tags, complex keys, a syntax error, no libyaml)
# falls back to ``loads``, so results and error messages are the same as ``loads``.


class _Unusual(Exception):
    pass


_STR_TAG = "tag:yaml.org,2002:str"


def _build_fast(text: str, path: str) -> Any:
    parser = yaml.CSafeLoader(text)
    try:
        return _build_events(parser)
    finally:
        parser.dispose()


def _build_events(parser: Any) -> Any:
    resolver = yaml.SafeLoader("")
    scalar_cache: dict[str, Any] = {}
    stack: list[Any] = []  # open containers: LineDict or LineList
    pending: list[Any] = []  # per open container: the mapping key waiting for its value
    root: Any = None
    documents = 0
    top: Any = None
    key: Any = _NO_KEY
    scalar_event, map_start, seq_start = yaml.ScalarEvent, yaml.MappingStartEvent, \
        yaml.SequenceStartEvent
    map_end, seq_end, alias, doc_start = yaml.MappingEndEvent, yaml.SequenceEndEvent, \
        yaml.AliasEvent, yaml.DocumentStartEvent
    get_event = parser.get_event

    while True:
        event = get_event()
        if event is None:
            return root
        cls = type(event)
        value: Any
        container: Any
        if cls is scalar_event:
            # Anchors alone are harmless: an alias (the only way to use one) falls back.
            if event.tag is not None:
                raise _Unusual
            value = event.value
            if not event.style and event.implicit[0]:
                if value in scalar_cache:
                    value = scalar_cache[value]
                else:
                    raw = value
                    tag = resolver.resolve(yaml.ScalarNode, raw, (True, False))  # type: ignore[no-untyped-call]
                    if tag != _STR_TAG:
                        value = resolver.construct_object(yaml.ScalarNode(tag, raw), deep=True)
                    if isinstance(value, str | int | float | bool | None):
                        scalar_cache[raw] = value
            container = None
        elif cls is map_start or cls is seq_start:
            if event.tag is not None:
                raise _Unusual
            if cls is map_start:
                container = LineDict()
                container.key_lines = {}
            else:
                container = LineList()
                container.item_lines = []
            container.line = event.start_mark.line + 1
            value = container
        elif cls is map_end or cls is seq_end:
            stack.pop()
            key = pending.pop()
            top = stack[-1] if stack else None
            continue
        elif cls is alias:
            raise _Unusual
        else:
            if cls is doc_start:
                documents += 1
                if documents > 1:
                    raise _Unusual  # several documents: let ``loads`` report it
            continue
        # place ``value``
        if top is None:
            root = value
        elif type(top) is LineList:
            top.append(value)
            top.item_lines.append(event.start_mark.line + 1)
        elif key is _NO_KEY:
            if container is not None:
                raise _Unusual
            key = value if isinstance(value, str) else str(value)
            if key == "<<":
                raise _Unusual
            line = event.start_mark.line + 1
            if key in top:
                raise _DuplicateKey(line, key)
            top.key_lines[key] = line
            continue
        else:
            top[key] = value
            key = _NO_KEY
        if container is not None:
            stack.append(container)
            pending.append(key)
            top, key = container, _NO_KEY


class _NoKey:
    pass


_NO_KEY: Any = _NoKey()


def loads_fast(text: str, path: str = "<string>") -> Any:
    """``loads`` with the same result, several times faster on large files (needs libyaml)."""
    if not getattr(yaml, "__with_libyaml__", False):
        return loads(text, path)
    try:
        return _build_fast(text, path)
    except _DuplicateKey as exc:
        raise YamlFileError(path, exc.line, f"duplicate key '{exc.key}'") from None
    except (_Unusual, yaml.YAMLError):
        return loads(text, path)
