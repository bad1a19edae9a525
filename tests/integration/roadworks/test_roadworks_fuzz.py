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
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from onecity.app import create_app
from onecity.bootstrap import seed_reference
from onecity.core.platform import Platform
from tests.conftest import PASSWORD, add_user, make_settings
from tests.integration.core.test_schemathesis import error_body_on_4xx
from tests.integration.roadworks.helpers import application, lay_pipe, setup_city

PREFIX = "/api/v1/roadworks"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    db = tmp_path_factory.mktemp("fuzz-roadworks") / "fuzz.db"
    shutil.copy(sqlite_template, db)
    p = Platform(make_settings(f"sqlite:///{db}", modules="roadworks"))
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


def _operations() -> list[tuple[str, str]]:
    doc = create_app(make_settings("sqlite:///:memory:", modules="roadworks")).openapi()
    return [
        (m.upper(), path)
        for path, ops in doc["paths"].items()
        for m in ops
        if path.startswith(PREFIX)
    ]


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
@pytest.mark.parametrize("method,path", _operations(), ids=lambda x: str(x))
def test_roadworks_api_has_no_server_errors(
    api: Any, method: str, path: str, mode: GenerationMode
) -> None:
    schema, admin = api
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=15,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": admin}
        response = case.call()
        case.validate_response(response, checks=[not_a_server_error])
        error_body_on_4xx(response, case)

    try:
        run()
    except Unsatisfiable:
        pytest.skip(f"no {mode.value} case can be expressed for {method} {path}")


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
