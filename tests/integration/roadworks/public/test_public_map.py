"""The public works map without a login, on both databases: granted and emergency works are
on it, applications and refusals are not, a box narrows it, and it never carries a camera
address, a fee or a login name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from tests.city_clock import city_today
from tests.integration.roadworks.helpers import LAT, LON, application, setup_city, square

API = "/api/v1/roadworks"
MAP = f"{API}/public/works.geojson"
CAMERA = "rtsp://secret-cam.example/feed-7"


def file(client: TestClient, head: dict[str, str], **over: Any) -> dict[str, Any]:
    r = client.post(f"{API}/permits", json=application(**over), headers=head)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def decide(client: TestClient, head: dict[str, str], ref: str, decision: str) -> None:
    r = client.post(
        f"{API}/permits/{ref}/decision",
        json={"decision": decision, "note": "not on this road"},
        headers=head,
    )
    assert r.status_code == 200, r.text


def test_public_map_shows_what_is_dug(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    rpic, twc = heads["rpic.op"], heads["twc.staff"]
    granted = file(client, twc, description="new water main", geometry=square())
    decide(client, rpic, granted["ref"], "grant")
    applied = file(client, twc, geometry=square(dx=0.003))
    refused = file(client, twc, geometry=square(dx=0.006))
    decide(client, rpic, refused["ref"], "refuse")
    today = city_today()
    urgent = file(
        client,
        twc,
        emergency=True,
        description="burst main",
        geometry=square(dx=-0.003),
        start_date=today.isoformat(),
        end_date=(today + timedelta(days=2)).isoformat(),
    )
    r = client.put(f"{API}/permits/{granted['ref']}/camera", json={"url": CAMERA}, headers=rpic)
    assert r.status_code == 200, r.text

    day = granted["start_date"]
    r = client.get(f"{MAP}?day={day}")  # no login
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    assert "content-disposition" not in r.headers
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    shown = {f["properties"]["ref"]: f for f in doc["features"]}
    # The emergency works are still being dug 40 days on (nobody reported them done).
    assert set(shown) == {granted["ref"], urgent["ref"]}
    assert applied["ref"] not in shown and refused["ref"] not in shown
    g = shown[granted["ref"]]
    assert g["geometry"]["type"] == "Polygon"
    p = g["properties"]
    assert p["status"] == "granted" and p["purpose"] == "water"
    assert p["description"] == "new water main"
    assert p["applicant_zh"] == "臺北自來水事業處" and p["contractor_en"] == "Builder Co"
    assert p["end_date"] == granted["end_date"]
    # Never the camera, the fee, the findings or who filed it.
    assert CAMERA not in r.text and "twc.staff" not in r.text
    keys = {k for f in doc["features"] for k in f["properties"]}
    assert not keys & {"fee_total", "fee_lines", "camera_url", "created_by", "findings", "live"}

    # Today only the emergency works are on the road; the granted ones start in 40 days.
    now = client.get(MAP).json()
    assert [f["properties"]["ref"] for f in now["features"]] == [urgent["ref"]]
    assert now["features"][0]["properties"]["emergency"] is True

    saved = client.get(f"{MAP}?day={day}&download=1")
    assert saved.status_code == 200
    assert saved.headers["content-disposition"] == f'attachment; filename="roadworks-{day}.geojson"'


def test_bbox_narrows_the_map(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    here = file(client, heads["twc.staff"], geometry=square())
    there = file(client, heads["twc.staff"], geometry=square(dx=0.01))  # ~1 km east
    for x in (here, there):
        decide(client, heads["rpic.op"], x["ref"], "grant")
    day = here["start_date"]

    def refs(bbox: str) -> set[str]:
        r = client.get(f"{MAP}?day={day}&bbox={bbox}")
        assert r.status_code == 200, r.text
        return {f["properties"]["ref"] for f in r.json()["features"]}

    near = f"{LON - 0.001},{LAT - 0.001},{LON + 0.001},{LAT + 0.001}"
    east = f"{LON + 0.009},{LAT - 0.001},{LON + 0.011},{LAT + 0.001}"
    nowhere = f"{LON - 0.02},{LAT - 0.02},{LON - 0.01},{LAT - 0.01}"
    assert refs(near) == {here["ref"]}
    assert refs(east) == {there["ref"]}
    assert refs(nowhere) == set()
    assert refs(f"{LON - 0.02},{LAT - 0.02},{LON + 0.02},{LAT + 0.02}") == {
        here["ref"],
        there["ref"],
    }

    for bad in ("1,2,3", "a,b,c,d", f"{LON + 1},{LAT},{LON},{LAT + 1}", "nan,1,2,3"):
        r = client.get(f"{MAP}?bbox={bad}")
        assert r.status_code == 422 and r.json()["field"] == "bbox", (bad, r.text)
    far = (city_today() + timedelta(days=800)).isoformat()
    r = client.get(f"{MAP}?day={far}")
    assert r.status_code == 422 and r.json()["field"] == "day"
