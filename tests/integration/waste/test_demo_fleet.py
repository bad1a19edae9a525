"""The demo is alive at any hour: started in the night, at noon or in the evening, its
planner routes every demo station (none left for want of a truck on shift) and the crew
account's phone page shows its truck's route. The fleet once had one truck on 00:00-12:00
and one with no crew, which left stations unrouted and the crew without a route after noon.
Each case also runs on PostgreSQL at the same hour (the pinned time wins over the sweep)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from onecity.core import clock
from onecity.core.platform import Platform
from onecity.waste import demo, demo_fleet
from onecity.waste.services import WasteServices
from onecity.waste.simulation.stations import StationSim
from tests.conftest import add_user, login

HOURS = [pytest.param(h, marks=pytest.mark.city_time(h), id=h) for h in ("03:00", "12:00", "20:00")]


@pytest.mark.parametrize("hour", HOURS)
def test_demo_routes_every_station_and_the_crew_sees_its_route(
    client: TestClient,
    admin: dict[str, str],
    platform: Platform,
    tmp_path: Path,
    hour: str,
) -> None:
    crew = demo_fleet.fleet().crew
    add_user(platform, crew, "crew", "epb")
    demo.seed(platform, tmp_path / "keys.json")
    now = clock.now()
    sims = {
        site.id: StationSim(site.id, seed=n, config=demo.DEMO_SIM, start=now - demo.HISTORY)
        for n, site in enumerate(demo.sites())
    }
    demo._history(platform, sims, now)
    demo._plan_days(platform)
    truck = demo_fleet.hand_over(platform)

    planner = platform.services(WasteServices).planner
    day = planner.running_day()
    r = client.get("/api/v1/waste/plans", headers=admin, params={"day": str(day)})
    assert r.status_code == 200, r.text
    plan = r.json()
    routed = {st["station_id"] for route in plan["routes"] for st in route["stops"]}
    assert routed == {site.id for site in demo.sites()}, plan["summary"]
    assert plan["summary"]["unserved"] == [] and plan["left_out"] == []

    mine = client.get("/api/v1/waste/my-route", headers=login(client, crew))
    assert mine.status_code == 200, mine.text
    route = mine.json()
    assert route is not None and route["truck_id"] == truck and route["stops"]
    assert route["crew"] == crew
    # on the road now, or leaving later today (the planner empties a station late in the
    # shift, so that its bin has room for the evening's deposits)
    assert _at(route["back_at"]) > clock.now()
    assert _at(route["leaves_at"]) <= clock.now() + timedelta(hours=12)


def _at(text: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))
