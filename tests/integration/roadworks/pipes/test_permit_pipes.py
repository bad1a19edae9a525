"""The pipes under a permit's dig, on both databases: what the crew and RPIC see on the permit
page (GET …/permits/{ref}/pipes), in 3D, for exactly the pipes the locate requests named; a
record replaced by an as-built survey stays, marked retired; strangers learn nothing."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from tests.city_clock import city_today
from tests.conftest import add_user, login
from tests.integration.roadworks.helpers import LAT, LON, application, lay_pipe, setup_city

API = "/api/v1/roadworks"


def _emergency(client: TestClient, heads: dict[str, dict[str, str]]) -> str:
    """Taipei Water repairing a burst main now, over its own main and Taipower's cable."""
    today = city_today()
    body = application(
        emergency=True,
        start_date=today.isoformat(),
        end_date=(today + timedelta(days=2)).isoformat(),
    )
    r = client.post(f"{API}/permits", json=body, headers=heads["twc.staff"])
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "in_progress"
    ref: str = r.json()["ref"]
    return ref


def test_permit_pipes_for_those_who_read_it(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    main = lay_pipe(platform, "twc", "water", 0.00005, 1.2)
    cable = lay_pipe(platform, "taipower", "power", 0.00008, 1.0)
    lay_pipe(platform, "taipower", "power", 0.003, 1.0)  # 300 m away: nobody was asked
    ref = _emergency(client, heads)
    url = f"{API}/permits/{ref}/pipes"

    for who in ("rpic.op", "twc.staff", "builder.staff", "tp.staff"):
        r = client.get(url, headers=heads[who])
        assert r.status_code == 200, (who, r.text)
        assert r.headers["content-type"].startswith("application/geo+json")
        assert [f["id"] for f in r.json()["features"]] == [main, cable], who
    feats = {f["id"]: f for f in client.get(url, headers=heads["twc.staff"]).json()["features"]}
    water = feats[main]
    assert water["properties"]["owner"] == "twc" and water["properties"]["kind"] == "water"
    assert water["properties"]["diameter_mm"] == 200 and water["properties"]["retired"] is False
    assert {c[2] for c in water["geometry"]["coordinates"]} == {-1.2}  # z = -depth
    lon, lat, _z = water["geometry"]["coordinates"][0]
    assert abs(lon - (LON + 0.00005)) < 1e-7 and abs(lat - (LAT - 0.0005)) < 1e-7

    # Someone in no organisation on the permit, and a permit that does not exist: 404 alike.
    add_user(platform, "stranger", "contractor", None)
    r = client.get(url, headers=login(client, "stranger"))
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert "features" not in r.json()
    r = client.get(f"{API}/permits/RW-2000-999999/pipes", headers=heads["rpic.op"])
    assert r.status_code == 404 and r.json()["field"] == "ref"
    client.cookies.clear()
    assert client.get(url).status_code == 401


def test_replaced_pipe_stays_marked_retired(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    main = lay_pipe(platform, "twc", "water", 0.00005, 1.2)
    ref = _emergency(client, heads)
    for step in ("stop", "restored"):
        r = client.post(
            f"{API}/permits/{ref}/progress", json={"step": step}, headers=heads["twc.staff"]
        )
        assert r.status_code == 200, r.text
    rerouted = {
        "type": "LineString",
        "coordinates": [[LON + 0.00007, LAT - 0.0005], [LON + 0.00007, LAT + 0.0005]],
    }
    survey = {
        "pipes": [
            {
                "replaces": main,
                "geometry": rerouted,
                "accuracy_m": 0.1,
                "depth_start_m": 1.4,
                "depth_end_m": 1.4,
            }
        ]
    }
    r = client.post(f"{API}/permits/{ref}/as-built", json=survey, headers=heads["twc.staff"])
    assert r.status_code == 201, r.text
    new = r.json()["created"][0]["id"]

    (old,) = client.get(f"{API}/permits/{ref}/pipes", headers=heads["rpic.op"]).json()["features"]
    assert old["id"] == main
    assert old["properties"]["retired"] is True and old["properties"]["replaced_by"] == new
