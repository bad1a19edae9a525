"""Collection plans on both databases: a day's plan from station telemetry and trucks, the
crew's route, served stops, a fire mid-shift inserted into the running routes without moving
what was served, and bad input that writes nothing."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from onecity.core import clock
from onecity.core.models import Event, Reading
from onecity.core.platform import Platform
from onecity.waste.planning.models import WastePlan, WastePlanStop, WasteTruck
from onecity.waste.services import WasteServices
from tests.conftest import add_user, login

# Plans are for the city's day and trucks work shifts: every test here runs with the clock at
# each of the city times in tests/city_clock.py (a test that needs a time of day pins it).
pytestmark = pytest.mark.times_of_day

# Stations around Xinyi and Da'an, a few hundred metres to 3 km apart.
PLACES = {
    "IT800-1": (121.5645, 25.0375),
    "IT800-2": (121.5530, 25.0330),
    "IT800-3": (121.5430, 25.0420),
    "IT800-4": (121.5710, 25.0450),
    "IT800-5": (121.5600, 25.0260),
    "IT800-6": (121.5330, 25.0260),
}
FULL = ("IT800-1", "IT800-3", "IT800-4", "IT800-6")  # will overflow: must be emptied
EMPTY = ("IT800-2", "IT800-5")


def station(client: TestClient, admin: dict[str, str], sid: str) -> dict[str, str]:
    lon, lat = PLACES[sid]
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": sid,
            "name": f"iTrash {sid}",
            "type": "waste_station",
            "department": "epb",
            "location": {"type": "Point", "coordinates": [lon, lat]},
        },
    )
    assert r.status_code == 201, r.text
    k = client.post(f"/api/v1/devices/{sid}/keys", headers=admin, json={})
    return {"X-Device-Key": k.json()["key"]}


def send(client: TestClient, key: dict[str, str], seq: int, values: dict[str, Any]) -> None:
    msg = {"seq": seq, "ts": clock.time_ms(), "values": values}
    r = client.post("/api/v1/telemetry", headers=key, json={"messages": [msg]})
    assert r.status_code == 200, r.text


def trucks(p: Platform) -> None:
    with p.db.session() as s:
        for tid, lon, lat in (("T1", 121.5666, 25.0415), ("T2", 121.5400, 25.0300)):
            s.add(
                WasteTruck(
                    id=tid,
                    name=f"truck {tid}",
                    department_code="epb",
                    depot_name=f"depot {tid}",
                    depot_lon=lon,
                    depot_lat=lat,
                    capacity_kg=4000,
                    capacity_m3=16,
                    # all day, so the test runs whatever the hour in Taipei
                    shift_start="00:00",
                    shift_end="24:00",
                    crew="crew.one" if tid == "T1" else None,
                    active=True,
                )
            )


@pytest.fixture
def city(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> dict[str, dict[str, str]]:
    keys = {sid: station(client, admin, sid) for sid in PLACES}
    # Three days of history: the nearly empty stations have hardly been used, so their
    # forecasts say they can wait (without history they would get a typical station's rate).
    hour_ms = 3_600_000
    now_ms = clock.time_ms()
    with platform.db.session() as s:
        for sid in EMPTY:
            for h in range(72, 0, -1):
                s.add(
                    Reading(
                        device_id=sid,
                        seq=1000 + h,
                        key="garbage.fill",
                        ts_ms=now_ms - h * hour_ms,
                        value=0.05,
                    )
                )
    for sid, key in keys.items():
        fill = 0.97 if sid in FULL else 0.05
        send(client, key, 1, {"garbage.fill": fill, "garbage.weight_kg": 280 * fill})
    trucks(platform)
    add_user(platform, "crew.one", "crew", "epb")
    return keys


def plan_rows(p: Platform) -> tuple[int, int]:
    with p.db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(WastePlan)) or 0,
            s.scalar(select(func.count()).select_from(WastePlanStop)) or 0,
        )


def on_routes(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {r["truck_id"]: [s["station_id"] for s in r["stops"]] for r in plan["routes"]}


def test_plan_route_served_and_fire_replan(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    today = platform.services(WasteServices).planner.today().isoformat()
    r = client.post("/api/v1/waste/plans", headers=admin, json={"day": today, "seconds": 1})
    assert r.status_code == 201, r.text
    plan = r.json()
    routed = {sid for stops in on_routes(plan).values() for sid in stops}
    assert set(FULL) <= routed, plan
    assert not routed & set(EMPTY)  # nearly empty stations wait
    assert plan["version"] == 1 and plan["distance_km"] > 0
    assert all(s["reason"] for r in plan["routes"] for s in r["stops"])
    for route in plan["routes"]:
        assert route["distance_km"] > 0
        times = [s["arrive_at"] for s in route["stops"]]
        assert times == sorted(times)

    crew = login(client, "crew.one")
    mine = client.get("/api/v1/waste/my-route", headers=crew).json()
    if mine is None:  # the solver gave everything to T2: T1's crew has no route today
        mine = client.get("/api/v1/waste/my-route?truck_id=T2", headers=crew).json()
    first = mine["stops"][0]
    r = client.post(f"/api/v1/waste/plan-stops/{first['id']}/served", headers=crew)
    assert r.status_code == 200 and r.json()["status"] == "served"
    again = client.post(f"/api/v1/waste/plan-stops/{first['id']}/served", headers=crew)
    assert again.status_code == 409 and again.json()["error"] == "already_served"

    # A fire at a station that was waiting: the planner loop's step inserts it.
    send(client, city["IT800-5"], 2, {"garbage.smoke": 1, "garbage.temp_c": 85})
    assert platform.services(WasteServices).planner.replan_urgent_jobs() == 1
    assert (
        platform.services(WasteServices).planner.replan_urgent_jobs() == 0
    )  # considered once, not again
    now = client.get(f"/api/v1/waste/plans?day={today}", headers=admin).json()
    assert now["version"] == 2 and now["summary"]["urgent"]["served"] is True
    fire = [s for r in now["routes"] for s in r["stops"] if s["station_id"] == "IT800-5"]
    assert fire and fire[0]["kind"] == "fire" and fire[0]["job_id"] is not None
    kept = next(
        s for r in now["routes"] for s in r["stops"] if s["station_id"] == first["station_id"]
    )
    assert (kept["truck_id"], kept["seq"], kept["status"]) == (first["truck_id"], 1, "served")
    assert kept["arrive_at"] == first["arrive_at"] and kept["served_at"] is not None
    # The old version is kept, superseded; its stop can no longer be marked.
    old = client.get(f"/api/v1/waste/plans/{plan['id']}", headers=admin).json()
    assert old["status"] == "superseded"
    other = next(s for r in old["routes"] for s in r["stops"] if s["status"] == "planned")
    r = client.post(f"/api/v1/waste/plan-stops/{other['id']}/served", headers=crew)
    assert r.status_code == 409 and r.json()["error"] == "plan_superseded"
    with platform.db.read() as s:
        pushed = [
            e.payload
            for e in s.scalars(select(Event).where(Event.type == "waste.plan").order_by(Event.id))
        ]
    assert [p["version"] for p in pushed] == [1, 2]
    assert fire[0]["truck_id"] in pushed[1]["changed_trucks"]


def test_urgent_that_cannot_fit_says_why(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    planner = platform.services(WasteServices).planner
    today = planner.today()
    planner.plan_day(today, "test", seconds=1)
    # Two minutes before every shift ends nobody can drive there and back.
    end = datetime.combine(today, dt_time(0), planner.tz) + timedelta(days=1, minutes=-2)
    out = planner.insert_urgent("IT800-5", "fire", "test", now=end)
    assert out.urgent_served is False
    assert out.why_not and "shift ends" in out.why_not[0]
    assert out.plan.summary["urgent"]["why_not"] == out.why_not


def test_bad_input_writes_nothing(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    before = plan_rows(platform)
    r = client.post("/api/v1/waste/plans", headers=admin, json={"day": "2001-01-01"})
    assert r.status_code in (400, 422) and r.json()["field"] == "day"
    r = client.post("/api/v1/waste/plans", headers=admin, json={"day": "tomorrow"})
    assert r.status_code == 422
    r = client.post("/api/v1/waste/plans/urgent", headers=admin, json={"station_id": "IT800-1"})
    assert r.status_code == 404  # no plan for today to insert into
    today = platform.services(WasteServices).planner.today().isoformat()
    assert (
        client.post(
            "/api/v1/waste/plans", headers=admin, json={"day": today, "seconds": 1}
        ).status_code
        == 201
    )
    after_plan = plan_rows(platform)
    r = client.post("/api/v1/waste/plans/urgent", headers=admin, json={"station_id": "nope"})
    assert r.status_code in (400, 422) and r.json()["field"] == "station_id"
    r = client.post("/api/v1/waste/plan-stops/999999/served", headers=admin)
    assert r.status_code == 404
    assert plan_rows(platform) == after_plan and after_plan[0] == before[0] + 1


def test_two_processes_replanning_at_once_store_one_version(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    """Two API processes (two planners on one database) start from the same version: the
    first to write stores the next version, the other is told the plan changed."""
    from concurrent.futures import ThreadPoolExecutor

    from onecity.core.errors import Conflict
    from onecity.waste.planning.service import CollectionPlanner

    first = platform.services(WasteServices).planner
    today = first.today()
    first.plan_day(today, "test", seconds=0.5)
    second = CollectionPlanner(platform.db, first.tz, first.config, first.travel)

    def fire(planner: CollectionPlanner) -> str:
        try:
            planner.insert_urgent("IT800-5", "fire", "test")
            return "stored"
        except Conflict as e:
            return e.code

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(fire, (first, second)))
    assert outcomes == ["plan_changed", "stored"]
    with platform.db.read() as s:
        rows = s.scalars(select(WastePlan).order_by(WastePlan.version)).all()
        assert [(r.version, r.status) for r in rows] == [(1, "superseded"), (2, "current")]


def test_trucks_registered_and_changed_by_staff(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    truck = {
        "id": "T9",
        "name": "大安 9 號車",
        "depot_name": "大安分隊",
        "depot": {"type": "Point", "coordinates": [121.5434, 25.0264]},
        "capacity_kg": 5000,
        "capacity_m3": 18,
        "shift_start": "14:00",
        "shift_end": "22:00",
        "crew": "crew.one",
    }
    r = client.post("/api/v1/waste/trucks", headers=admin, json=truck)
    assert r.status_code == 201, r.text
    assert r.json()["location"]["coordinates"] == [121.5434, 25.0264]
    before = trucks_count(platform)
    bad = [
        ({**truck, "id": "T9"}, 409, None),
        (
            {**truck, "id": "T10", "depot": {"type": "Point", "coordinates": [25.03, 121.54]}},
            422,
            "depot",
        ),
        # TWD97 metres sent as degrees
        (
            {**truck, "id": "T10", "depot": {"type": "Point", "coordinates": [305000, 2770000]}},
            422,
            "depot",
        ),
        ({**truck, "id": "T10", "shift_end": "25:00"}, 422, None),
        ({**truck, "id": "T10", "capacity_kg": 0}, 422, None),
        ({**truck, "id": "T10", "crew": "nobody"}, 422, "crew"),
        ({**truck, "id": "no spaces"}, 422, None),
    ]
    for body, status, field in bad:
        r = client.post("/api/v1/waste/trucks", headers=admin, json=body)
        assert r.status_code == status, (body, r.text)
        if field:
            assert r.json()["field"].startswith(field)
    assert trucks_count(platform) == before
    r = client.patch("/api/v1/waste/trucks/T9", headers=admin, json={"crew": "", "active": False})
    assert r.status_code == 200 and r.json()["crew"] is None
    ids = [t["id"] for t in client.get("/api/v1/waste/trucks", headers=admin).json()]
    assert "T9" not in ids and {"T1", "T2"} <= set(ids)  # inactive trucks plan nothing
    assert client.patch("/api/v1/waste/trucks/nope", headers=admin, json={}).status_code == 404
    crew = login(client, "crew.one")
    assert (
        client.post("/api/v1/waste/trucks", headers=crew, json={**truck, "id": "T11"}).status_code
        == 403
    )


def trucks_count(p: Platform) -> int:
    with p.db.read() as s:
        return s.scalar(select(func.count()).select_from(WasteTruck)) or 0


def full_jobs(client: TestClient, crew: dict[str, str]) -> dict[str, dict[str, Any]]:
    page = client.get("/api/v1/waste/jobs", headers=crew).json()["jobs"]
    return {j["station_id"]: j for j in page if j["kind"] == "full"}


def stop_of(client: TestClient, admin: dict[str, str], day: str, sid: str) -> dict[str, Any]:
    plan = client.get(f"/api/v1/waste/plans?day={day}", headers=admin).json()
    return next(s for r in plan["routes"] for s in r["stops"] if s["station_id"] == sid)


def test_the_route_and_the_jobs_list_agree_on_what_was_emptied(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    """A served collection stop closes the station's full job; closing a full job serves the
    station's stop on today's route; either way once, and the other side is then a 409."""
    today = platform.services(WasteServices).planner.today().isoformat()
    r = client.post("/api/v1/waste/plans", headers=admin, json={"day": today, "seconds": 1})
    assert r.status_code == 201, r.text
    crew = login(client, "crew.one")
    jobs = full_jobs(client, crew)
    assert set(FULL) <= set(jobs)
    by_route, by_job = FULL[0], FULL[1]

    stop = stop_of(client, admin, today, by_route)
    r = client.post(f"/api/v1/waste/plan-stops/{stop['id']}/served", headers=crew)
    assert r.status_code == 200, r.text
    assert by_route not in full_jobs(client, crew)  # off the crew's open list
    closed = client.get("/api/v1/waste/jobs?status=closed", headers=crew).json()["jobs"]
    job = next(j for j in closed if j["id"] == jobs[by_route]["id"])
    assert job["closed_by"] == "crew.one" and f"plan stop {stop['id']}" in job["note"]
    r = client.post(f"/api/v1/waste/jobs/{job['id']}/close", headers=crew, json={})
    assert r.status_code == 409 and r.json()["error"] == "already_closed"

    r = client.post(
        f"/api/v1/waste/jobs/{jobs[by_job]['id']}/close",
        headers=crew,
        json={"collected_kg": 270, "note": "emptied"},
    )
    assert r.status_code == 200, r.text
    served = stop_of(client, admin, today, by_job)
    assert served["status"] == "served" and served["served_at"] is not None
    r = client.post(f"/api/v1/waste/plan-stops/{served['id']}/served", headers=crew)
    assert r.status_code == 409 and r.json()["error"] == "already_served"

    # The stations not touched keep both: their jobs open, their stops planned.
    for sid in FULL[2:]:
        assert sid in full_jobs(client, crew)
        assert stop_of(client, admin, today, sid)["status"] == "planned"
    with platform.db.read() as s:
        kinds = [
            (e.type, e.payload.get("station_id"), e.payload.get("action") or e.payload["status"])
            for e in s.scalars(
                select(Event).where(Event.type.in_(("waste.job", "waste.plan_stop")))
            )
        ]
    for sid in (by_route, by_job):
        assert kinds.count(("waste.job", sid, "closed")) == 1
        assert kinds.count(("waste.plan_stop", sid, "served")) == 1


def test_a_served_stop_and_a_closed_job_at_once_settle_once(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    """The crew on the truck marks the stop served while a colleague closes the same
    station's full job: one of them does it, the other is told it is done; no deadlock."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from onecity.core.auth.permissions import Principal, Role
    from onecity.core.errors import Conflict
    from onecity.waste.jobs.schemas import CloseIn
    from onecity.waste.planning.service import CollectionPlanner

    planner = platform.services(WasteServices).planner
    today = planner.today().isoformat()
    planner.plan_day(planner.today(), "test", seconds=0.5)
    crew = login(client, "crew.one")
    jobs = full_jobs(client, crew)
    who = Principal(0, "crew.one", Role.CREW, "epb")
    outcomes: list[str] = []
    for sid in FULL:
        stop, job = stop_of(client, admin, today, sid), jobs[sid]
        gate = Barrier(2)
        # each side in its own service object, as two API processes would be
        other = CollectionPlanner(platform.db, planner.tz, planner.config, planner.travel)

        def serve(
            stop_id: int = stop["id"], svc: CollectionPlanner = other, gate: Barrier = gate
        ) -> str:
            gate.wait()
            try:
                svc.mark_served(who, stop_id)
                return "served"
            except Conflict as e:
                return e.code

        def close(job_id: int = job["id"], gate: Barrier = gate) -> str:
            gate.wait()
            try:
                platform.services(WasteServices).jobs.close(who, job_id, CloseIn(), "test")
                return "closed"
            except Conflict as e:
                return e.code

        with ThreadPoolExecutor(2) as pool:
            got = sorted(f.result() for f in [pool.submit(serve), pool.submit(close)])
        assert got in (["already_served", "closed"], ["already_closed", "served"]), got
        outcomes.append(",".join(got))
        assert stop_of(client, admin, today, sid)["status"] == "served"
        assert sid not in full_jobs(client, crew)
    with platform.db.read() as s:
        events_ = [
            (e.type, e.payload.get("station_id"))
            for e in s.scalars(
                select(Event).where(Event.type.in_(("waste.job", "waste.plan_stop")))
            )
            if e.payload.get("action", "closed") == "closed"
            and e.payload.get("status") in ("served", "closed")
        ]
    for sid in FULL:
        assert events_.count(("waste.job", sid)) == 1
        assert events_.count(("waste.plan_stop", sid)) == 1


def test_a_stop_served_while_re_planning_is_never_lost(
    client: TestClient,
    platform: Platform,
    admin: dict[str, str],
    city: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crew marks a stop served while the planner is solving a fire insertion from the
    version without it: the planner stores nothing and says the plan changed; the next try
    keeps the stop served. Planning the day afresh once stops are served is refused."""
    from onecity.core.errors import Conflict
    from onecity.waste.planning import service as plan_service

    planner = platform.services(WasteServices).planner
    today = planner.today().isoformat()
    planner.plan_day(planner.today(), "test", seconds=0.5)
    crew = login(client, "crew.one")
    stop = stop_of(client, admin, today, FULL[0])
    solve = plan_service.replanning.replan

    def served_meanwhile(*args: Any, **kwargs: Any) -> Any:
        out = solve(*args, **kwargs)
        r = client.post(f"/api/v1/waste/plan-stops/{stop['id']}/served", headers=crew)
        assert r.status_code == 200, r.text
        return out

    monkeypatch.setattr(plan_service.replanning, "replan", served_meanwhile)
    with pytest.raises(Conflict) as refused:
        planner.insert_urgent("IT800-5", "fire", "test")
    assert refused.value.code == "plan_changed"
    monkeypatch.setattr(plan_service.replanning, "replan", solve)
    assert plan_rows(platform)[0] == 1  # nothing stored
    out = planner.insert_urgent("IT800-5", "fire", "test")
    kept = stop_of(client, admin, today, FULL[0])
    assert out.plan.version == 2 and kept["status"] == "served"
    assert (kept["truck_id"], kept["arrive_at"]) == (stop["truck_id"], stop["arrive_at"])

    before = plan_rows(platform)
    r = client.post("/api/v1/waste/plans", headers=admin, json={"day": today, "seconds": 0.5})
    assert r.status_code == 409 and r.json()["error"] == "shift_under_way", r.text
    assert "1 stop(s) already served" in r.json()["detail"]
    assert plan_rows(platform) == before


def test_a_station_s_service_window_is_kept_and_a_bad_one_named_not_fatal(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    """A station near a school is emptied inside its window; another station's malformed
    window is ignored for that station alone, and its stop says so."""
    windows = {"IT800-3": "09:00-11:00", "IT800-1": "9h-11h", "IT800-4": "22:00-06:00"}
    for sid, window in windows.items():
        r = client.patch(
            f"/api/v1/devices/{sid}", headers=admin, json={"metadata": {"service_window": window}}
        )
        assert r.status_code == 200, r.text
    planner = platform.services(WasteServices).planner
    tomorrow = planner.today() + timedelta(days=1)
    plan = planner.plan_day(tomorrow, "test", seconds=0.5)
    with platform.db.read() as s:
        stops = {
            r.station_id: r
            for r in s.scalars(select(WastePlanStop).where(WastePlanStop.plan_id == plan.id))
        }
    school = stops["IT800-3"]
    assert (school.window_start_s, school.window_end_s) == (9 * 3600, 11 * 3600)
    assert school.start_at is not None
    local = school.start_at.astimezone(planner.tz)
    assert dt_time(9) <= local.time() <= dt_time(11), local
    for sid, why in (("IT800-1", "must be HH:MM"), ("IT800-4", "must start before it ends")):
        assert stops[sid].window_start_s is None and stops[sid].truck_id is not None
        assert why in stops[sid].reason and stops[sid].reason.endswith("ignored"), stops[sid].reason


BEITOU = {"type": "Point", "coordinates": [121.5010, 25.1320]}  # ~12 km north of the stations


def test_a_crew_phone_says_where_its_truck_is_and_bad_fixes_change_nothing(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    crew = login(client, "crew.one")  # rides T1
    url = "/api/v1/waste/trucks/T1/position"
    r = client.post(url, headers=crew, json={"location": BEITOU, "accuracy_m": 12})
    assert r.status_code == 200, r.text
    seen = r.json()["seen"]
    assert seen["location"]["coordinates"] == [121.501, 25.132] and seen["by"] == "crew.one"
    listed = {t["id"]: t for t in client.get("/api/v1/waste/trucks", headers=crew).json()}
    assert listed["T1"]["seen"]["accuracy_m"] == 12 and listed["T2"]["seen"] is None
    # an older fix arriving late is ignored: the newest stays
    older = (datetime.fromisoformat(seen["at"]) - timedelta(minutes=2)).isoformat()
    elsewhere = {"type": "Point", "coordinates": [121.5645, 25.0375]}
    r = client.post(url, headers=crew, json={"location": elsewhere, "at": older})
    assert r.status_code == 200 and r.json()["seen"]["location"] == seen["location"]
    now = clock.now()
    bad = [
        ({"location": {"type": "Point", "coordinates": [25.13, 121.50]}}, 422, "location"),
        ({"location": BEITOU, "at": (now + timedelta(minutes=5)).isoformat()}, 422, "at"),
        ({"location": BEITOU, "at": (now - timedelta(hours=1)).isoformat()}, 422, "at"),
        ({"location": BEITOU, "at": "2026-11-27T08:00:00"}, 422, "at"),
        ({"location": BEITOU, "accuracy_m": -1}, 422, None),
        ({"location": {"type": "Point", "coordinates": ["x", 25.0]}}, 422, "location"),
        ({"location": {"type": "Point", "coordinates": [None, 25.0]}}, 422, "location"),
        ({"location": {"type": "Point", "coordinates": [True, 25.0]}}, 422, "location"),
        ({"location": {"type": "Point", "coordinates": "121.5,25"}}, 422, "location"),
        ({"location": BEITOU, "speed": 3}, 422, None),
    ]
    for body, status, field in bad:
        r = client.post(url, headers=crew, json=body)
        assert r.status_code == status, (body, r.text)
        if field:
            assert r.json()["field"].startswith(field), r.json()
    add_user(platform, "crew.two", "crew", "epb")
    other = login(client, "crew.two")
    r = client.post(url, headers=other, json={"location": elsewhere})
    assert r.status_code == 403 and r.json()["error"] == "not_your_truck"
    r = client.post("/api/v1/waste/trucks/T9/position", headers=crew, json={"location": BEITOU})
    assert r.status_code == 404
    after = {t["id"]: t for t in client.get("/api/v1/waste/trucks", headers=crew).json()}
    assert after["T1"]["seen"] == seen


# Mid-morning: the detour to Beitou and back (an hour's drive) must fit before the shift ends
# at midnight; begun at 23:00 no truck can serve the fire and be home in time.
@pytest.mark.city_time("10:00")
def test_a_re_plan_sends_a_truck_on_from_where_its_crew_was_seen(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    """T1 alone runs today's route; after its first stop its crew's phone puts it 12 km north.
    The fire inserted then is timed from there, not from the stop it last served."""
    r = client.patch("/api/v1/waste/trucks/T2", headers=admin, json={"active": False})
    assert r.status_code == 200, r.text
    planner = platform.services(WasteServices).planner
    today = planner.today().isoformat()
    planner.plan_day(planner.today(), "test", seconds=0.5)
    crew = login(client, "crew.one")
    first = client.get("/api/v1/waste/my-route", headers=crew).json()["stops"][0]
    assert client.post(f"/api/v1/waste/plan-stops/{first['id']}/served", headers=crew).is_success
    r = client.post("/api/v1/waste/trucks/T1/position", headers=crew, json={"location": BEITOU})
    assert r.status_code == 200, r.text
    out = planner.insert_urgent("IT800-5", "fire", "test")
    assert out.urgent_served and out.plan.summary["from_seen"] == ["T1"]
    seen_at = datetime.fromisoformat(r.json()["seen"]["at"])
    route = client.get(f"/api/v1/waste/plans?day={today}", headers=admin).json()["routes"][0]
    ahead = [s for s in route["stops"] if s["status"] == "planned"]
    assert ahead, route
    # 12 km as the crow flies at no more than 30 km/h: at least 20 minutes to the next stop
    assert datetime.fromisoformat(ahead[0]["arrive_at"]) >= seen_at + timedelta(minutes=20)
    assert route["stops"][0]["status"] == "served"
    assert route["distance_km"] > 2 * 12  # there and back again counts


def test_a_night_shift_past_midnight_is_re_planned_on_the_plan_it_is_driving(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    """T1 works 22:00-06:00. At 01:00 the calendar says tomorrow, but the truck is driving
    the evening's plan: a fire then goes into that plan, and a full job closed then serves the
    stop on it; from 06:00 the running plan is the new day's."""
    from onecity.waste.planning import route_link

    for body, tid in (
        ({"active": False}, "T2"),
        ({"shift_start": "22:00", "shift_end": "06:00"}, "T1"),
    ):
        assert client.patch(f"/api/v1/waste/trucks/{tid}", headers=admin, json=body).is_success
    planner = platform.services(WasteServices).planner
    day = planner.today()
    evening = datetime.combine(day, dt_time(21), planner.tz)
    planner.plan_day(day, "test", seconds=0.5, now=evening)
    after_midnight = datetime.combine(day + timedelta(days=1), dt_time(1), planner.tz)
    assert planner.running_day(after_midnight) == day
    assert planner.running_day(after_midnight + timedelta(hours=6)) == day + timedelta(days=1)
    with platform.db.session() as s:
        found = route_link.todays_stop(s, FULL[0], after_midnight)
        assert found is not None and found[0].day == day and found[1].station_id == FULL[0]
    out = planner.insert_urgent("IT800-5", "fire", "test", now=after_midnight)
    assert out.plan.day == day and out.plan.version == 2 and out.urgent_served
    fire = next(s for r in out.plan.routes for s in r.stops if s.station_id == "IT800-5")
    assert fire.arrive_at is not None and fire.arrive_at >= after_midnight


def test_closing_one_full_job_empties_the_station_for_its_other_jobs_too(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    """Two compartments full at one station: the crew closes the garbage job from its list;
    the truck emptied the station, so its stop is served and the bottles' job closes too."""
    sid = FULL[0]
    send(client, city[sid], 2, {"recycling_pet.fill": 0.96})
    today = platform.services(WasteServices).planner.today().isoformat()
    assert client.post("/api/v1/waste/plans", headers=admin, json={"day": today}).is_success
    crew = login(client, "crew.one")
    page = client.get("/api/v1/waste/jobs", headers=crew).json()["jobs"]
    mine = {j["compartment"]: j for j in page if j["station_id"] == sid and j["kind"] == "full"}
    assert set(mine) == {"garbage", "recycling_pet"}, mine
    r = client.post(f"/api/v1/waste/jobs/{mine['garbage']['id']}/close", headers=crew, json={})
    assert r.status_code == 200, r.text
    assert stop_of(client, admin, today, sid)["status"] == "served"
    closed = client.get("/api/v1/waste/jobs?status=closed", headers=crew).json()["jobs"]
    pet = next(j for j in closed if j["id"] == mine["recycling_pet"]["id"])
    assert f"job {mine['garbage']['id']} closed" in pet["note"]


def test_a_job_closed_while_a_re_plan_is_stored_serves_the_stop_of_the_new_version(
    client: TestClient,
    platform: Platform,
    admin: dict[str, str],
    city: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The close waits for the re-plan's lock on the plan; when it gets it, the plan it found
    is superseded, and it serves the station's stop on the version the re-plan stored."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from onecity.core.auth.permissions import Principal, Role
    from onecity.waste.jobs.schemas import CloseIn
    from onecity.waste.planning import route_link

    planner = platform.services(WasteServices).planner
    today = planner.today().isoformat()
    planner.plan_day(planner.today(), "test", seconds=0.5)
    job = full_jobs(client, login(client, "crew.one"))[FULL[0]]
    storing = threading.Event()
    served_ids = route_link.served_ids

    def slowly(s: Any, plan_id: int) -> set[int]:
        storing.set()  # the re-plan holds the plan's row now
        time.sleep(1.0)
        return served_ids(s, plan_id)

    monkeypatch.setattr(route_link, "served_ids", slowly)
    who = Principal(0, "crew.one", Role.CREW, "epb")
    with ThreadPoolExecutor(2) as pool:
        replanned = pool.submit(planner.insert_urgent, "IT800-5", "fire", "test")
        assert storing.wait(20)
        closed = pool.submit(
            platform.services(WasteServices).jobs.close, who, job["id"], CloseIn(), "test"
        )
        assert replanned.result().plan.version == 2
        assert closed.result().status == "closed"
    monkeypatch.undo()
    plan = client.get(f"/api/v1/waste/plans?day={today}", headers=admin).json()
    assert plan["version"] == 2
    assert stop_of(client, admin, today, FULL[0])["status"] == "served"


def test_a_fix_from_before_the_last_served_stop_is_not_routed_from(
    client: TestClient, platform: Platform, admin: dict[str, str], city: Any
) -> None:
    """The phone said where the truck was, then the crew served a stop from the jobs list
    with the route page closed: the truck is at that stop, not where the phone last saw it;
    nor is a fix 2 km wide routed from."""
    assert client.patch("/api/v1/waste/trucks/T2", headers=admin, json={"active": False}).is_success
    planner = platform.services(WasteServices).planner
    planner.plan_day(planner.today(), "test", seconds=0.5)
    crew = login(client, "crew.one")
    url = "/api/v1/waste/trucks/T1/position"
    assert client.post(url, headers=crew, json={"location": BEITOU}).is_success
    first = client.get("/api/v1/waste/my-route", headers=crew).json()["stops"][0]
    assert client.post(f"/api/v1/waste/plan-stops/{first['id']}/served", headers=crew).is_success
    out = planner.insert_urgent("IT800-5", "fire", "test")
    assert out.plan.summary["from_seen"] == []
    vague = {"location": BEITOU, "accuracy_m": 2000}
    assert client.post(url, headers=crew, json=vague).is_success
    out = planner.insert_urgent("IT800-2", "fault", "test")
    assert out.plan.summary["from_seen"] == []
