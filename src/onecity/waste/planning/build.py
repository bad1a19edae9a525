"""From the database to a routing problem and back: the stations, their last readings and
forecasts, the open urgent jobs and the trucks of a department become a `routing.Problem`;
a stored plan version becomes the `Problem` and `Plan` that `routing.replan` continues.

Queries only; the plan service owns the transactions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core.errors import Invalid
from onecity.core.models import Device
from onecity.core.travel import TravelProvider
from onecity.waste.jobs.models import WasteJob
from onecity.waste.jobs.status import JobStatus
from onecity.waste.monitoring.codec import from_json
from onecity.waste.monitoring.models import WasteStationState
from onecity.waste.planning import history as forecast_history
from onecity.waste.planning import policy as collection
from onecity.waste.planning import routing
from onecity.waste.planning.models import WastePlan, WastePlanStop, WasteTruck
from onecity.waste.planning.policy import Compartment, Decision, Policy, Station
from onecity.waste.planning.status import StopStatus
from onecity.waste.rules.stations import STATION_TYPE

log = logging.getLogger(__name__)

# What a station holds when its registry entry says nothing else (the iTrash cabinet the
# station simulator models: 1.2 m3 of pressed garbage, small PET and can bins).
DEFAULT_CAPACITY: dict[str, tuple[float, float]] = {
    "garbage": (300.0, 1.2),
    "recycling_pet": (31.25, 0.25),
    "recycling_can": (45.0, 0.15),
}
URGENT_KINDS = ("fire", "fault", "temperature_high")  # a crew must go, whatever the fill


@dataclass(frozen=True)
class Built:
    problem: routing.Problem
    decisions: list[Decision]  # one per station, stop=None for those that wait
    stop_jobs: dict[int, int]  # problem stop index -> urgent job id
    origin: datetime


def parse_hhmm(raw: str, what: str) -> int:
    """Seconds after local midnight of 'HH:MM' (24:00 allowed for an end)."""
    try:
        h, m = (int(x) for x in raw.split(":"))
    except ValueError:
        raise Invalid(f"{what} must be HH:MM, not '{raw}'", field=what) from None
    if not (0 <= h <= 24 and 0 <= m < 60) or h * 60 + m > 24 * 60:
        raise Invalid(f"{what} must be a time of day between 00:00 and 24:00", field=what)
    return h * 3600 + m * 60


def origin_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def window_of(meta: dict[str, Any]) -> tuple[int, int] | None:
    """A station's `service_window` ('HH:MM-HH:MM' local, start before end), e.g. outside
    school hours; Invalid naming what is wrong with it."""
    raw = meta.get("service_window")
    if not raw:
        return None
    start, _, end = str(raw).partition("-")
    window = parse_hhmm(start, "service_window"), parse_hhmm(end, "service_window")
    if window[0] >= window[1]:
        raise Invalid(
            f"service_window '{raw}' must start before it ends on the same day",
            field="service_window",
        )
    return window


def _windows(stations: Sequence[Device]) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """Each station's service window, and why a station's window was ignored: one station's
    bad metadata leaves that station without a window, not the city without a plan."""
    windows: dict[str, tuple[int, int]] = {}
    ignored: dict[str, str] = {}
    for dev in stations:
        try:
            w = window_of(dev.meta if isinstance(dev.meta, dict) else {})
        except Invalid as e:
            ignored[dev.id] = f"{e.detail}: ignored"
            log.warning("station %s: %s", dev.id, ignored[dev.id])
            continue
        if w is not None:
            windows[dev.id] = w
    return windows, ignored


def _compartments(dev: Device, state: dict[str, Any] | None, models: dict[Any, Any]) -> tuple:  # type: ignore[type-arg]
    caps = dev.meta.get("compartments") if isinstance(dev.meta, dict) else None
    last = from_json(state).compartments if state else {}
    out = []
    names = list(last) or list(DEFAULT_CAPACITY)
    for name in names:
        kg_cap, m3_cap = DEFAULT_CAPACITY.get(name, DEFAULT_CAPACITY["garbage"])
        if isinstance(caps, dict) and isinstance(caps.get(name), dict):
            kg_cap = float(caps[name].get("capacity_kg", kg_cap))
            m3_cap = float(caps[name].get("capacity_m3", m3_cap))
        reading = last[name].last if name in last else None
        out.append(
            Compartment(
                name=name,
                fill=reading.fill if reading else 0.0,
                kg=reading.weight_kg if reading else 0.0,
                capacity_kg=kg_cap,
                capacity_m3=m3_cap,
                model=models.get((dev.id, name)),
            )
        )
    return tuple(out)


def trucks_of(s: Session, department: str) -> list[WasteTruck]:
    t = WasteTruck
    q = select(t).where(t.department_code == department, t.active.is_(True)).order_by(t.id)
    return list(s.scalars(q))


def urgent_jobs(s: Session, station_ids: Sequence[str]) -> dict[str, WasteJob]:
    """The most urgent open job per station among the kinds that need a crew now."""
    j = WasteJob
    q = (
        select(j)
        .where(
            j.status != JobStatus.CLOSED.value,
            j.kind.in_(URGENT_KINDS),
            j.station_id.in_(station_ids),
        )
        .order_by(j.priority, j.id)
    )
    out: dict[str, WasteJob] = {}
    for job in s.scalars(q):
        out.setdefault(job.station_id, job)
    return out


def _sites(
    stations: Sequence[Device], trucks: Sequence[WasteTruck]
) -> tuple[list[routing.Site], dict[str, int], dict[str, int]]:
    sites = [routing.Site(d.id, float(d.lon or 0), float(d.lat or 0)) for d in stations]
    station_site = {d.id: i for i, d in enumerate(stations)}
    depot_site: dict[str, int] = {}
    seen: dict[tuple[float, float], int] = {}
    for t in trucks:
        key = (round(t.depot_lon, 6), round(t.depot_lat, 6))
        if key not in seen:
            seen[key] = len(sites)
            sites.append(routing.Site(t.depot_name, t.depot_lon, t.depot_lat))
        depot_site[t.id] = seen[key]
    return sites, station_site, depot_site


def _truck(t: WasteTruck, depot: int, day_offset: int) -> routing.Truck:
    start = parse_hhmm(t.shift_start, "shift_start")
    end = parse_hhmm(t.shift_end, "shift_end")
    if end <= start:
        end += 86400  # a night shift ends the next morning
    return routing.Truck(
        t.id, depot, t.capacity_kg, t.capacity_m3, (day_offset + start, day_offset + end)
    )


def _matrix(
    travel: TravelProvider,
    sites: Sequence[routing.Site],
    origin: datetime,
    trucks: Sequence[WasteTruck],
    depot_site: dict[str, int],
) -> tuple[Any, Any]:
    """The travel matrix at the speeds of the trucks' whole shifts, the same whenever in the
    day the plan is made or re-made, so a re-plan's times agree with the plan's."""
    nominal = [_truck(t, depot_site[t.id], 0) for t in trucks]
    first = origin + timedelta(seconds=min(t.shift[0] for t in nominal))
    last = origin + timedelta(seconds=max(t.shift[1] for t in nominal))
    return travel.matrix([(x.x, x.y) for x in sites], first, last)


def build(
    s: Session,
    department: str,
    day: date,
    now: datetime,
    tz: ZoneInfo,
    travel: TravelProvider,
    policy: Policy,
) -> Built:
    trucks = trucks_of(s, department)
    if not trucks:
        raise Invalid(f"department '{department}' has no active truck to plan for", field="day")
    stations = _stations(s, department)
    ids = [x.id for x in stations]
    jobs = urgent_jobs(s, ids)
    sites, station_site, depot_site = _sites(stations, trucks)
    origin = origin_of(day, tz)
    now_s = int((now - origin).total_seconds())
    # A plan made during the day starts now: trucks whose shift is over have no route left.
    rtrucks = tuple(
        replace(rt, shift=(max(rt.shift[0], now_s), rt.shift[1]))
        for rt in (_truck(t, depot_site[t.id], 0) for t in trucks)
        if rt.shift[1] > now_s
    )
    if not rtrucks:
        raise Invalid(f"every truck's shift on {day} is over", field="day")
    every = trucks
    shift_start = origin + timedelta(seconds=min(t.shift[0] for t in rtrucks))
    # The next chance to empty a station, at worst: the end of tomorrow's first shift (a
    # station left today may come last on tomorrow's route). The simulation measured the
    # start of that shift instead: fewer km, but more overflow than a fixed daily schedule.
    nominal = [_truck(t, 0, 0) for t in every]
    first = min(nominal, key=lambda t: t.shift[0])
    next_shift = origin + timedelta(days=1, seconds=first.shift[1])
    shift_end = origin + timedelta(seconds=max(t.shift[1] for t in rtrucks))
    cstations, ignored = _policy_stations(s, stations, station_site, jobs, now, tz)
    decisions = [
        replace(d, reason=f"{d.reason}; {ignored[d.station]}") if d.station in ignored else d
        for d in collection.decide(
            cstations, now, shift_start, next_shift, origin, policy, shift_end=shift_end
        )
    ]
    stops = [dec.stop for dec in decisions if dec.stop is not None]
    stop_jobs = {
        i: jobs[dec.station].id
        for i, dec in enumerate(dec for dec in decisions if dec.stop is not None)
        if dec.station in jobs
    }
    metres, seconds = _matrix(travel, sites, origin, every, depot_site)
    problem = routing.Problem(tuple(sites), tuple(stops), rtrucks, metres, seconds)
    return Built(problem, decisions, stop_jobs, origin)


def _stations(s: Session, department: str) -> list[Device]:
    """The department's active stations on the map."""
    d = Device
    return list(
        s.scalars(
            select(d)
            .where(
                d.type == STATION_TYPE,
                d.department_code == department,
                d.status == "active",
                d.lon.is_not(None),
                d.lat.is_not(None),
            )
            .order_by(d.id)
        )
    )


def _policy_stations(
    s: Session,
    stations: Sequence[Device],
    station_site: dict[str, int],
    jobs: dict[str, WasteJob],
    now: datetime,
    tz: ZoneInfo,
) -> tuple[list[Station], dict[str, str]]:
    """The stations as the collection policy takes them (state, forecasts by the city's local
    hours, urgent jobs, windows), and why a station's window was ignored."""
    ids = [x.id for x in stations]
    states = {
        r.station_id: r.state
        for r in s.scalars(select(WasteStationState).where(WasteStationState.station_id.in_(ids)))
    }
    models = forecast_history.fit_all(s, ids, now, tz=tz)
    windows, ignored = _windows(stations)
    out = [
        Station(
            id=dev.id,
            site=station_site[dev.id],
            compartments=_compartments(dev, states.get(dev.id), models),
            urgent=jobs[dev.id].kind if dev.id in jobs else None,
            window=windows.get(dev.id),
        )
        for dev in stations
    ]
    return out, ignored


@dataclass(frozen=True)
class Stored:
    """A stored plan version as the planner's objects, for re-planning."""

    problem: routing.Problem
    plan: routing.Plan
    rows: list[WastePlanStop]  # rows[i] is problem.stops[i]
    served: set[int]


def _secs(at: datetime | None, origin: datetime) -> int:
    return 0 if at is None else int((at - origin).total_seconds())


def load(
    s: Session,
    plan: WastePlan,
    travel: TravelProvider,
    extra: Sequence[Device] = (),
    seen: Sequence[WasteTruck] = (),
) -> tuple[Stored, dict[str, int], dict[str, int]]:
    """The plan version's stops, with `extra` stations' sites (for urgent insertions) and a
    site where each of the `seen` trucks was last seen. Returns the stored plan, each station's
    site and each seen truck's."""
    rows = list(
        s.scalars(
            select(WastePlanStop)
            .where(WastePlanStop.plan_id == plan.id)
            .order_by(WastePlanStop.truck_id, WastePlanStop.seq, WastePlanStop.id)
        )
    )
    trucks = trucks_of(s, plan.department_code)
    ids = list(dict.fromkeys([r.station_id for r in rows] + [d.id for d in extra]))
    devs = {d.id: d for d in s.scalars(select(Device).where(Device.id.in_(ids)))}
    stations = [devs[i] for i in ids]
    sites, station_site, depot_site = _sites(stations, trucks)
    seen_site: dict[str, int] = {}
    for w in seen:
        if w.seen_lon is not None and w.seen_lat is not None:
            seen_site[w.id] = len(sites)
            sites.append(routing.Site(f"{w.id}@seen", w.seen_lon, w.seen_lat))
    origin = plan.origin
    stops = tuple(_stored_stop(r, station_site[r.station_id]) for r in rows)
    rtrucks = tuple(_truck(t, depot_site[t.id], 0) for t in trucks)
    metres, seconds = _matrix(travel, sites, origin, trucks, depot_site)
    problem = routing.Problem(tuple(sites), stops, rtrucks, metres, seconds)
    routes = [route for t in rtrucks if (route := _stored_route(plan, rows, t.id)) is not None]
    skipped = tuple(i for i, r in enumerate(rows) if r.status == StopStatus.SKIPPED)
    unserved = tuple(
        routing.Unserved(i, "fleet_too_small", r.reason)
        for i, r in enumerate(rows)
        if r.status == StopStatus.UNSERVED
    )
    served = {i for i, r in enumerate(rows) if r.served_at is not None}
    stored = Stored(problem, routing.Plan(tuple(routes), skipped, unserved), rows, served)
    return stored, station_site, seen_site


def _stored_stop(r: WastePlanStop, site: int) -> routing.Stop:
    return routing.Stop(
        ref=r.station_id,
        site=site,
        kg=r.kg,
        m3=r.m3,
        service_s=r.service_s,
        window=(
            (r.window_start_s, r.window_end_s)
            if r.window_start_s is not None and r.window_end_s is not None
            else None
        ),
        required=r.required,
        prize_m=r.prize_m,
        priority=r.priority,
        kind=r.kind,
    )


def _stored_route(
    plan: WastePlan, rows: Sequence[WastePlanStop], truck: str
) -> routing.Route | None:
    """The truck's route as stored (None if it has no stop); distance left at 0."""
    origin = plan.origin
    mine = [(i, r) for i, r in enumerate(rows) if r.truck_id == truck and r.seq is not None]
    if not mine:
        return None
    visits = tuple(
        routing.Visit(
            i,
            _secs(r.arrive_at, origin),
            _secs(r.start_at, origin),
            _secs(r.depart_at, origin),
            r.load_kg or 0.0,
            r.load_m3 or 0.0,
        )
        for i, r in mine
    )
    start, end = (
        (plan.summary or {})
        .get("route_s", {})
        .get(truck, [visits[0].arrive_s, visits[-1].depart_s])
    )
    return routing.Route(truck, visits, int(start), int(end), 0)
