"""Citizens report road problems through the city's Open311 endpoint, on both databases: three
service codes in the public works department's queue, and a report about a badly restored
trench or works outside their hours names the permit whose works are within 30 m."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from onecity.core.models import Open311Request
from onecity.core.platform import Platform
from tests.integration.roadworks.helpers import LAT, LON, application, count, setup_city

OPEN311 = "/open311/v2"
API = "/api/v1/roadworks"
CODES = ("roadworks.pothole", "roadworks.bad_restoration", "roadworks.outside_hours")


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
    filed = client.post(f"{API}/permits", json=application(), headers=heads["twc.staff"])
    assert filed.status_code == 201, filed.text
    ref = filed.json()["ref"]
    # 20 m north of the works' square, and 80 m north.
    near, far = (LON + 0.00005, LAT + 0.0002), (LON + 0.00005, LAT + 0.0008)

    bad = report(client, "roadworks.bad_restoration", *near, "路面下陷")
    assert bad["agency_responsible"] == "工務局/道管中心"
    assert ref in bad["description"] and bad["description"].startswith("路面下陷")
    noisy = report(client, "roadworks.outside_hours", *near)
    assert ref in noisy["description"]
    pothole = report(client, "roadworks.pothole", *near, "a hole")
    assert pothole["description"] == "a hole"  # potholes are not about a permit
    lonely = report(client, "roadworks.bad_restoration", *far, "cracks")
    assert lonely["description"] == "cracks"

    with platform.db.read() as s:
        rows = {r.id: r for r in s.query(Open311Request).all()}
    by_id = {str(k): v for k, v in rows.items()}
    assert {r.department_code for r in rows.values()} == {"pwd"}
    assert by_id[bad["service_request_id"]].attributes["permit_ref"] == ref
    assert 15 < by_id[bad["service_request_id"]].attributes["permit_distance_m"] < 25
    assert by_id[noisy["service_request_id"]].attributes["permit_ref"] == ref
    assert "permit_ref" not in by_id[lonely["service_request_id"]].attributes
    assert "permit_ref" not in by_id[pothole["service_request_id"]].attributes

    # A withdrawn permit is no longer open: a report next to it names nothing.
    w = client.post(f"{API}/permits/{ref}/withdraw", headers=heads["twc.staff"])
    assert w.status_code == 200, w.text
    after = report(client, "roadworks.outside_hours", *near, "night drilling")
    assert after["description"] == "night drilling"
    assert count(platform, "open311_requests") == 5
