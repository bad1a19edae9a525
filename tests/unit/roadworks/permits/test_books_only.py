"""Only permits/books.py sets a permit's status: no other roadworks module assigns `.status`
or passes `status=` to Permit(...). The demo's bulk import writes the snapshot's statuses of
historic works as they were on that day, so it is the one exception."""

from __future__ import annotations

import ast
from pathlib import Path

import onecity.roadworks

ROOT = Path(onecity.roadworks.__file__).parent
BOOKS = ROOT / "permits" / "books.py"
# Seeding the demo from a day's snapshot: rows enter in the status they had, not by moves.
SNAPSHOT_LOADERS = {ROOT / "demo" / "city.py"}


def _status_writes(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Attribute) and sub.attr == "status":
                    lines.append(node.lineno)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Permit":
            lines += [node.lineno for kw in node.keywords if kw.arg == "status"]
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("update", "values"):
            lines += [node.lineno for kw in node.keywords if kw.arg == "status"]
    return lines


def test_only_the_books_set_a_permit_status() -> None:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        if path == BOOKS or path in SNAPSHOT_LOADERS:
            continue
        hits = _status_writes(ast.parse(path.read_text(encoding="utf-8")))
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    assert found == {}


def test_the_books_do_set_it() -> None:
    # The check above would pass vacuously if the books stopped assigning the status.
    assert _status_writes(ast.parse(BOOKS.read_text(encoding="utf-8")))
