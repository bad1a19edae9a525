"""Collection plans as the product keeps them: plan a day's shift, show it, re-plan it when an
urgent job appears mid-shift, and let crews mark their stops served (how versions are stored:
`versions`).

Solving takes seconds, so it never runs inside a write transaction: a plan is built from a
read, solved, then written in one unit of work that first checks the version it started from
is still current (optimistic concurrency). Two API processes that re-plan at once therefore
store one new version, and the other finds nothing left to do. Every new version is a
`waste.plan` event in the outbox, which the crews' pages and webhooks follow."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onecity.core import audit
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database, utcnow
from onecity.core.errors import Conflict, Forbidden, Invalid, NotFound
from onecity.core.geo import CityProfile
from onecity.core.models import Device
from onecity.core.travel import TravelProvider
from onecity.waste.jobs import service as jobs_service
from onecity.waste.jobs.models import WasteJob
from onecity.waste.jobs.status import JobStatus
from onecity.waste.planning import build as plan_build
from onecity.waste.planning import replan as replanning
from onecity.waste.planning import route_link, routing, running, versions
from onecity.waste.planning import schemas as sc
from onecity.waste.planning import views as plan_views
from onecity.waste.planning.models import WastePlan, WastePlanStop, WasteTruck
from onecity.waste.planning.policy import Policy
from onecity.waste.planning.trucks import TruckRegistry
from onecity.waste.planning.versions import CURRENT, NewVersion

log = logging.getLogger(__name__)

# Jobs that re-plan running routes by themselves. Faults join the next plan as repair stops
# (plan_build.URGENT_KINDS); a dispatcher can still insert any visit now (POST /plans/urgent).
REPLAN_KINDS = ("fire",)
PLAN_AHEAD = timedelta(days=7)


@dataclass(frozen=True)
class PlannerConfig:
    department: str = "epb"
    solve_s: float = 5.0
    replan_s: float = 2.0
    plan_tomorrow_after: str = "18:00"  # local time from which tomorrow's plan is made


class CollectionPlanner:
    def __init__(
        self,
        db: Database,
        tz: ZoneInfo,
        config: PlannerConfig,
        travel: TravelProvider,
        policy: Policy = Policy(),
        city: CityProfile | None = None,
    ) -> None:
        self.db = db
        self.fleet = TruckRegistry(db, config.department, city)
        self.tz = tz
        self.config = config
        self.travel = travel
        self.policy = policy

    # --- access ------------------------------------------------------------------------------
    def _staff(self, who: Principal, perm: Perm = Perm.WASTE_READ) -> None:
        require(who, perm)
        if not who.sees_department(self.config.department):
            raise Forbidden(
                f"collection plans belong to department '{self.config.department}'",
                code="forbidden",
            )

    def today(self, now: datetime | None = None) -> date:
        return (now or utcnow()).astimezone(self.tz).date()

    def running_day(self, now: datetime | None = None) -> date:
        """The day whose plan the trucks are driving now: yesterday's while a night shift of
        it (one ending the next morning) is still on, else today's."""
        now = now or utcnow()
        today = self.today(now)
        with self.db.read() as s:
            prev = self._current(s, today - timedelta(days=1))
            if prev is not None:
                for t in plan_build.trucks_of(s, self.config.department):
                    ends = route_link.night_shift_end(t, prev.origin)
                    if ends is not None and ends > now:
                        return prev.day
        return today

    # --- planning ------------------------------------------------------------------------------
    def plan_day(
        self,
        day: date,
        by: str,
        seconds: float | None = None,
        now: datetime | None = None,
        source: str = "system",
    ) -> sc.PlanOut:
        """Plan `day`'s shift from what the stations say now, as a new current version."""
        now = now or utcnow()
        if day < self.today(now):
            raise Invalid(f"{day} is in the past: plans are made for today or later", field="day")
        if day > self.today(now) + PLAN_AHEAD:
            raise Invalid(
                f"{day} is too far ahead: the forecasts reach {PLAN_AHEAD.days} days",
                field="day",
            )
        dept = self.config.department
        with self.db.read() as s:
            built = plan_build.build(s, dept, day, now, self.tz, self.travel, self.policy)
            base = self._current(s, day)
            base_version = base.version if base else 0
            if base is not None:
                versions.not_under_way(s, base.id)
        plan = routing.solve(built.problem, seconds or self.config.solve_s)
        decided = [d for d in built.decisions if d.stop is not None]
        new = NewVersion(
            day=day,
            version=base_version + 1,
            origin=built.origin,
            plan=plan,
            problem=built.problem,
            reasons={i: d.reason for i, d in enumerate(decided)},
            jobs=built.stop_jobs,
            by=by,
            why="planned",
            summary=_plan_summary(built, plan),
        )
        with versions.conflicting(day), self.db.session() as s:
            versions.check_base(s, dept, day, base_version)
            if base is not None:
                versions.not_under_way(s, base.id)
            row = versions.store(s, dept, self.travel, new)
            versions.emit(s, row, [r.truck for r in plan.routes])
            audit.append(
                s,
                actor=by,
                action="waste.plan",
                target=f"waste_plan/{row.id}",
                source=source,
                detail={"day": str(day), "version": row.version},
            )
            plan_id = row.id
        return self.get(plan_id)

    def _current(self, s: Session, day: date) -> WastePlan | None:
        return versions.current(s, self.config.department, day)

    # --- re-planning ---------------------------------------------------------------------------
    def insert_urgent(
        self,
        station_id: str,
        kind: str,
        by: str,
        job_id: int | None = None,
        now: datetime | None = None,
        considered: list[int] | None = None,
        source: str = "system",
    ) -> sc.ReplanOut:
        """Insert an urgent visit to `station_id` into the running plan (today's, or
        yesterday's while a night shift of it is still out)."""
        now = now or utcnow()
        day = self.running_day(now)
        with self.db.read() as s:
            base = running.read(
                s, self._current(s, day), day, self.fleet, self.travel, station_id, now
            )
        result = replanning.replan(
            base.stored.problem,
            base.stored.plan,
            int((now - base.origin).total_seconds()),
            base.stored.served,
            [running.urgent_stop(self.policy, station_id, kind, base.station_site[station_id])],
            self.config.replan_s,
            positions=base.seen_site,
        )
        hhmm = now.astimezone(self.tz).strftime("%H:%M")
        new, changed, why_not = running.replanned(
            base, result, day, kind, station_id, job_id, by, hhmm
        )
        new.summary.update(running.summary(result, base, station_id, considered, why_not))
        with versions.conflicting(day), self.db.session() as s:
            if (cur := s.get(WastePlan, base.id)) is None or cur.status != CURRENT:
                raise Conflict("the plan changed while re-planning; try again", code="plan_changed")
            versions.check_base(s, self.config.department, cur.day, base.version)
            if route_link.served_ids(s, base.id) != {r.id for r in new.served.values()}:
                raise Conflict(
                    "a stop was served while re-planning; try again", code="plan_changed"
                )
            row = versions.store(s, self.config.department, self.travel, new)
            versions.emit(s, row, changed)
            audit.append(
                s,
                actor=by,
                action="waste.replan",
                target=f"waste_plan/{row.id}",
                source=source,
                detail={"station_id": station_id, "urgent_served": result.urgent_served},
            )
            plan_id = row.id
        return sc.ReplanOut(
            plan=self.get(plan_id),
            urgent_served=result.urgent_served,
            changed_trucks=changed,
            why_not=why_not,
        )

    def replan_urgent_jobs(self, now: datetime | None = None) -> int:
        """The planner loop's step: every open fire job not yet considered goes into today's
        running routes. Returns how many were inserted."""
        now = now or utcnow()
        day = self.running_day(now)
        with self.db.read() as s:
            base = self._current(s, day)
            if base is None:
                return 0
            considered = set((base.summary or {}).get("considered_jobs", []))
            in_plan = {
                r.job_id
                for r in s.scalars(select(WastePlanStop).where(WastePlanStop.plan_id == base.id))
                if r.job_id is not None
            }
            j = WasteJob
            jobs = [
                (job.id, job.station_id, job.kind)
                for job in s.scalars(
                    select(j)
                    .join(Device, Device.id == j.station_id)
                    .where(
                        j.status != JobStatus.CLOSED.value,
                        j.kind.in_(REPLAN_KINDS),
                        Device.department_code == self.config.department,
                    )
                    .order_by(j.priority, j.id)
                )
                if job.id not in considered and job.id not in in_plan
            ]
        done = 0
        for job_id, station_id, kind in jobs:
            try:
                self.insert_urgent(
                    station_id, kind, "planner", job_id=job_id, now=now, considered=[job_id]
                )
                done += 1
            except (Conflict, IntegrityError) as e:
                log.info("re-plan for job %s deferred: %s", job_id, e)
        return done

    def ensure_plans(self, now: datetime | None = None) -> int:
        """The planner loop's other step: today's plan if none, tomorrow's after the hour."""
        now = now or utcnow()
        made = 0
        local = now.astimezone(self.tz)
        days = [local.date()]
        after = plan_build.parse_hhmm(self.config.plan_tomorrow_after, "plan_tomorrow_after")
        if local.hour * 3600 + local.minute * 60 >= after:
            days.append(local.date() + timedelta(days=1))
        for day in days:
            with self.db.read() as s:
                if self._current(s, day) is not None or not plan_build.trucks_of(
                    s, self.config.department
                ):
                    continue
            try:
                self.plan_day(day, "planner", now=now)
                made += 1
            except (Conflict, IntegrityError) as e:
                log.info("plan for %s made elsewhere: %s", day, e)
        return made

    # --- crews ---------------------------------------------------------------------------------
    def mark_served(self, who: Principal, stop_id: int, source: str = "api") -> sc.PlanStopOut:
        """The crew emptied (or attended) the station: the stop is served, and the station's
        full and full-soon jobs close with it (`route_link`)."""
        require(who, Perm.WASTE_JOBS)
        with self.db.session() as s:
            peek = s.execute(
                select(WastePlanStop.station_id, WastePlanStop.plan_id).where(
                    WastePlanStop.id == stop_id
                )
            ).one_or_none()
            # jobs, plan, stop: the order a job's close takes them (route_link)
            jobs = route_link.lock_emptying_jobs(s, peek[0]) if peek is not None else []
            plan = route_link.lock_plan(s, peek[1]) if peek is not None else None
            row = s.get(WastePlanStop, stop_id, with_for_update=True, populate_existing=True)
            if row is None or plan is None or not who.sees_department(plan.department_code):
                raise NotFound(f"no plan stop {stop_id}")
            if plan.status != CURRENT:
                raise Conflict(
                    "this stop belongs to an older version of the plan; reload the route",
                    code="plan_superseded",
                )
            if row.truck_id is None:
                raise Conflict("this station is not on any truck's route", code="not_on_route")
            now = utcnow()
            route_link.serve(s, plan, row, who.username, now)
            if row.kind == "collect":
                note = f"emptied on the route of truck {row.truck_id} (plan stop {row.id})"
                for job in jobs:
                    jobs_service.settle_close(
                        s, job, plan.department_code, who.username, source, now, None, note
                    )
            s.flush()
            out = plan_views.stops_out(s, [row])[0]
        return out

    # --- reading -------------------------------------------------------------------------------
    def trucks(self, who: Principal) -> list[sc.TruckOut]:
        return self.fleet.list(who)

    def plan_for(self, who: Principal, day: date) -> sc.PlanOut:
        self._staff(who, Perm.WASTE_JOBS if who.can(Perm.WASTE_JOBS) else Perm.WASTE_READ)
        with self.db.read() as s:
            cur = self._current(s, day)
            if cur is None:
                raise NotFound(f"no plan for {day} yet")
            plan_id = cur.id
        return self.get(plan_id)

    def my_route(self, who: Principal, truck_id: str | None, day: date) -> sc.RouteOut | None:
        """The route of `truck_id`, or of the truck whose crew is the caller."""
        require(who, Perm.WASTE_JOBS)
        with self.db.read() as s:
            t = WasteTruck
            q = select(t).where(t.active.is_(True))
            q = q.where(t.id == truck_id) if truck_id else q.where(t.crew == who.username)
            truck = s.scalars(q).first()
            if truck is None or not who.sees_department(truck.department_code):
                if truck_id:
                    raise NotFound(f"no truck {truck_id}")
                return None
            cur = self._current(s, day)
            if cur is None:
                return None
            plan_id, tid = cur.id, truck.id
        plan = self.get(plan_id)
        return next((r for r in plan.routes if r.truck_id == tid), None)

    def get(self, plan_id: int) -> sc.PlanOut:
        return plan_views.plan_out(self.db, plan_id)


def _plan_summary(built: plan_build.Built, plan: routing.Plan) -> dict[str, Any]:
    return {
        "stations": len(built.decisions),
        "waiting": sum(1 for d in built.decisions if d.stop is None),
        "must_visit": sum(1 for st in built.problem.stops if st.required),
        "optional": sum(1 for st in built.problem.stops if not st.required),
        "unserved": [u.detail for u in plan.unserved],
        "considered_jobs": sorted(built.stop_jobs.values()),
    }
