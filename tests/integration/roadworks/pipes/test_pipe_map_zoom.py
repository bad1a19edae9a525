"""The pipe map asks by box and zoom: every pipe in the box comes, in full near in and as
plan lines further out (more pipes than one full answer holds also come as plan lines), never
the first few thousand of them; a bad box is a 4xx, not a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from onecity.roadworks.pipes import service as pipes_service
from tests.integration.roadworks.helpers import LAT, LON, lay_pipe, setup_city

API = "/api/v1/roadworks"
BOX = f"{LON - 0.002},{LAT - 0.002},{LON + 0.002},{LAT + 0.002}"


def test_every_pipe_in_the_box_comes_in_full_or_as_plan_lines(
    client: TestClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    heads = setup_city(client, platform)
    ids = {lay_pipe(platform, "twc", "water", dx / 10000, 1.2) for dx in range(-10, 10)}
    who = heads["rpic.op"]

    near = client.get(f"{API}/pipes", params={"bbox": BOX, "zoom": 18}, headers=who).json()
    assert near["detail"] == "full" and {f["id"] for f in near["features"]} == ids
    assert all(len(c) == 3 for f in near["features"] for c in f["geometry"]["coordinates"])

    far = client.get(f"{API}/pipes", params={"bbox": BOX, "zoom": 12}, headers=who).json()
    assert far["detail"] == "overview" and {f["id"] for f in far["features"]} == ids
    assert far["numberMatched"] == far["numberReturned"] == 20 and not far["zoom_in"]
    assert all(len(c) == 2 for f in far["features"] for c in f["geometry"]["coordinates"])
    assert len(
        client.get(f"{API}/pipes", params={"bbox": BOX, "zoom": 12}, headers=who).content
    ) < len(client.get(f"{API}/pipes", params={"bbox": BOX, "zoom": 18}, headers=who).content)

    # More than one full answer holds, even near in: all of them, as plan lines.
    monkeypatch.setattr(pipes_service, "MAX_FEATURES", 5)
    many = client.get(f"{API}/pipes", params={"bbox": BOX, "zoom": 18}, headers=who).json()
    assert many["detail"] == "overview" and len(many["features"]) == 20
    # Past what a browser can draw: none, and the count, so the page can ask to zoom in.
    monkeypatch.setattr(pipes_service, "MAX_OVERVIEW", 10)
    lots = client.get(f"{API}/pipes", params={"bbox": BOX, "zoom": 12}, headers=who).json()
    assert lots["zoom_in"] and lots["features"] == [] and lots["numberMatched"] == 20


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "121.5,25.0,121.6"}, "bbox"),
        ({"bbox": "121.6,25.0,121.5,25.1"}, "bbox"),  # west east of east
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "0,0,1,1"}, "bbox"),  # nowhere near the city
        ({"bbox": BOX, "zoom": "99"}, "zoom"),
        ({"bbox": BOX, "zoom": "x"}, "zoom"),
    ],
)
def test_a_bad_box_or_zoom_is_a_4xx(
    client: TestClient, platform: Platform, params: dict[str, str], field: str
) -> None:
    heads = setup_city(client, platform)
    r = client.get(f"{API}/pipes", params=params, headers=heads["rpic.op"])
    assert r.status_code == 422, r.text
    assert field in r.text
