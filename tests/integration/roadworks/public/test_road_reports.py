"""Citizens report road problems through the city's Open311 endpoint, on both databases: three
service codes in the public works department's queue, and a report about a badly restored
trench names the restored works within 30 m, a report of works outside their hours the works
being dug there; an application not yet dug is never named."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from onecity.core.models import Open311Request
from onecity.core.platform import Platform
from onecity.settings import Settings
from tests.city_clock import city_today
from tests.conftest import make_settings
from tests.integration.roadworks.helpers import (
    LAT,
    LON,
    application,
    count,
    setup_city,
    square,
)

OPEN311 = "/open311/v2"
API = "/api/v1/roadworks"
CODES = ("roadworks.pothole", "roadworks.bad_restoration", "roadworks.outside_hours")


@pytest.fixture
def settings(db_url: str) -> Settings:
    """One test client files more reports than a citizen may in ten minutes."""
    return make_settings(db_url, modules="roadworks", open311_reports_per_window=100)


def report(client: TestClient, code: str, lon: float, lat: float, text: str = "") -> Any:
    form = {"service_code": code, "lat": str(lat), "long": str(lon), "description": text}
    r = client.post(f"{OPEN311}/requests.json", data=form)
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    got = client.get(f"{OPEN311}/requests/{rid}.json")
    assert got.status_code == 200
    return got.json()[0]


def test_the_road_services_are_listed_in_chinese_and_english(client: TestClient) -> None:
    zh = {s["service_code"]: s for s in client.get(f"{OPEN311}/services.json").json()}
    assert set(CODES) <= set(zh)
    names = [zh[c]["service_name"] for c in CODES]
    assert names == ["坑洞", "路面修復不良", "非核准時段施工"]
    en = client.get(f"{OPEN311}/services.json", headers={"Accept-Language": "en"}).json()
    assert {s["service_code"]: s["group"] for s in en}["roadworks.pothole"] == "Roads"


def test_reports_land_with_pwd_and_name_the_works_nearby(
    client: TestClient, platform: Platform
) -> None:
    heads = setup_city(client, platform)
    today = city_today()
    dates = {"start_date": today.isoformat(), "end_date": (today + timedelta(days=2)).isoformat()}
    dug = client.post(
        f"{API}/permits", json=application(emergency=True, **dates), headers=heads["twc.staff"]
    )
    assert dug.status_code == 201 and dug.json()["status"] == "in_progress", dug.text
    ref = dug.json()["ref"]
    # An application 150 m east: nothing dug there yet, so no report is about it.
    plan = application(geometry=square(dx=0.0015), start_date="2027-03-01", end_date="2027-03-02")
    assert client.post(f"{API}/permits", json=plan, headers=heads["twc.staff"]).status_code == 201
    # 20 m north of the works' square, and 80 m north; 20 m north of the application.
    near, far = (LON + 0.00005, LAT + 0.0002), (LON + 0.00005, LAT + 0.0008)
    by_plan = (LON + 0.00155, LAT + 0.0002)

    noisy = report(client, "roadworks.outside_hours", *near, "drilling at 2 am")
    assert noisy["agency_responsible"] == "工務局/道管中心"
    assert ref in noisy["description"] and noisy["description"].startswith("drilling at 2 am")
    pothole = report(client, "roadworks.pothole", *near, "a hole")
    assert pothole["description"] == "a hole"  # potholes are not about a permit
    lonely = report(client, "roadworks.outside_hours", *far, "noise")
    assert lonely["description"] == "noise"
    assert report(client, "roadworks.outside_hours", *by_plan, "x")["description"] == "x"
    # While the trench is still open, a bad restoration is not about it either.
    early = report(client, "roadworks.bad_restoration", *near, "uneven")
    assert early["description"] == "uneven"

    for step in ("stop", "restored"):
        r = client.post(
            f"{API}/permits/{ref}/progress", json={"step": step}, headers=heads["twc.staff"]
        )
        assert r.status_code == 200, r.text
    bad = report(client, "roadworks.bad_restoration", *near, "路面下陷")
    assert ref in bad["description"] and bad["description"].startswith("路面下陷")
    after = report(client, "roadworks.outside_hours", *near, "night drilling")
    assert after["description"] == "night drilling"  # restored: no works going on there

    with platform.db.read() as s:
        rows = {str(r.id): r for r in s.query(Open311Request).all()}
    assert {r.department_code for r in rows.values()} == {"pwd"}
    assert rows[bad["service_request_id"]].attributes["permit_ref"] == ref
    assert 15 < rows[bad["service_request_id"]].attributes["permit_distance_m"] < 25
    assert rows[noisy["service_request_id"]].attributes["permit_ref"] == ref
    for quiet in (lonely, pothole, early, after):
        assert "permit_ref" not in rows[quiet["service_request_id"]].attributes
    assert count(platform, "open311_requests") == 7
