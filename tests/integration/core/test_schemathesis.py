"""Property-based tests of the whole HTTP API from its own OpenAPI schema (schemathesis 4).

Every operation gets generated requests, valid and invalid. Nothing a client sends may cause a
5xx, and every 4xx must carry the platform's error body. SQLite only, to stay fast: the same
handlers run on PostgreSQL in the other integration tests."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
from onecity.core import alerts
from onecity.core.modules import start_platform
from tests.conftest import PASSWORD, add_user, make_settings


@dataclass
class Api:
    schema: Any
    admin: str
    device_key: str


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Api]:
    """One app for every operation: state built up by one case is there for the next."""
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    shutil.copy(sqlite_template, db)
    p = start_platform(make_settings(f"sqlite:///{db}"))
    seed_reference(p)
    add_user(p, "root.admin", "admin", "doit")
    app = create_app(p.settings, p)
    with TestClient(app) as c:
        h = {"Authorization": f"Bearer {p.auth.login('root.admin', PASSWORD, None).token}"}
        # Something for generated ids to find now and then.
        c.post(
            "/api/v1/devices",
            headers=h,
            json={
                "id": "bin-1",
                "name": "Bin",
                "type": "litter_bin",
                "department": "epb",
                "location": {"type": "Point", "coordinates": [121.5645, 25.0375]},
            },
        )
        key = c.post("/api/v1/devices/bin-1/keys", headers=h).json()["key"]
        now = int(time.time() * 1000)
        c.post(
            "/api/v1/telemetry",
            headers={"X-Device-Key": key},
            json={
                "messages": [
                    {"seq": i, "ts": now - 60_000 + i, "values": {"fill": i / 10}} for i in range(5)
                ]
            },
        )
        c.post(
            "/api/v1/alert-rules",
            headers=h,
            json={
                "name": "full",
                "key": "fill",
                "direction": "above",
                "raise_at": 0.8,
                "clear_at": 0.5,
            },
        )
    with p.db.session() as s:
        alerts.open_alert(
            s,
            device_id="bin-1",
            department="epb",
            kind="threshold",
            dedupe_key="seed",
            severity="info",
            message="seed",
        )
    yield Api(schemathesis.openapi.from_asgi("/openapi.json", app), h["Authorization"], key)
    p.db.dispose()


def error_body_on_4xx(response: Any, case: Any) -> None:
    if 400 <= response.status_code < 500:
        body = response.json()
        if case.path.startswith("/ngsi-ld/"):
            # NGSI-LD answers ProblemDetails, which keep the platform's error and field.
            assert isinstance(body["type"], str) and isinstance(body["title"], str)
            body = {k: body[k] for k in ("error", "detail", "field")}
        assert isinstance(body, dict) and set(body) == {"error", "detail", "field"}, (
            f"{case.method} {case.path} -> {response.status_code} {response.text[:300]}"
        )
        assert isinstance(body["error"], str) and isinstance(body["detail"], str)
        assert body["field"] is None or isinstance(body["field"], str)


def _operations() -> list[tuple[str, str]]:
    # Read from the app itself, so a new route is fuzzed without anyone listing it here.
    doc = create_app(make_settings("sqlite:///:memory:")).openapi()
    skip = {
        # Logging out would end the session every other case runs under.
        ("POST", "/api/v1/auth/logout"),
        # The event stream never ends by design (tests/integration/core/test_events.py).
        ("GET", "/api/v1/events/stream"),
        ("GET", "/api/v1/overview/public/stream"),
    }
    return [
        (m.upper(), path)
        for path, ops in doc["paths"].items()
        for m in ops
        if (m.upper(), path) not in skip
    ]


# schemathesis' own pytest integration (from_fixture + parametrize) breaks on pytest 9
# (`Function._nodeid`), so each operation drives Hypothesis directly with its strategy.
@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
@pytest.mark.parametrize("method,path", _operations(), ids=lambda x: str(x))
def test_no_server_errors_and_uniform_4xx(
    api: Api, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api.schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=25,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if path == "/api/v1/telemetry":
            case.headers = {**(case.headers or {}), "X-Device-Key": api.device_key}
        else:
            case.headers = {**(case.headers or {}), "Authorization": api.admin}
        response = case.call()
        case.validate_response(response, checks=[not_a_server_error])
        error_body_on_4xx(response, case)

    try:
        run()
    except Unsatisfiable:
        # e.g. no parameters at all, or only free-text path segments: nothing invalid to send.
        pytest.skip(f"no {mode.value} case can be expressed for {method} {path}")


# Requests that once reached the database and came back as 500 (found while fuzzing and by
# hand). They run on both databases: PostgreSQL refuses NUL in text, SQLite integers > 2^63.
NUL = "\x00"
REGRESSIONS: list[tuple[str, str, dict[str, Any], int, str | None]] = [
    ("GET", "/api/v1/alerts", {"params": {"cursor": 2**70}}, 422, "cursor"),
    ("GET", "/api/v1/audit", {"params": {"before": 2**70}}, 422, "before"),
    ("GET", "/api/v1/events/stream", {"params": {"after": 2**70}}, 422, "after"),
    ("POST", f"/api/v1/alerts/{2**70}/resolve", {}, 422, "alert_id"),
    ("POST", f"/api/v1/alerts/{2**31}/acknowledge", {}, 422, "alert_id"),
    (
        "GET",
        "/api/v1/devices/bin-1/telemetry",
        {"params": {"key": "fill", "to": "0001-01-01T00:00:00Z"}},
        422,
        "to",
    ),
    (
        "GET",
        "/api/v1/devices/bin-1/telemetry.csv",
        {"params": {"key": "fill", "to": "0001-01-01T00:00:00Z"}},
        422,
        "to",
    ),
    ("GET", "/api/v1/devices/bin-1/telemetry", {"params": {"key": NUL}}, 422, "key"),
    ("GET", "/api/v1/devices/a%00b", {}, 422, "device_id"),
    ("GET", "/api/v1/devices", {"params": {"department": NUL}}, 422, "department"),
    ("GET", "/api/v1/devices", {"params": {"cursor": "a" + NUL}}, 422, "cursor"),
    (
        "POST",
        "/api/v1/devices",
        {"json": {"id": "d", "name": NUL, "type": "t", "department": "epb"}},
        422,
        "name",
    ),
    (
        "POST",
        "/api/v1/devices",
        {
            "json": {
                "id": "d",
                "name": "n",
                "type": "t",
                "department": "epb",
                "metadata": {"a": [{"b": "x" + NUL}]},
            }
        },
        422,
        "metadata.a[0].b",
    ),
    ("POST", "/api/v1/auth/login", {"json": {"username": NUL, "password": "x"}}, 422, "username"),
    ("PUT", "/api/v1/users/%00/role", {"json": {"role": "crew"}}, 422, "username"),
    ("POST", "/api/v1/devices/bin-1/keys", {"json": {"label": NUL}}, 422, "label"),
    ("DELETE", "/api/v1/devices/bin-1/keys/%00", {}, 422, "key_id"),
    (
        "POST",
        "/api/v1/alert-rules",
        {
            "json": {
                "name": "n",
                "key": "k",
                "direction": "above",
                "raise_at": 1,
                "clear_at": 0,
                "device_type": NUL,
            }
        },
        422,
        "device_type",
    ),
    # NGSI-LD answers a bad parameter 400 BadRequestData, not 422.
    ("GET", "/ngsi-ld/v1/entities", {"params": {"id": f"urn:ngsi-ld:Device:{NUL}"}}, 400, "id"),
    ("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Device:%00", {}, 400, "entity_id"),
    (
        "GET",
        "/ngsi-ld/v1/entities",
        {
            "params": {
                "georel": "near;maxDistance==5",
                "geometry": "Point",
                "coordinates": "[true,25]",
            }
        },
        400,
        "coordinates",
    ),
    ("POST", "/api/v1/devices", {"content": b"[" * 50_000 + b"]" * 50_000}, 400, None),
]


@pytest.mark.parametrize(
    "method,url,kw,status,field",
    REGRESSIONS,
    ids=[f"{m} {u[:40]} {f}" for m, u, _, _, f in REGRESSIONS],
)
def test_inputs_that_once_caused_500(
    client: TestClient,
    admin: dict[str, str],
    method: str,
    url: str,
    kw: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    client.post(
        "/api/v1/devices",
        headers=admin,
        json={"id": "bin-1", "name": "b", "type": "litter_bin", "department": "epb"},
    )
    headers = {**admin, "content-type": "application/json"}
    r = client.request(method, url, headers=headers, **kw)
    assert r.status_code == status, r.text
    keys = {"error", "detail", "field"}
    if url.startswith("/ngsi-ld/"):
        keys |= {"type", "title", "status"}
    assert set(r.json()) == keys and r.json()["field"] == field
