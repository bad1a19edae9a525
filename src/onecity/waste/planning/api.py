"""Collection plans: trucks, a day's routes, urgent insertions and crews' served stops.
Parse → service → schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.dates import CityDate
from onecity.core.http import MAX_INT64, platform, principal, source
from onecity.core.platform import Platform
from onecity.waste.planning import schemas as sc
from onecity.waste.planning.service import CollectionPlanner
from onecity.waste.services import WasteServices
from onecity.waste.simulation import reports as sim_reports

router = APIRouter(prefix="/api/v1/waste", tags=["waste collection plans"])

Id = Annotated[int, Path(ge=1, le=MAX_INT64)]


async def service(p: Platform = Depends(platform)) -> CollectionPlanner:
    return p.services(WasteServices).planner


@router.get("/trucks", response_model=list[sc.TruckOut])
def trucks(
    who: Principal = Depends(principal), svc: CollectionPlanner = Depends(service)
) -> list[sc.TruckOut]:
    return svc.trucks(who)


@router.post("/trucks", response_model=sc.TruckOut, status_code=201)
def add_truck(
    body: sc.TruckIn,
    request: Request,
    who: Principal = Depends(principal),
    svc: CollectionPlanner = Depends(service),
) -> sc.TruckOut:
    """Register a truck: its depot (a GeoJSON Point in the city), capacity, shift and crew."""
    return svc.fleet.add_truck(who, body, source(request))


@router.patch("/trucks/{truck_id}", response_model=sc.TruckOut)
def change_truck(
    truck_id: Annotated[str, Path(max_length=32)],
    body: sc.TruckPatch,
    request: Request,
    who: Principal = Depends(principal),
    svc: CollectionPlanner = Depends(service),
) -> sc.TruckOut:
    """Change a truck (crew, shift, capacity, depot; `active: false` takes it off the plans)."""
    return svc.fleet.change_truck(who, truck_id, body, source(request))


@router.post("/trucks/{truck_id}/position", response_model=sc.TruckOut)
def truck_position(
    truck_id: Annotated[str, Path(max_length=32)],
    body: sc.PositionIn,
    who: Principal = Depends(principal),
    svc: CollectionPlanner = Depends(service),
) -> sc.TruckOut:
    """Where the truck is now, from its crew's phone: a re-plan within 10 minutes sends it on
    from there instead of from its last served stop. Only the newest fix is kept."""
    return svc.fleet.report_position(who, truck_id, body)


@router.get("/plans", response_model=sc.PlanOut)
def plan_for_day(
    day: CityDate | None = Query(None, description="local date; today by default"),
    who: Principal = Depends(principal),
    svc: CollectionPlanner = Depends(service),
) -> sc.PlanOut:
    """The current version of a day's plan."""
    return svc.plan_for(who, day or svc.today())


@router.get("/plans/{plan_id}", response_model=sc.PlanOut)
def plan(
    plan_id: Id, who: Principal = Depends(principal), svc: CollectionPlanner = Depends(service)
) -> sc.PlanOut:
    """Any version, superseded ones too: what the crews were told when."""
    out = svc.get(plan_id)
    svc.plan_for(who, out.day)  # the same access check as the day's plan
    return out


@router.post("/plans", response_model=sc.PlanOut, status_code=201)
def make_plan(
    body: sc.PlanIn,
    request: Request,
    who: Principal = Depends(principal),
    svc: CollectionPlanner = Depends(service),
) -> sc.PlanOut:
    """Plan a day's shift now (a new version if one exists). Takes the solver's seconds."""
    require(who, Perm.WASTE_MANAGE)
    svc.trucks(who)  # department check
    return svc.plan_day(body.day, who.username, body.seconds, source=source(request))


@router.post("/plans/urgent", response_model=sc.ReplanOut, status_code=201)
def urgent(
    body: sc.UrgentIn,
    request: Request,
    who: Principal = Depends(principal),
    svc: CollectionPlanner = Depends(service),
) -> sc.ReplanOut:
    """Insert an urgent visit into today's running routes; served stops stay as they are."""
    require(who, Perm.WASTE_JOBS)
    svc.trucks(who)
    return svc.insert_urgent(body.station_id, body.kind, who.username, source=source(request))


@router.get("/my-route", response_model=sc.RouteOut | None)
def my_route(
    truck_id: Annotated[str | None, Query(max_length=32)] = None,
    day: CityDate | None = None,
    who: Principal = Depends(principal),
    svc: CollectionPlanner = Depends(service),
) -> sc.RouteOut | None:
    """The caller's truck's route on the running plan (or `truck_id`'s): today's, or
    yesterday's while its night shift is still out; null when it has none."""
    return svc.my_route(who, truck_id, day or svc.running_day())


@router.post("/plan-stops/{stop_id}/served", response_model=sc.PlanStopOut)
def served(
    stop_id: Id,
    request: Request,
    who: Principal = Depends(principal),
    svc: CollectionPlanner = Depends(service),
) -> sc.PlanStopOut:
    """The station's full and full-soon crew jobs close with its collection stop."""
    return svc.mark_served(who, stop_id, source(request))


@router.get("/simulations/latest")
def latest_simulation(
    who: Principal = Depends(principal), svc: CollectionPlanner = Depends(service)
) -> dict[str, Any]:
    """The newest stored collection simulation: its report (per policy: truck km, stops, kg,
    overflow hours, fires handled late) and its charts as SVG text."""
    return sim_reports.latest(svc.db, who, svc.config.department)
