"""No import cycles anywhere under src/onecity: a module graph built from every import
statement, at module level, under `if TYPE_CHECKING:` and inside functions alike. A cycle
hidden behind a late import is still a cycle: the two modules cannot be understood, tested or
moved apart. The failure prints each cycle with the file and line of every import on it.

Edges are what the statements name: `import a.b` and `from a import b` (b a submodule) point
at a.b; `from a.b import name` points at a.b. Relative imports are resolved. The parent
packages Python also runs on the way (a's `__init__`) are not edges: package `__init__` files
are kept empty, and an import-linter contract would not count them either."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "onecity"


@dataclass(frozen=True)
class Edge:
    target: str
    where: str  # "path:line" of the import statement


def module_names(src: Path, root: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the `root` package."""
    found: dict[str, Path] = {}
    for path in sorted((src / root).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` statement imports from."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> Iterator[Edge]:
    """Every in-package module the file imports, wherever in the file the statement sits."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    rel = path.relative_to(SRC.parent) if path.is_relative_to(SRC.parent) else path
    for node in ast.walk(tree):
        where = f"{rel}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield Edge(alias.name, where)
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if alias.name != "*" and sub in known:
                    yield Edge(sub, where)
                elif base in known:
                    yield Edge(base, where)


def graph(src: Path = SRC, root: str = ROOT) -> dict[str, dict[str, str]]:
    """module -> {imported module: where the first such import is}."""
    known = module_names(src, root)
    out: dict[str, dict[str, str]] = {}
    for module, path in known.items():
        edges: dict[str, str] = {}
        for e in imports_of(module, path, known):
            if e.target != module:
                edges.setdefault(e.target, e.where)
        out[module] = edges
    return out


def components(g: Mapping[str, Mapping[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(g):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(g[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members: list[str] = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    members.append(m)
                    if m == node:
                        break
                if len(members) > 1:
                    found.append(sorted(members))
    return sorted(found)


def shortest_cycle(g: Mapping[str, Mapping[str, str]], members: list[str]) -> list[str]:
    """A shortest cycle through the component's first module, as a path that ends where it
    starts (breadth-first inside the component)."""
    inside = set(members)
    start = members[0]
    came: dict[str, str] = {}
    queue = [start]
    while queue:
        nxt: list[str] = []
        for node in queue:
            for child in sorted(g[node]):
                if child not in inside:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in came:
                    came[child] = node
                    nxt.append(child)
        queue = nxt
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def describe(g: Mapping[str, Mapping[str, str]]) -> list[str]:
    """One paragraph per cycle: the modules caught in it, and one cycle with its imports."""
    out = []
    for members in components(g):
        path = shortest_cycle(g, members)
        steps = "\n".join(f"    {a} -> {b}   ({g[a][b]})" for a, b in pairwise(path))
        out.append(f"cycle among {len(members)} modules: {', '.join(members)}\n{steps}")
    return out


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    pkg = tmp_path / "demo"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from demo.b import B\n"
        "def late():\n    import demo.c\n"
        "from . import sub\n"
    )
    (pkg / "b.py").write_text("from .sub import d\n")
    (pkg / "c.py").write_text("")
    (pkg / "sub" / "d.py").write_text("from ..a import late\n")
    g = graph(tmp_path, "demo")
    assert set(g["demo.a"]) == {"demo.b", "demo.c", "demo.sub"}
    assert set(g["demo.b"]) == {"demo.sub.d"}
    assert set(g["demo.sub.d"]) == {"demo.a"}
    assert components(g) == [["demo.a", "demo.b", "demo.sub.d"]]
    assert shortest_cycle(g, ["demo.a", "demo.b", "demo.sub.d"]) == [
        "demo.a",
        "demo.b",
        "demo.sub.d",
        "demo.a",
    ]


def test_no_import_cycles_under_src_onecity() -> None:
    found = describe(graph())
    assert not found, "import cycles (break each by moving what both need):\n" + "\n".join(found)
