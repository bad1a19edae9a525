"""The demo's collection trucks and its one crew account (`onecity.demo_data/waste_fleet.toml`):
the trucks are registered from the file at every start, and the crew account rides the truck
on duty, so its phone page shows a route whenever someone tries the demo."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from sqlalchemy import select

from onecity.core import clock
from onecity.core.platform import Platform
from onecity.waste.planning import versions
from onecity.waste.planning.models import WasteTruck
from onecity.waste.planning.schemas import RouteOut
from onecity.waste.planning.views import plan_out
from onecity.waste.services import WasteServices


@dataclass(frozen=True)
class DemoTruck:
    id: str
    name: str
    depot: str
    lon: float
    lat: float
    capacity_kg: float
    capacity_m3: float
    shift_start: str
    shift_end: str


@dataclass(frozen=True)
class Fleet:
    crew: str
    trucks: tuple[DemoTruck, ...]


def fleet() -> Fleet:
    """The demo fleet as the data file describes it."""
    raw = tomllib.loads(
        (resources.files("onecity.demo_data") / "waste_fleet.toml").read_text("utf-8")
    )
    trucks = []
    for t in raw["trucks"]:
        start, _, end = str(t["shift"]).partition("-")
        trucks.append(
            DemoTruck(
                id=str(t["id"]),
                name=str(t["name"]),
                depot=str(t["depot"]),
                lon=float(t["lon"]),
                lat=float(t["lat"]),
                capacity_kg=float(t["capacity_kg"]),
                capacity_m3=float(t["capacity_m3"]),
                shift_start=start,
                shift_end=end,
            )
        )
    return Fleet(crew=str(raw["crew"]), trucks=tuple(trucks))


def seed_trucks(p: Platform, department: str = "epb") -> None:
    """The file's trucks, registered or brought up to date (an older demo's var/ keeps its
    data but takes the file's shifts). Safe to run at every start."""
    with p.db.session() as s:
        for t in fleet().trucks:
            row = s.get(WasteTruck, t.id)
            if row is None:
                row = WasteTruck(id=t.id, department_code=department, active=True)
                s.add(row)
            row.name, row.depot_name = t.name, t.depot
            row.depot_lon, row.depot_lat = t.lon, t.lat
            row.capacity_kg, row.capacity_m3 = t.capacity_kg, t.capacity_m3
            row.shift_start, row.shift_end = t.shift_start, t.shift_end


def on_duty(routes: list[RouteOut], now: datetime) -> RouteOut | None:
    """The route being driven now; else the next to leave; else the last to come back."""
    timed = [(r.leaves_at, r.back_at, r) for r in routes if r.leaves_at and r.back_at]
    driving = [r for leaves, back, r in timed if leaves <= now < back]
    if driving:
        return driving[0]
    later = sorted((leaves, r.truck_id) for leaves, _, r in timed if leaves > now)
    if later:
        return next(r for r in routes if r.truck_id == later[0][1])
    done = sorted((back, r.truck_id) for _, back, r in timed)
    return next((r for r in routes if r.truck_id == done[-1][1]), None) if done else None


def hand_over(p: Platform, now: datetime | None = None) -> str | None:
    """Put the demo's crew account on the truck on duty in the running plan (its other trucks
    lose it). Returns the truck's id, None when the running plan has no route yet."""
    now = now or clock.now()
    planner = p.services(WasteServices).planner
    crew = fleet().crew
    with p.db.read() as s:
        if s.scalar(select(WasteTruck.id).limit(1)) is None:
            return None
        cur = versions.current(s, planner.config.department, planner.running_day(now))
        plan_id = cur.id if cur is not None else None
    if plan_id is None:
        return None
    route = on_duty(plan_out(p.db, plan_id).routes, now)
    if route is None:
        return None
    with p.db.session() as s:
        q = select(WasteTruck).where(WasteTruck.department_code == planner.config.department)
        for t in s.scalars(q):
            want = crew if t.id == route.truck_id else (None if t.crew == crew else t.crew)
            if t.crew != want:
                t.crew = want
    return route.truck_id
