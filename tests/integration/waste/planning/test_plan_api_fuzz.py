"""The collection planning API fuzzed from its own OpenAPI schema (schemathesis), as the core's
is in tests/integration/core/test_schemathesis.py: nothing a client sends may cause a 5xx, and
every 4xx carries the platform's error body. SQLite, one app, state kept between cases."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis import GenerationMode

from onecity.app import create_app
from onecity.bootstrap import seed_reference
from onecity.core.modules import start_platform
from tests.conftest import PASSWORD, add_user, make_settings
from tests.integration.fuzzing import fuzz, operations

PLANNING = (
    "/api/v1/waste/trucks",
    "/api/v1/waste/plan",
    "/api/v1/waste/my-route",
    "/api/v1/waste/simulations",
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    db = tmp_path_factory.mktemp("fuzz-plans") / "fuzz.db"
    shutil.copy(sqlite_template, db)
    p = start_platform(make_settings(f"sqlite:///{db}", modules="waste"))
    seed_reference(p)
    add_user(p, "root.admin", "admin", "doit")
    app = create_app(p.settings, p)
    with TestClient(app) as c:
        h = {"Authorization": f"Bearer {p.auth.login('root.admin', PASSWORD, None).token}"}
        c.post(
            "/api/v1/waste/trucks",
            headers=h,
            json={
                "id": "T1",
                "name": "truck",
                "depot_name": "depot",
                "depot": {"type": "Point", "coordinates": [121.5645, 25.0375]},
                "capacity_kg": 4000,
                "capacity_m3": 16,
                "shift_start": "00:00",
                "shift_end": "24:00",
            },
        )
        yield schemathesis.openapi.from_asgi("/openapi.json", app), h["Authorization"]
    p.db.dispose()


def _short_budget(case: Any) -> None:
    seconds = case.body.get("seconds") if isinstance(case.body, dict) else None
    if type(seconds) in (int, float) and 0 < seconds <= 60:
        case.body["seconds"] = 0.2  # a valid budget, kept short: the fuzz is about input


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
@pytest.mark.parametrize("method,path", operations("waste", PLANNING), ids=lambda x: str(x))
def test_planning_api_has_no_server_errors(
    api: Any, method: str, path: str, mode: GenerationMode
) -> None:
    schema, admin = api
    fuzz(schema, method, path, mode, admin, max_examples=20, tweak=_short_budget)


def test_a_day_far_ahead_is_refused_not_overflowed(api: Any) -> None:
    """Found by hand: 9999-12-31 overflowed the date arithmetic into a 500."""
    schema, admin = api
    client = TestClient(schema.app)
    for day in ("9999-12-31", "2100-01-01"):
        r = client.post("/api/v1/waste/plans", headers={"Authorization": admin}, json={"day": day})
        assert r.status_code == 422 and r.json()["field"] == "day", r.text
