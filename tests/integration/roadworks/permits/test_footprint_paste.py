"""A pasted or loaded outline is checked on its own before the application: its area and
district, or a 422 whose code names what is wrong (the apply page says it in its language).
And something to draw against without map tiles: village lines and named alleys."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from tests.integration.roadworks.helpers import LAT, LON, setup_city, square

API = "/api/v1/roadworks"


def _bowtie() -> dict[str, Any]:
    x, y, d = LON, LAT, 0.0001
    ring = [[x, y], [x + d, y + d], [x + d, y], [x, y + d], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"geometry": {"type": "Point", "coordinates": [LON, LAT]}}, "wrong_type"),
        ({"geometry": _bowtie()}, "self_intersecting"),
        ({"geometry": square(dx=1.0)}, "outside_city"),  # a degree east: in the sea
        (
            {"geometry": {"type": "LineString", "coordinates": [[LON, LAT], [LON, LAT + 0.0002]]}},
            "trench_width",
        ),
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[302000, 2770000], [302010, 2770000], [302010, 2770010], [302000, 2770000]]
                    ],
                }
            },
            "not_degrees",
        ),
    ],
)
def test_a_bad_outline_is_a_422_naming_the_problem(
    client: TestClient, platform: Platform, body: dict[str, Any], code: str
) -> None:
    heads = setup_city(client, platform)
    r = client.post(f"{API}/footprints/check", json=body, headers=heads["builder.staff"])
    assert r.status_code == 422, r.text
    assert r.json()["error"] == code


def test_a_good_outline_and_a_trench_are_measured(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    r = client.post(
        f"{API}/footprints/check", json={"geometry": square()}, headers=heads["builder.staff"]
    )
    assert r.status_code == 200, r.text
    assert r.json()["district"] == "大安區" and 30 < r.json()["area_m2"] < 50
    line = {"type": "LineString", "coordinates": [[LON, LAT], [LON, LAT + 0.0002]]}
    r = client.post(
        f"{API}/footprints/check",
        json={"geometry": line, "width_m": 1.0},
        headers=heads["builder.staff"],
    )
    assert r.status_code == 200 and r.json()["geometry"]["type"] == "Polygon"
    assert 20 < r.json()["area_m2"] < 24  # 22 m by 1 m
    client.cookies.clear()
    assert client.post(f"{API}/footprints/check", json={"geometry": square()}).status_code == 401


def test_streets_to_draw_against(client: TestClient, platform: Platform) -> None:
    # 齊東街82巷 (中正區), one of the fire department's narrow alleys.
    box = "121.5270,25.0410,121.5295,25.0430"
    r = client.get(f"{API}/public/reference.geojson", params={"bbox": box})
    assert r.status_code == 200, r.text
    kinds = {f["properties"]["kind"] for f in r.json()["features"]}
    names = {f["properties"]["name"] for f in r.json()["features"]}
    assert kinds == {"village", "alley"} and "齊東街82巷" in names
    wide = client.get(f"{API}/public/reference.geojson", params={"bbox": "121.4,25.0,121.6,25.1"})
    assert wide.status_code == 422 and wide.json()["error"] == "too_wide"
    assert client.get(f"{API}/public/reference.geojson", params={"bbox": "x"}).status_code == 422
