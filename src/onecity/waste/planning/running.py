"""Re-planning the running plan version for an urgent visit: the version as the re-planner
takes it, the urgent stop, and the version the re-plan stores. Helpers of the plan service's
`insert_urgent`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from onecity.core.errors import Invalid, NotFound
from onecity.core.models import Device
from onecity.core.travel import TravelProvider
from onecity.waste.planning import build as plan_build
from onecity.waste.planning import replan as replanning
from onecity.waste.planning import routing, versions
from onecity.waste.planning.models import WastePlan
from onecity.waste.planning.policy import Policy
from onecity.waste.planning.trucks import TruckRegistry
from onecity.waste.planning.versions import NewVersion
from onecity.waste.rules.stations import STATION_TYPE


@dataclass(frozen=True)
class Running:
    """The running plan version as read for a re-plan."""

    id: int
    version: int
    origin: datetime
    summary: dict[str, Any]
    stored: plan_build.Stored
    station_site: dict[str, int]
    seen_site: dict[str, int]


def read(
    s: Session,
    base: WastePlan | None,
    day: date,
    fleet: TruckRegistry,
    travel: TravelProvider,
    station_id: str,
    now: datetime,
) -> Running:
    """The running plan version, as the re-planner takes it, with the urgent station's
    site and the sites where trucks were seen since their last served stop."""
    if base is None:
        raise NotFound(f"there is no plan for {day} to insert into; plan the day first")
    dev = s.get(Device, station_id)
    if dev is None or dev.type != STATION_TYPE or dev.lon is None or dev.lat is None:
        raise Invalid(f"'{station_id}' is not a station on the map", field="station_id")
    seen = fleet.seen_on_shift(s, base.origin, now)
    stored, station_site, seen_site = plan_build.load(s, base, travel, extra=[dev], seen=seen)
    # a fix from before the truck's last served stop says where it was, not where it is
    last_served: dict[str, datetime] = {}
    for r in stored.rows:
        if r.truck_id and r.served_at:
            last_served[r.truck_id] = max(r.served_at, last_served.get(r.truck_id, r.served_at))
    seen_at = {t.id: t.seen_at for t in seen}
    seen_site = {
        tid: site
        for tid, site in seen_site.items()
        if (at := seen_at.get(tid)) is not None and at >= last_served.get(tid, at)
    }
    return Running(
        base.id,
        base.version,
        base.origin,
        dict(base.summary or {}),
        stored,
        station_site,
        seen_site,
    )


def urgent_stop(policy: Policy, station_id: str, kind: str, site: int) -> routing.Stop:
    return routing.Stop(
        ref=station_id,
        site=site,
        kg=0.0,
        m3=0.0,
        service_s=policy.repair_service_s if kind == "fault" else 600,
        required=True,
        priority=2,
        kind=kind,
    )


def replanned(
    base: Running,
    result: replanning.Replan,
    day: date,
    kind: str,
    station_id: str,
    job_id: int | None,
    by: str,
    hhmm: str,
) -> tuple[NewVersion, list[str], list[str]]:
    """The re-planned version to store, the trucks whose remaining routes changed, and why
    the urgent stop was left out (empty when it was not)."""
    stored = base.stored
    reasons = {i: r.reason for i, r in enumerate(stored.rows)}
    jobs = {i: r.job_id for i, r in enumerate(stored.rows) if r.job_id is not None}
    u = result.urgent[0]
    reasons[u] = f"urgent: {kind}"
    if job_id is not None:
        jobs[u] = job_id
    why_not = [x.detail for x in result.unserved if x.stop == u]
    before = versions.sequences(stored.plan, stored.problem, exclude=stored.served)
    after = versions.sequences(result.plan, result.problem, exclude=stored.served)
    changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    new = NewVersion(
        day=day,
        version=base.version + 1,
        origin=base.origin,
        plan=result.plan,
        problem=result.problem,
        reasons=reasons,
        jobs=jobs,
        by=by,
        why=f"re-planned at {hhmm}: {kind} at {station_id}",
        summary=dict(base.summary),
        served={i: stored.rows[i] for i in stored.served},
    )
    return new, changed, why_not


def summary(
    result: replanning.Replan,
    base: Running,
    station_id: str,
    considered: list[int] | None,
    why_not: list[str],
) -> dict[str, Any]:
    return {
        "unserved": [x.detail for x in result.unserved],
        # trucks re-planned from where their crews' phones saw them
        "from_seen": sorted(base.seen_site),
        "considered_jobs": sorted({*base.summary.get("considered_jobs", []), *(considered or [])}),
        "urgent": {
            "station_id": station_id,
            "served": result.urgent_served,
            "why_not": why_not,
        },
    }
