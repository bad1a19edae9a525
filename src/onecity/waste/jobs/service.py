"""The crews' side of station jobs: the in-truck list, accept, close, a station's live status;
each public method one unit of work. Jobs are opened by `monitor.StationMonitor`, from station
telemetry and citizens' reports; `settle_close` is also how a served route stop closes its
jobs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import alerts, audit, open311_service
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database, utcnow
from onecity.core.errors import NotFound
from onecity.core.geo import geojson_point, haversine_m
from onecity.core.models import Device, Open311Request
from onecity.waste.jobs import schemas as sc
from onecity.waste.jobs import status as job_status
from onecity.waste.jobs.models import WasteJob
from onecity.waste.jobs.monitor import CLOSED, StationMonitor, overdue_key
from onecity.waste.jobs.status import JobStatus
from onecity.waste.monitoring import telemetry as jobs_telemetry
from onecity.waste.monitoring.codec import from_json
from onecity.waste.monitoring.container import container_status
from onecity.waste.monitoring.models import WasteStationState
from onecity.waste.monitoring.readings import PRIORITY, AlertKind
from onecity.waste.monitoring.rules import StationState, acknowledge_fire
from onecity.waste.planning import route_link
from onecity.waste.rules.stations import STATION_TYPE


class StationJobs:
    """The crews' side: each call one unit of work."""

    def __init__(self, db: Database, monitor: StationMonitor | None = None) -> None:
        self.db = db
        self.monitor = monitor or StationMonitor()

    def check_offline(self, now: datetime | None = None) -> int:
        with self.db.session() as s:
            return self.monitor.check_offline(s, now or utcnow())

    def jobs(
        self,
        who: Principal,
        status: str | None,
        lat: float | None,
        lon: float | None,
        limit: int,
    ) -> sc.JobPage:
        """Most urgent first; among equals the nearest to (lat, lon), then the oldest."""
        require(who, Perm.WASTE_JOBS)
        q = select(WasteJob, Device).join(Device, Device.id == WasteJob.station_id)
        q = q.where(WasteJob.status == status) if status else q.where(WasteJob.status != CLOSED)
        if not who.city_wide:
            q = q.where(Device.department_code == who.department)
        with self.db.read() as s:
            rows = s.execute(q.order_by(WasteJob.priority, WasteJob.raised_at).limit(5000)).all()
        out = [_job_out(j, d, lat, lon) for j, d in rows]
        far = float("inf")
        out.sort(
            key=lambda o: (o.priority, far if o.distance_m is None else o.distance_m, o.raised_at)
        )
        return sc.JobPage(jobs=out[:limit])

    def _job_for_update(self, s: Session, who: Principal, job_id: int) -> tuple[WasteJob, Device]:
        require(who, Perm.WASTE_JOBS)
        row = s.execute(
            select(WasteJob, Device)
            .join(Device, Device.id == WasteJob.station_id)
            .where(WasteJob.id == job_id)
            .with_for_update(of=WasteJob, key_share=True)
        ).one_or_none()
        if row is None or not who.sees_department(row[1].department_code):
            raise NotFound(f"no job {job_id}", field="job_id")
        return row[0], row[1]

    def accept(self, who: Principal, job_id: int, source: str) -> sc.JobOut:
        with self.db.session() as s:
            job, dev = self._job_for_update(s, who, job_id)
            if job.status == JobStatus.ACCEPTED and job.accepted_by == who.username:
                return _job_out(job, dev)  # accepting twice changes nothing
            job_status.move(job, JobStatus.ACCEPTED, who.username, utcnow())
            self.monitor.emit(s, job, "accepted", dev.department_code)
            audit.append(
                s,
                actor=who.username,
                action="waste.job.accept",
                target=f"waste_job/{job_id}",
                source=source,
                detail={"station_id": job.station_id, "kind": job.kind},
            )
            return _job_out(job, dev)

    def close(self, who: Principal, job_id: int, body: sc.CloseIn, source: str) -> sc.JobOut:
        with self.db.session() as s:
            # A fire job's close also changes the station's state: take the state row's lock
            # before the job's, in the order the ingest takes them, so the two never deadlock.
            peek = s.execute(
                select(WasteJob.station_id, WasteJob.kind).where(WasteJob.id == job_id)
            ).one_or_none()
            if peek is not None and peek.kind == AlertKind.FIRE.value:
                self.monitor.lock_state(s, peek.station_id)
            # An emptying job: all the station's emptying jobs first, in id order, as serving
            # the station's route stop takes them (route_link), which this close may do.
            emptying = (
                route_link.lock_emptying_jobs(s, peek.station_id)
                if peek is not None and peek.kind in route_link.EMPTIED_BY_A_VISIT
                else []
            )
            job, dev = self._job_for_update(s, who, job_id)
            job_status.check(job, JobStatus.CLOSED)  # before anything else is touched
            now = utcnow()
            # The route stop before anything is written: plan and stop rows are locked after
            # the jobs and before the audit log, the order every other path takes them.
            found = (
                route_link.todays_stop(s, job.station_id, now)
                if job.kind in route_link.EMPTIED_BY_A_VISIT
                else None
            )
            if job.kind == AlertKind.FIRE.value and job.compartment:
                self._acknowledge_fire(s, job.station_id, job.compartment, now)
            settle_close(
                s, job, dev.department_code, who.username, source, now, body.collected_kg, body.note
            )
            if found is not None:
                # the station was emptied: its stop is served, and with it, as when the crew
                # marks the stop, the station's other emptying jobs
                plan, stop = found
                route_link.serve(s, plan, stop, who.username, now)
                note = (
                    f"emptied on the route of truck {stop.truck_id} (plan stop {stop.id}), "
                    f"job {job.id} closed"
                )
                for other in emptying:
                    if other.id != job.id and other.status != CLOSED:
                        settle_close(
                            s, other, dev.department_code, who.username, source, now, None, note
                        )
            return _job_out(job, dev)

    def _acknowledge_fire(self, s: Session, sid: str, compartment: str, at: datetime) -> None:
        """The crew dealt with the fire: the rules forget it; a reading still showing fire
        raises a new job."""
        row = self.monitor.lock_state(s, sid)
        if row is not None:
            state, _ = acknowledge_fire(from_json(row.state), compartment, at)
            self.monitor.save_state(row, state, at)

    def station_status(self, who: Principal, station_id: str) -> sc.StationStatusOut:
        require(who, Perm.WASTE_JOBS)
        with self.db.read() as s:
            dev = s.get(Device, station_id)
            if (
                dev is None
                or dev.type != STATION_TYPE
                or not who.sees_department(dev.department_code)
            ):
                raise NotFound(f"no iTrash station '{station_id}'", field="station_id")
            row = s.get(WasteStationState, station_id)
            jobs = s.execute(
                select(WasteJob)
                .where(WasteJob.station_id == station_id, WasteJob.status != CLOSED)
                .order_by(WasteJob.priority, WasteJob.raised_at)
            ).scalars()
            open_jobs = [_job_out(j, dev) for j in jobs]
        state = from_json(row.state) if row is not None else StationState(station_id)
        return sc.StationStatusOut(
            station_id=station_id,
            last_seen_at=state.last_seen_at,
            compartments=_compartments(state, jobs_telemetry.COMPARTMENTS),
            alerts=[
                sc.StationAlertOut(
                    kind=a.key.kind.value,
                    compartment=a.key.compartment,
                    detail=a.key.detail,
                    priority=PRIORITY[a.key.kind],
                    raised_at=a.raised_at,
                    params=dict(a.params),
                )
                for a in sorted(
                    state.alerts.values(), key=lambda a: (PRIORITY[a.key.kind], a.raised_at)
                )
            ],
            open_jobs=open_jobs,
        )


def settle_close(
    s: Session,
    job: WasteJob,
    department: str | None,
    actor: str,
    source: str,
    at: datetime,
    collected_kg: float | None,
    note: str,
) -> None:
    """Close a locked, not yet closed job: the event, the overdue alert resolved, the citizens
    who reported it told, the audit entry. Also how a served route stop closes its jobs."""
    job_status.move(job, JobStatus.CLOSED, actor, at)
    job.collected_kg, job.note = collected_kg, note
    StationMonitor.emit(s, job, "closed", department)
    if job.escalated_at is not None:
        alerts.auto_resolve(s, job.station_id, overdue_key(job.id), department, "job closed")
    # The citizens who reported it hear back: their requests close with the note.
    for rid in job.params.get("reports", []):
        req = s.get(Open311Request, rid)
        if req is not None and req.status != "closed":
            open311_service.set_status(
                s,
                req,
                status="closed",
                status_notes=note or _DONE_NOTE.get(job.kind, _DONE_NOTE["fault"]),
                actor=actor,
                source=source,
            )
    audit.append(
        s,
        actor=actor,
        action="waste.job.close",
        target=f"waste_job/{job.id}",
        source=source,
        detail={"station_id": job.station_id, "kind": job.kind, "collected_kg": collected_kg},
    )


# What a citizen's closed request says when the crew left no note (zh-TW first: Taipei).
_DONE_NOTE = {
    "full": "已清運 / The compartment has been emptied.",
    "full_soon": "已清運 / The compartment has been emptied.",
    "fault": "已修復 / The station has been repaired.",
}


def _compartments(state: StationState, names: Sequence[str]) -> list[sc.CompartmentOut]:
    out = []
    for name in sorted(set(names) | set(state.compartments)):
        c = state.compartments.get(name)
        r = c.last if c is not None else None
        out.append(
            sc.CompartmentOut(
                compartment=name,
                status=container_status(state, name),
                fill=r.fill if r else None,
                weight_kg=r.weight_kg if r else None,
                temperature_c=r.temperature_c if r else None,
                door=r.door.value if r else None,
                observed_at=r.observed_at if r else None,
                last_emptied_at=c.last_emptied_at if c else None,
            )
        )
    return out


def _job_out(
    j: WasteJob, d: Device, lat: float | None = None, lon: float | None = None
) -> sc.JobOut:
    dist = None
    if lat is not None and lon is not None and d.lat is not None and d.lon is not None:
        dist = round(haversine_m(lon, lat, d.lon, d.lat), 1)
    fields: dict[str, Any] = {
        c: getattr(j, c)
        for c in (
            "id",
            "station_id",
            "compartment",
            "kind",
            "detail",
            "priority",
            "status",
            "raised_at",
            "accepted_at",
            "accepted_by",
            "closed_at",
            "closed_by",
            "collected_kg",
            "note",
            "condition_cleared_at",
            "escalated_at",
            "params",
        )
    }
    return sc.JobOut(
        **fields, station_name=d.name, location=geojson_point(d.lon, d.lat), distance_m=dist
    )
