"""A day's plan versions as stored: find the current one, supersede it (refusing when another
process stored a newer one first), store a solved plan as the next version with its stops, and
tell the crews' screens. Helpers of the plan service, inside its units of work (`s`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onecity.core import events
from onecity.core.errors import Conflict
from onecity.core.travel import CrowFlies, TravelProvider
from onecity.waste.planning import route_link, routing
from onecity.waste.planning.models import WastePlan, WastePlanStop
from onecity.waste.planning.status import PlanStatus, StopStatus, move_plan

CURRENT = PlanStatus.CURRENT.value  # the stored string plans are looked up by


@dataclass(frozen=True)
class NewVersion:
    """A solved plan, to be stored as version `version` of `day`."""

    day: date
    version: int
    origin: datetime  # local midnight of `day`
    plan: routing.Plan
    problem: routing.Problem
    reasons: dict[int, str]  # stop index -> why it is in the plan (or left out)
    jobs: dict[int, int]  # stop index -> the crew job it serves
    by: str
    why: str
    summary: dict[str, Any]
    served: dict[int, WastePlanStop] = field(default_factory=dict)  # kept from the last one


def current(s: Session, department: str, day: date) -> WastePlan | None:
    p = WastePlan
    q = select(p).where(p.department_code == department, p.day == day, p.status == CURRENT)
    return s.scalars(q).first()


def check_base(s: Session, department: str, day: date, base_version: int) -> None:
    """Supersede the current version, or refuse if another process stored a newer one since
    `base_version` was read. The current row is locked first, so a second writer waits for the
    first and then sees its version; two first plans of a day meet at the unique (department,
    day, version) instead, which `conflicting` turns into the same refusal."""
    p = WastePlan
    q = select(p).where(p.department_code == department, p.day == day, p.status == CURRENT)
    rows = list(s.scalars(q.with_for_update()))
    newest = s.scalar(
        select(func.max(p.version)).where(p.department_code == department, p.day == day)
    )
    if (newest or 0) != base_version:
        raise Conflict(
            f"the plan for {day} changed while this one was being made; load it again",
            code="plan_changed",
        )
    for old in rows:
        move_plan(old, PlanStatus.SUPERSEDED)


def not_under_way(s: Session, plan_id: int) -> None:
    """A day whose crews have served stops is re-planned by inserting work into the running
    routes, not planned afresh (which would send trucks back to them)."""
    served = len(route_link.served_ids(s, plan_id))
    if served:
        raise Conflict(
            f"the shift is under way: {served} stop(s) already served on this plan; "
            "insert urgent work into the running routes instead of planning the day again",
            code="shift_under_way",
        )


@contextmanager
def conflicting(day: date) -> Iterator[None]:
    """Another process stored the same version first: the plan changed under us."""
    try:
        yield
    except IntegrityError:
        raise Conflict(
            f"the plan for {day} changed while this one was being made; load it again",
            code="plan_changed",
        ) from None


def store(s: Session, department: str, travel: TravelProvider, v: NewVersion) -> WastePlan:
    """The new version's plan row and a stop row for every stop of its problem."""
    plan = v.plan
    row = WastePlan(
        department_code=department,
        day=v.day,
        version=v.version,
        status=CURRENT,
        origin=v.origin,
        reason=v.why,
        created_by=v.by,
        solve_s=round(plan.solve_s, 3),
        distance_m=plan.distance_m,
        travel=describe(travel, v.origin, v.problem),
        summary={
            **v.summary,
            "route_km": {r.truck: round(r.distance_m / 1000, 2) for r in plan.routes},
            # leaves its depot (or where it was when re-planned) and is back at its depot
            "route_s": {r.truck: [r.start_s, r.end_s] for r in plan.routes},
        },
    )
    s.add(row)
    s.flush()
    for route in plan.routes:
        for seq, visit in enumerate(route.visits, start=1):
            r = _stop_row(row, v, visit.stop, StopStatus.PLANNED, v.reasons.get(visit.stop, ""))
            r.truck_id, r.seq = route.truck, seq
            r.arrive_at = v.origin + timedelta(seconds=visit.arrive_s)
            r.start_at = v.origin + timedelta(seconds=visit.start_s)
            r.depart_at = v.origin + timedelta(seconds=visit.depart_s)
            r.load_kg, r.load_m3 = round(visit.load_kg, 1), round(visit.load_m3, 3)
            s.add(r)
    for i in plan.skipped:
        why = v.reasons.get(i, "") + "; not worth the detour"
        s.add(_stop_row(row, v, i, StopStatus.SKIPPED, why))
    for u in plan.unserved:
        why = f"{v.reasons.get(u.stop, '')}; {u.detail}"
        s.add(_stop_row(row, v, u.stop, StopStatus.UNSERVED, why))
    s.flush()
    return row


def _stop_row(
    row: WastePlan, v: NewVersion, i: int, status: StopStatus, reason: str
) -> WastePlanStop:
    st = v.problem.stops[i]
    before = v.served.get(i)
    return WastePlanStop(
        plan_id=row.id,
        station_id=st.ref,
        status=(StopStatus.SERVED if before is not None else status).value,
        kind=st.kind,
        required=st.required,
        prize_m=st.prize_m,
        priority=st.priority,
        reason=reason,
        kg=st.kg,
        m3=st.m3,
        service_s=st.service_s,
        window_start_s=st.window[0] if st.window else None,
        window_end_s=st.window[1] if st.window else None,
        served_at=before.served_at if before else None,
        served_by=before.served_by if before else None,
        job_id=v.jobs.get(i),
    )


def emit(s: Session, row: WastePlan, trucks: list[str]) -> None:
    events.emit(
        s,
        "waste.plan",
        {
            "plan_id": row.id,
            "day": str(row.day),
            "version": row.version,
            "reason": row.reason,
            "changed_trucks": trucks,
        },
        row.department_code,
    )


def sequences(
    plan: routing.Plan, problem: routing.Problem, exclude: set[int]
) -> dict[str, list[str]]:
    """Each truck's stations in order, leaving out the stops in `exclude`."""
    return {
        r.truck: [problem.stops[v.stop].ref for v in r.visits if v.stop not in exclude]
        for r in plan.routes
    }


def describe(travel: TravelProvider, origin: datetime, problem: routing.Problem) -> str:
    if isinstance(travel, CrowFlies):
        first = origin + timedelta(seconds=min(t.shift[0] for t in problem.trucks))
        last = origin + timedelta(seconds=max(t.shift[1] for t in problem.trucks))
        return travel.describe(first, last)
    return type(travel).__name__
