"""fake_graph's import graph: it never imports the proxy, and its modules form no cycle.

Built with grimp from the source, so every import counts, function-level and
``if TYPE_CHECKING:`` ones included. A package's ``__init__`` importing its own modules is an
ordinary edge (``fake_graph.graph`` -> ``fake_graph.graph.dispatch``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import grimp
import pytest

PACKAGE = "fake_graph"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # No cache: a stale one would hide an edit made within the same second.
    return grimp.build_graph(PACKAGE, "mystaff_proxy", cache_dir=None)


def _own(modules: Iterable[str]) -> set[str]:
    return {m for m in modules if m == PACKAGE or m.startswith(PACKAGE + ".")}


def strongly_connected(nodes: set[str], edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """Tarjan's strongly connected components (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                yield sorted(component)


def test_tarjan_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    components = sorted(c for c in strongly_connected(set(edges), edges) if len(c) > 1)
    assert components == [["a", "b", "c"]]


def test_fake_graph_never_imports_mystaff_proxy(graph: grimp.ImportGraph) -> None:
    offenders = sorted(
        f"{m} -> {imported}"
        for m in _own(graph.modules)
        for imported in graph.find_modules_directly_imported_by(m)
        if imported == "mystaff_proxy" or imported.startswith("mystaff_proxy.")
    )
    assert offenders == []
    assert graph.find_shortest_chain(importer=PACKAGE, imported="mystaff_proxy",
                                     as_packages=True) is None


def test_fake_graph_has_no_import_cycle(graph: grimp.ImportGraph) -> None:
    nodes = _own(graph.modules)
    edges = {m: _own(graph.find_modules_directly_imported_by(m)) for m in nodes}
    cycles = [c for c in strongly_connected(nodes, edges)
              if len(c) > 1 or c[0] in edges[c[0]]]
    assert cycles == []
