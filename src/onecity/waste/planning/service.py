"""Collection plans as the product keeps them: plan a day's shift, show it, re-plan it when an
urgent job appears mid-shift, and let crews mark their stops served.

Solving takes seconds, so it never runs inside a write transaction: a plan is built from a
read, solved, then written in one unit of work that first checks the version it started from
is still current (optimistic concurrency). Two API processes that re-plan at once therefore
store one new version, and the other finds nothing left to do. Every new version is a
`waste.plan` event in the outbox, which the crews' pages and webhooks follow."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onecity.core import audit, events
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database, utcnow
from onecity.core.errors import Conflict, Forbidden, Invalid, NotFound
from onecity.core.geo import CityProfile
from onecity.core.models import Device
from onecity.core.travel import CrowFlies, TravelProvider
from onecity.waste.jobs import service as jobs_service
from onecity.waste.jobs.models import WasteJob
from onecity.waste.jobs.status import JobStatus
from onecity.waste.planning import build as plan_build
from onecity.waste.planning import route_link, routing
from onecity.waste.planning import schemas as sc
from onecity.waste.planning import views as plan_views
from onecity.waste.planning.models import WastePlan, WastePlanStop, WasteTruck
from onecity.waste.planning.policy import Policy
from onecity.waste.planning.status import PlanStatus, StopStatus, move_plan
from onecity.waste.planning.trucks import TruckRegistry
from onecity.waste.rules.stations import STATION_TYPE

log = logging.getLogger(__name__)

CURRENT = PlanStatus.CURRENT.value  # the stored string plans are looked up by
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
        with self.db.read() as s:
            built = plan_build.build(
                s, self.config.department, day, now, self.tz, self.travel, self.policy
            )
            base = self._current(s, day)
            base_version = base.version if base else 0
            if base is not None:
                self._not_under_way(s, base.id)
        plan = routing.solve(built.problem, seconds or self.config.solve_s)
        waited = [d for d in built.decisions if d.stop is None]
        summary = {
            "stations": len(built.decisions),
            "waiting": len(waited),
            "must_visit": sum(1 for st in built.problem.stops if st.required),
            "optional": sum(1 for st in built.problem.stops if not st.required),
            "unserved": [u.detail for u in plan.unserved],
            "considered_jobs": sorted(built.stop_jobs.values()),
        }
        reasons = {
            i: d.reason for i, d in enumerate(d for d in built.decisions if d.stop is not None)
        }
        with _conflicting(day), self.db.session() as s:
            self._check_base(s, day, base_version)
            if base is not None:
                self._not_under_way(s, base.id)
            row = self._store(
                s,
                day,
                base_version + 1,
                built.origin,
                plan,
                built.problem,
                reasons,
                built.stop_jobs,
                by,
                "planned",
                summary,
            )
            changed = [r.truck for r in plan.routes]
            self._emit(s, row, changed)
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
        p = WastePlan
        q = select(p).where(
            p.department_code == self.config.department, p.day == day, p.status == CURRENT
        )
        return s.scalars(q).first()

    def _check_base(self, s: Session, day: date, base_version: int) -> None:
        """Supersede the current version, or refuse if another process stored a newer one
        since `base_version` was read. The current row is locked first, so a second writer
        waits for the first and then sees its version; two first plans of a day meet at the
        unique (department, day, version) instead, which `_conflicting` turns into the same
        refusal."""
        p = WastePlan
        q = select(p).where(
            p.department_code == self.config.department, p.day == day, p.status == CURRENT
        )
        current = list(s.scalars(q.with_for_update()))
        newest = s.scalar(
            select(func.max(p.version)).where(
                p.department_code == self.config.department, p.day == day
            )
        )
        if (newest or 0) != base_version:
            raise Conflict(
                f"the plan for {day} changed while this one was being made; load it again",
                code="plan_changed",
            )
        for old in current:
            move_plan(old, PlanStatus.SUPERSEDED)

    @staticmethod
    def _not_under_way(s: Session, plan_id: int) -> None:
        """A day whose crews have served stops is re-planned by inserting work into the
        running routes, not planned afresh (which would send trucks back to them)."""
        served = len(route_link.served_ids(s, plan_id))
        if served:
            raise Conflict(
                f"the shift is under way: {served} stop(s) already served on this plan; "
                "insert urgent work into the running routes instead of planning the day again",
                code="shift_under_way",
            )

    def _store(
        self,
        s: Session,
        day: date,
        version: int,
        origin: datetime,
        plan: routing.Plan,
        problem: routing.Problem,
        reasons: dict[int, str],
        jobs: dict[int, int],
        by: str,
        why: str,
        summary: dict[str, Any],
        served: dict[int, WastePlanStop] | None = None,
    ) -> WastePlan:
        row = WastePlan(
            department_code=self.config.department,
            day=day,
            version=version,
            status=CURRENT,
            origin=origin,
            reason=why,
            created_by=by,
            solve_s=round(plan.solve_s, 3),
            distance_m=plan.distance_m,
            travel=_describe(self.travel, origin, problem),
            summary=summary,
        )
        row.summary = {
            **summary,
            "route_km": {r.truck: round(r.distance_m / 1000, 2) for r in plan.routes},
            # leaves its depot (or where it was when re-planned) and is back at its depot
            "route_s": {r.truck: [r.start_s, r.end_s] for r in plan.routes},
        }
        s.add(row)
        s.flush()
        served = served or {}

        def at(sec: int) -> datetime:
            return origin + timedelta(seconds=sec)

        def stop_row(i: int, status: StopStatus, reason: str) -> WastePlanStop:
            st = problem.stops[i]
            before = served.get(i)
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
                job_id=jobs.get(i),
            )

        for route in plan.routes:
            for seq, v in enumerate(route.visits, start=1):
                r = stop_row(v.stop, StopStatus.PLANNED, reasons.get(v.stop, ""))
                r.truck_id, r.seq = route.truck, seq
                r.arrive_at, r.start_at, r.depart_at = at(v.arrive_s), at(v.start_s), at(v.depart_s)
                r.load_kg, r.load_m3 = round(v.load_kg, 1), round(v.load_m3, 3)
                s.add(r)
        for i in plan.skipped:
            s.add(stop_row(i, StopStatus.SKIPPED, reasons.get(i, "") + "; not worth the detour"))
        for u in plan.unserved:
            s.add(stop_row(u.stop, StopStatus.UNSERVED, f"{reasons.get(u.stop, '')}; {u.detail}"))
        s.flush()
        return row

    @staticmethod
    def _emit(s: Session, row: WastePlan, trucks: list[str]) -> None:
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
            base = self._current(s, day)
            if base is None:
                raise NotFound(f"there is no plan for {day} to insert into; plan the day first")
            dev = s.get(Device, station_id)
            if dev is None or dev.type != STATION_TYPE or dev.lon is None or dev.lat is None:
                raise Invalid(f"'{station_id}' is not a station on the map", field="station_id")
            seen = self.fleet.seen_on_shift(s, base.origin, now)
            stored, station_site, seen_site = plan_build.load(
                s, base, self.travel, extra=[dev], seen=seen
            )
            # a fix from before the truck's last served stop says where it was, not where it is
            last_served: dict[str, datetime] = {}
            for r in stored.rows:
                if r.truck_id and r.served_at:
                    last_served[r.truck_id] = max(
                        r.served_at, last_served.get(r.truck_id, r.served_at)
                    )
            seen_at = {t.id: t.seen_at for t in seen}
            seen_site = {
                tid: site
                for tid, site in seen_site.items()
                if (at := seen_at.get(tid)) is not None and at >= last_served.get(tid, at)
            }
            base_id, base_version, origin = base.id, base.version, base.origin
            summary = dict(base.summary or {})
        now_s = int((now - origin).total_seconds())
        urgent = routing.Stop(
            ref=station_id,
            site=station_site[station_id],
            kg=0.0,
            m3=0.0,
            service_s=self.policy.repair_service_s if kind == "fault" else 600,
            required=True,
            priority=2,
            kind=kind,
        )
        result = routing.replan(
            stored.problem,
            stored.plan,
            now_s,
            stored.served,
            [urgent],
            self.config.replan_s,
            positions=seen_site,
        )
        served_rows = {i: stored.rows[i] for i in stored.served}
        reasons = {i: r.reason for i, r in enumerate(stored.rows)}
        jobs = {i: r.job_id for i, r in enumerate(stored.rows) if r.job_id is not None}
        u = result.urgent[0]
        reasons[u] = f"urgent: {kind}"
        if job_id is not None:
            jobs[u] = job_id
        why_not = [x.detail for x in result.unserved if x.stop == u]
        before = _sequences(stored.plan, stored.problem, exclude=stored.served)
        after = _sequences(result.plan, result.problem, exclude=stored.served)
        changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
        hhmm = now.astimezone(self.tz).strftime("%H:%M")
        why = f"re-planned at {hhmm}: {kind} at {station_id}"
        summary.update(
            {
                "unserved": [x.detail for x in result.unserved],
                # trucks re-planned from where their crews' phones saw them
                "from_seen": sorted(seen_site),
                "considered_jobs": sorted(
                    {*summary.get("considered_jobs", []), *(considered or [])}
                ),
                "urgent": {
                    "station_id": station_id,
                    "served": result.urgent_served,
                    "why_not": why_not,
                },
            }
        )
        with _conflicting(day), self.db.session() as s:
            if (cur := s.get(WastePlan, base_id)) is None or cur.status != CURRENT:
                raise Conflict("the plan changed while re-planning; try again", code="plan_changed")
            self._check_base(s, cur.day, base_version)
            if route_link.served_ids(s, base_id) != {r.id for r in served_rows.values()}:
                raise Conflict(
                    "a stop was served while re-planning; try again", code="plan_changed"
                )
            row = self._store(
                s,
                cur.day,
                base_version + 1,
                origin,
                result.plan,
                result.problem,
                reasons,
                jobs,
                by,
                why,
                summary,
                served=served_rows,
            )
            self._emit(s, row, changed)
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
            if row.served_at is not None:
                raise Conflict(f"already served at {row.served_at:%H:%M}", code="already_served")
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


@contextmanager
def _conflicting(day: date) -> Iterator[None]:
    """Another process stored the same version first: the plan changed under us."""
    try:
        yield
    except IntegrityError:
        raise Conflict(
            f"the plan for {day} changed while this one was being made; load it again",
            code="plan_changed",
        ) from None


def _sequences(
    plan: routing.Plan, problem: routing.Problem, exclude: set[int]
) -> dict[str, list[str]]:
    return {
        r.truck: [problem.stops[v.stop].ref for v in r.visits if v.stop not in exclude]
        for r in plan.routes
    }


def _describe(travel: TravelProvider, origin: datetime, problem: routing.Problem) -> str:
    if isinstance(travel, CrowFlies):
        first = origin + timedelta(seconds=min(t.shift[0] for t in problem.trucks))
        last = origin + timedelta(seconds=max(t.shift[1] for t in problem.trucks))
        return travel.describe(first, last)
    return type(travel).__name__
