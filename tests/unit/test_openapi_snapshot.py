"""The HTTP API is a contract with stations, apps and other cities' installations: the OpenAPI
document the app serves must match the committed snapshot. A refactor that changes a path, a
parameter, a schema or an error answer fails here.

To change the API on purpose, regenerate the snapshot and commit it with the change:
    ONECITY_UPDATE_OPENAPI_SNAPSHOT=1 .venv/bin/python -m pytest tests/unit/test_openapi_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi.testclient import TestClient

from onecity.app import create_app
from onecity.settings import Settings

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "openapi.json"


def _served(tmp_path: Path) -> dict[str, object]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        modules="waste,roadworks",
        run_workers=False,
    )
    with TestClient(create_app(settings)) as client:
        r = client.get("/openapi.json")
    assert r.status_code == 200
    doc: dict[str, object] = r.json()
    return doc


def _text(doc: dict[str, object]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def test_component_names_do_not_depend_on_where_the_code_lives(tmp_path: Path) -> None:
    """Two response models of the same class name make FastAPI name both components after
    their module paths (`onecity__waste__jobs_schemas__AlertOut`): moving a file would then
    change the API document. Models the API shows get names of their own."""
    schemas = _served(tmp_path)["components"]["schemas"]  # type: ignore[index]
    assert [name for name in schemas if name.startswith("onecity__")] == []


def test_openapi_document_matches_the_committed_snapshot(tmp_path: Path) -> None:
    served = _text(_served(tmp_path))
    if os.environ.get("ONECITY_UPDATE_OPENAPI_SNAPSHOT") == "1":
        SNAPSHOT.write_text(served, encoding="utf-8")
    committed = SNAPSHOT.read_text(encoding="utf-8")
    if served != committed:
        # Name the first paths that differ, so the failure says what changed.
        now = json.loads(served)
        then = json.loads(committed)
        changed = sorted(
            p
            for p in set(now["paths"]) | set(then["paths"])
            if now["paths"].get(p) != then["paths"].get(p)
        )
        schemas = sorted(
            s
            for s in set(now["components"]["schemas"]) | set(then["components"]["schemas"])
            if now["components"]["schemas"].get(s) != then["components"]["schemas"].get(s)
        )
        raise AssertionError(
            f"/openapi.json differs from tests/snapshots/openapi.json: paths {changed[:10]}, "
            f"schemas {schemas[:10]} (see this file's docstring to update it on purpose)"
        )
