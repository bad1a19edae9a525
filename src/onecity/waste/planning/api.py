"""Collection plans: trucks, a day's routes, urgent insertions and crews' served stops.
Parse → service → schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from onecity.core.auth.permissions import Perm, require
from onecity.core.dates import CityDate
from onecity.core.deps import ClientSource, CurrentUser, PlatformDep
from onecity.core.http import MAX_INT64
from onecity.waste.planning import schemas as sc
from onecity.waste.services import WasteServices
from onecity.waste.simulation import reports as sim_reports

router = APIRouter(prefix="/api/v1/waste", tags=["waste collection plans"])

Id = Annotated[int, Path(ge=1, le=MAX_INT64)]


@router.get("/trucks", response_model=list[sc.TruckOut])
def trucks(who: CurrentUser, p: PlatformDep) -> list[sc.TruckOut]:
    svc = p.services(WasteServices).planner
    return svc.trucks(who)


@router.post("/trucks", response_model=sc.TruckOut, status_code=201)
def add_truck(
    src: ClientSource,
    who: CurrentUser,
    p: PlatformDep,
    body: sc.TruckIn,
) -> sc.TruckOut:
    """Register a truck: its depot (a GeoJSON Point in the city), capacity, shift and crew."""
    svc = p.services(WasteServices).planner
    return svc.fleet.add_truck(who, body, src)


@router.patch("/trucks/{truck_id}", response_model=sc.TruckOut)
def change_truck(
    src: ClientSource,
    who: CurrentUser,
    p: PlatformDep,
    truck_id: Annotated[str, Path(max_length=32)],
    body: sc.TruckPatch,
) -> sc.TruckOut:
    """Change a truck (crew, shift, capacity, depot; `active: false` takes it off the plans)."""
    svc = p.services(WasteServices).planner
    return svc.fleet.change_truck(who, truck_id, body, src)


@router.post("/trucks/{truck_id}/position", response_model=sc.TruckOut)
def truck_position(
    who: CurrentUser,
    p: PlatformDep,
    truck_id: Annotated[str, Path(max_length=32)],
    body: sc.PositionIn,
) -> sc.TruckOut:
    """Where the truck is now, from its crew's phone: a re-plan within 10 minutes sends it on
    from there instead of from its last served stop. Only the newest fix is kept."""
    svc = p.services(WasteServices).planner
    return svc.fleet.report_position(who, truck_id, body)


@router.get("/plans", response_model=sc.PlanOut)
def plan_for_day(
    who: CurrentUser,
    p: PlatformDep,
    day: CityDate | None = Query(None, description="local date; today by default"),
) -> sc.PlanOut:
    """The current version of a day's plan."""
    svc = p.services(WasteServices).planner
    return svc.plan_for(who, day or svc.today())


@router.get("/plans/{plan_id}", response_model=sc.PlanOut)
def plan(plan_id: Id, who: CurrentUser, p: PlatformDep) -> sc.PlanOut:
    """Any version, superseded ones too: what the crews were told when."""
    svc = p.services(WasteServices).planner
    out = svc.get(plan_id)
    svc.plan_for(who, out.day)  # the same access check as the day's plan
    return out


@router.post("/plans", response_model=sc.PlanOut, status_code=201)
def make_plan(
    src: ClientSource,
    who: CurrentUser,
    p: PlatformDep,
    body: sc.PlanIn,
) -> sc.PlanOut:
    """Plan a day's shift now (a new version if one exists). Takes the solver's seconds."""
    svc = p.services(WasteServices).planner
    require(who, Perm.WASTE_MANAGE)
    svc.trucks(who)  # department check
    return svc.plan_day(body.day, who.username, body.seconds, source=src)


@router.post("/plans/urgent", response_model=sc.ReplanOut, status_code=201)
def urgent(
    src: ClientSource,
    who: CurrentUser,
    p: PlatformDep,
    body: sc.UrgentIn,
) -> sc.ReplanOut:
    """Insert an urgent visit into today's running routes; served stops stay as they are."""
    svc = p.services(WasteServices).planner
    require(who, Perm.WASTE_JOBS)
    svc.trucks(who)
    return svc.insert_urgent(body.station_id, body.kind, who.username, source=src)


@router.get("/my-route", response_model=sc.RouteOut | None)
def my_route(
    who: CurrentUser,
    p: PlatformDep,
    truck_id: Annotated[str | None, Query(max_length=32)] = None,
    day: CityDate | None = None,
) -> sc.RouteOut | None:
    """The caller's truck's route on the running plan (or `truck_id`'s): today's, or
    yesterday's while its night shift is still out; null when it has none."""
    svc = p.services(WasteServices).planner
    return svc.my_route(who, truck_id, day or svc.running_day())


@router.post("/plan-stops/{stop_id}/served", response_model=sc.PlanStopOut)
def served(
    src: ClientSource,
    who: CurrentUser,
    p: PlatformDep,
    stop_id: Id,
) -> sc.PlanStopOut:
    """The station's full and full-soon crew jobs close with its collection stop."""
    svc = p.services(WasteServices).planner
    return svc.mark_served(who, stop_id, src)


@router.get("/simulations/latest")
def latest_simulation(who: CurrentUser, p: PlatformDep) -> dict[str, Any] | None:
    """The newest stored collection simulation: its report (per policy: truck km, stops, kg,
    overflow hours, fires handled late; the parameters it was run with) and its charts as SVG
    text; null before the first run."""
    svc = p.services(WasteServices).planner
    return sim_reports.latest(svc.db, who, svc.config.department)
