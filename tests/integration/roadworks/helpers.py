"""A small city of road works for the integration tests: RPIC staff, two utilities with
their staff, a contractor, and pipes laid under one street in 大安區."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from onecity.core.platform import Platform
from onecity.roadworks.pipes.models import PipeRow
from tests.city_clock import city_today
from tests.conftest import add_user, login

# A stretch of 復興南路 (大安區), west→east offsets in degrees are about 100 m each 0.001.
LON, LAT = 121.5435, 25.0330


def square(dx: float = 0.0, dy: float = 0.0, size: float = 0.0001) -> dict[str, Any]:
    x, y = LON + dx, LAT + dy
    ring = [[x, y], [x + size, y], [x + size, y + size / 3], [x, y + size / 3], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def setup_city(client: TestClient, p: Platform) -> dict[str, dict[str, str]]:
    add_user(p, "rpic.op", "operator", "pwd")
    add_user(p, "twc.staff", "contractor", "pwd")
    add_user(p, "tp.staff", "contractor", "pwd")
    add_user(p, "builder.staff", "contractor", "pwd")
    heads = {n: login(client, n) for n in ("rpic.op", "twc.staff", "tp.staff", "builder.staff")}
    for body in (
        {
            "code": "twc",
            "name_zh": "臺北自來水事業處",
            "name_en": "Taipei Water",
            "kind": "utility",
            "utility_kind": "water",
            "members": ["twc.staff"],
        },
        {
            "code": "taipower",
            "name_zh": "台電",
            "name_en": "Taipower",
            "kind": "utility",
            "utility_kind": "power",
            "members": ["tp.staff"],
        },
        {
            "code": "builder",
            "name_zh": "大陸工程",
            "name_en": "Builder Co",
            "kind": "contractor",
            "members": ["builder.staff"],
        },
    ):
        r = client.post("/api/v1/roadworks/orgs", json=body, headers=heads["rpic.op"])
        assert r.status_code == 201, r.text
    return heads


def lay_pipe(p: Platform, owner: str, kind: str, dx: float, depth: float) -> int:
    """A pipe running north-south through the test square at offset dx (degrees)."""
    x = LON + dx
    line = {"type": "LineString", "coordinates": [[x, LAT - 0.0005], [x, LAT + 0.0005]]}
    x0, y0 = p.city.to_projected(x, LAT - 0.0005)
    x1, y1 = p.city.to_projected(x, LAT + 0.0005)
    with p.db.session() as s:
        row = PipeRow(
            owner_code=owner,
            kind=kind,
            diameter_mm=200,
            material="DIP",
            year_laid=1990,
            survey="GPR",
            accuracy_m=0.3,
            depth_start_m=depth,
            depth_end_m=depth,
            geometry=line,
            synthetic=True,
            minx=min(x0, x1),
            miny=min(y0, y1),
            maxx=max(x0, x1),
            maxy=max(y0, y1),
        )
        s.add(row)
        s.flush()
        return row.id


def application(**over: Any) -> dict[str, Any]:
    start = city_today() + timedelta(days=40)
    body: dict[str, Any] = {
        "applicant": "twc",
        "contractor": "builder",
        "purpose": "water",
        "description": "replace a water main",
        "road": "復興南路一段",
        "road_class": "wide",
        "geometry": square(),
        "depth_m": 1.5,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=4)).isoformat(),
    }
    body.update(over)
    return body


def count(p: Platform, table: str) -> int:
    with p.db.read() as s:
        return int(s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608
