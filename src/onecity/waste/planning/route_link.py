"""A station's stop on today's route and its crew jobs about the same bins.

A crew that empties a station on its route has done the station's `full` and `full_soon`
jobs; a crew that closes such a job from its jobs list has emptied the station for today's
route. Whichever the crew uses settles the other in the same transaction, so the jobs list
and the route never disagree and nothing is settled twice. Both sides lock in one order: the
station's open emptying jobs (by id), then the plan version's row (shared), then the plan
stop; so the two never deadlock, the second of two crews acting at once finds the work done
(409), and a re-plan, which locks the plan row exclusively, never stores a new version that
misses a stop served while it was solving.

Fire and repair stops keep their jobs: the crew closes those with what it found."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import events
from onecity.waste.jobs.models import WasteJob
from onecity.waste.jobs.status import JobStatus
from onecity.waste.monitoring.readings import AlertKind
from onecity.waste.planning.build import parse_hhmm
from onecity.waste.planning.models import WastePlan, WastePlanStop, WasteTruck
from onecity.waste.planning.status import PlanStatus, StopStatus, move_stop

EMPTIED_BY_A_VISIT = (AlertKind.FULL.value, AlertKind.FULL_SOON.value)


def lock_emptying_jobs(s: Session, station_id: str) -> list[WasteJob]:
    """The station's jobs an emptying settles, not yet closed, locked, oldest first."""
    q = (
        select(WasteJob)
        .where(
            WasteJob.station_id == station_id,
            WasteJob.status != JobStatus.CLOSED.value,
            WasteJob.kind.in_(EMPTIED_BY_A_VISIT),
        )
        .order_by(WasteJob.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE: plan stops may reference them
    )
    return list(s.scalars(q))


def lock_plan(s: Session, plan_id: int) -> WastePlan | None:
    """A plan version's row, share-locked: a re-plan (which locks it exclusively to supersede
    it) waits until a stop being served is committed, and then sees it served."""
    q = (
        select(WastePlan)
        .where(WastePlan.id == plan_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return s.scalars(q).one_or_none()


def todays_stop(
    s: Session, station_id: str, now: datetime
) -> tuple[WastePlan, WastePlanStop] | None:
    """`_running_stop`, looked up again if a re-plan superseded the plan while this waited for
    its lock (a new statement sees the new version)."""
    for _ in range(3):
        found, superseded = _running_stop(s, station_id, now)
        if not superseded:
            return found
    return None


def _running_stop(
    s: Session, station_id: str, now: datetime
) -> tuple[tuple[WastePlan, WastePlanStop] | None, bool]:
    """The station's collection stop, not yet served, on a truck's route of the plan running
    now: of today's current plan, or of yesterday's while that truck's night shift is still
    out. Its plan share-locked and the stop locked; None if there is none."""
    q = (
        select(WastePlanStop.id, WastePlan.id, WastePlan.origin, WastePlanStop.truck_id)
        .join(WastePlan, WastePlan.id == WastePlanStop.plan_id)
        .where(
            WastePlan.status == PlanStatus.CURRENT.value,
            WastePlan.origin <= now,
            WastePlan.origin > now - timedelta(days=2),
            WastePlanStop.station_id == station_id,
            WastePlanStop.truck_id.is_not(None),
            WastePlanStop.served_at.is_(None),
            WastePlanStop.kind == "collect",
        )
        .order_by(WastePlan.origin.desc(), WastePlanStop.id)
    )
    found = s.execute(q).all()
    today = [r for r in found if r.origin > now - timedelta(days=1)]
    running = [
        r for r in found if r not in today and _still_out(s, r[1], r.truck_id, r.origin, now)
    ]
    picks = running or today
    if not picks:
        return None, False
    pick = picks[0]
    plan = lock_plan(s, pick[1])
    stop = s.get(WastePlanStop, pick[0], with_for_update=True, populate_existing=True)
    if plan is None or plan.status != PlanStatus.CURRENT.value:
        return None, True  # re-planned while this waited: look in the new version
    if stop is None or stop.served_at is not None:
        return None, False  # served meanwhile
    return (plan, stop), False


def _still_out(
    s: Session, plan_id: int, truck_id: str | None, origin: datetime, now: datetime
) -> bool:
    """Whether the truck's night shift of an earlier day's plan is still on now."""
    truck = s.get(WasteTruck, truck_id) if truck_id else None
    ends = night_shift_end(truck, origin) if truck is not None else None
    return ends is not None and ends > now


def night_shift_end(truck: WasteTruck, origin: datetime) -> datetime | None:
    """When the truck's shift of the day starting at `origin` (local midnight) ends, if it is
    a night shift that ends the next morning; None for a day shift."""
    start = parse_hhmm(truck.shift_start, "shift_start")
    end = parse_hhmm(truck.shift_end, "shift_end")
    if end > start:
        return None
    return origin + timedelta(days=1, seconds=end)


def served_ids(s: Session, plan_id: int) -> set[int]:
    q = select(WastePlanStop.id).where(
        WastePlanStop.plan_id == plan_id, WastePlanStop.served_at.is_not(None)
    )
    return set(s.scalars(q))


def serve(s: Session, plan: WastePlan, stop: WastePlanStop, by: str, at: datetime) -> None:
    """Mark the stop served and tell the crews' screens (`waste.plan_stop`)."""
    move_stop(stop, StopStatus.SERVED, by, at)
    events.emit(
        s,
        "waste.plan_stop",
        {
            "plan_id": plan.id,
            "stop_id": stop.id,
            "station_id": stop.station_id,
            "truck_id": stop.truck_id,
            "status": stop.status,
        },
        plan.department_code,
    )
