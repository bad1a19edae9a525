"""Every road works route fuzzed from its own OpenAPI schema (schemathesis), as the core's and
the planner's are: nothing a client sends may cause a 5xx, and every 4xx carries the platform's
error body. SQLite, one app with a small city of organisations, pipes and one permit."""

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
from tests.integration.roadworks.helpers import application, lay_pipe, setup_city

PREFIX = "/api/v1/roadworks"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    db = tmp_path_factory.mktemp("fuzz-roadworks") / "fuzz.db"
    shutil.copy(sqlite_template, db)
    p = start_platform(make_settings(f"sqlite:///{db}", modules="roadworks"))
    seed_reference(p)
    add_user(p, "root.admin", "admin", "doit")
    app = create_app(p.settings, p)
    with TestClient(app) as c:
        heads = setup_city(c, p)
        lay_pipe(p, "twc", "water", 0.00005, 1.2)
        r = c.post(f"{PREFIX}/permits", json=application(), headers=heads["twc.staff"])
        assert r.status_code == 201, r.text
        h = {"Authorization": f"Bearer {p.auth.login('root.admin', PASSWORD, None).token}"}
        yield schemathesis.openapi.from_asgi("/openapi.json", app), h["Authorization"]
    p.db.dispose()


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
@pytest.mark.parametrize("method,path", operations("roadworks", (PREFIX,)), ids=lambda x: str(x))
def test_roadworks_api_has_no_server_errors(
    api: Any, method: str, path: str, mode: GenerationMode
) -> None:
    schema, admin = api
    fuzz(schema, method, path, mode, admin, max_examples=15)


def test_dates_at_the_ends_of_the_calendar_are_refused(api: Any) -> None:
    schema, admin = api
    client = TestClient(schema.app)
    for start, end in (("9999-12-30", "9999-12-31"), ("0001-01-01", "0001-01-02")):
        r = client.post(
            f"{PREFIX}/permits/check",
            headers={"Authorization": admin},
            json=application(start_date=start, end_date=end),
        )
        assert r.status_code == 422 and r.json()["field"] == "start_date", r.text
