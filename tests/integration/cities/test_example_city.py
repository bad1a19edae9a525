"""A second bundled city profile runs the same code: what differs between cities is the
profile, never code. Example City (fictional) differs from Taipei in every value it can."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.roadworks.services import RoadworksServices
from onecity.waste.services import WasteServices
from tests.conftest import make_settings


def test_the_city_api_describes_example_city(client: TestClient) -> None:
    body: dict[str, Any] = client.get("/api/v1/city").json()
    assert body["id"] == "example"
    assert body["name"]["en"] == "Example City"
    assert body["timezone"] == "Asia/Tokyo"
    assert body["currency"] == "JPY"
    assert body["default_language"] == "en"
    assert [d["code"] for d in body["departments"]] == ["env", "roads", "it"]


def test_its_wards_place_a_point(client: TestClient, platform: Platform) -> None:
    wards = client.get("/api/v1/geo/districts").json()
    assert sorted(f["properties"]["WARD"] for f in wards["features"]) == [
        "North Ward",
        "South Ward",
    ]
    # Named in both of its languages: English from the boundary data, Chinese from the profile.
    assert sorted(
        (f["properties"]["code"], f["properties"]["names"]) for f in wards["features"]
    ) == [
        ("EX01", {"en": "North Ward", "zh-TW": "北區"}),
        ("EX02", {"en": "South Ward", "zh-TW": "南區"}),
    ]
    north = platform.city.place(139.62, 35.67)
    assert (north.district, north.village) == ("North Ward", "North Ward West")
    assert platform.city.place(139.69, 35.61).district == "South Ward"
    # Outside the city: no ward, rather than the nearest one.
    assert platform.city.place(121.56, 25.03).district is None


def test_a_device_registered_there_is_placed_in_its_ward(
    client: TestClient, admin: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": "ex-bin-1",
            "name": "Bin by the station",
            "type": "litter_bin",
            "department": "env",
            "location": {"type": "Point", "coordinates": [139.68, 35.61]},
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["district"] == "South Ward"
    assert r.json()["district_names"] == {"en": "South Ward", "zh-TW": "南區"}
    # A department the city does not have is refused, not stored.
    bad = client.post(
        "/api/v1/devices",
        headers=admin,
        json={"id": "ex-bin-2", "name": "x", "type": "litter_bin", "department": "epb"},
    )
    assert bad.status_code in (404, 422), bad.text


def test_the_modules_work_for_the_departments_the_profile_names(platform: Platform) -> None:
    waste = platform.services(WasteServices)
    roads = platform.services(RoadworksServices)
    assert waste.ledger.department == "env"
    assert waste.planner.config.department == "env"
    assert roads.permits.config.department == "roads"


def test_citizen_reports_land_in_the_departments_the_profile_names(client: TestClient) -> None:
    catalog = client.app.state.open311  # type: ignore[attr-defined]
    assert catalog.get("waste.station_full").department_code == "env"
    codes = ("roadworks.pothole", "roadworks.bad_restoration", "roadworks.outside_hours")
    roads = {catalog.get(code).department_code for code in codes}
    assert roads == {"roads"}


def test_a_profile_naming_a_department_it_lacks_stops_start_up(tmp_path: Path, db_url: str) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(resources.files("onecity.cities") / "example", broken)  # type: ignore[arg-type]
    toml = broken / "city.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('department = "env"', 'department = "epb"'),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"\[modules\.waste\] department = 'epb' is not one"):
        start_platform(make_settings(db_url, city=str(broken), modules="waste"))


def test_permit_deadlines_count_its_working_days(platform: Platform) -> None:
    cal = platform.services(RoadworksServices).permits.config.calendar
    # Its weekend is Friday and Saturday: Thursday 10 Dec 2026 + 1 working day is Sunday 13.
    assert cal.add_working_days(date(2026, 12, 10), 1) == date(2026, 12, 13)
    assert not cal.is_working(date(2026, 12, 24))  # a Thursday, its day off
    assert cal.is_working(date(2026, 12, 19))  # a Saturday it works
    assert cal.is_working(date(2026, 10, 26))  # a Monday off in Taipei, not here


def test_trucks_drive_at_its_speeds(platform: Platform) -> None:
    travel = platform.services(WasteServices).planner.travel
    # Two points 1 km apart north-south (great circle), 1.2 km by its streets.
    a, b = (139.65, 35.62), (139.65, 35.62 + 1000 / 111_195)
    noon = datetime(2026, 12, 7, 12, tzinfo=ZoneInfo("Asia/Tokyo"))
    metres, seconds = travel.matrix([a, b], noon)
    assert metres[0][1] == pytest.approx(1200, abs=2)
    assert seconds[0][1] == pytest.approx(1200 / (36 / 3.6), abs=1)  # 120 s at 36 km/h
    # Its rush hour is 8-10 h local time (Tokyo's clock, not Taipei's): half the speed.
    _, rush = travel.matrix([a, b], noon.replace(hour=9))
    assert rush[0][1] == pytest.approx(240, abs=1)
    _, after = travel.matrix([a, b], noon.replace(hour=10))  # 9 h on a UTC+8 clock: still rush
    assert after[0][1] == pytest.approx(120, abs=1)


def test_its_garbage_tariff_and_rebates_are_charged(platform: Platform) -> None:
    ledger = platform.services(WasteServices).ledger
    tariff = ledger.tariffs.on(date(2026, 12, 7))
    assert tariff.name == "Example City 2026"
    assert tariff.charge(400) == 30
    assert tariff.charge(1200) == 100  # two started kilograms at 50
    assert dict(ledger.uploads.ctx.rebate_points) == {"pet": 2, "aluminium": 3}
