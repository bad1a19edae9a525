"""Station telemetry to crew jobs, inside the caller's transaction.

`StationMonitor.apply` is the ingest hook of station devices: it runs in the ingest's
transaction, locks the station's state row, folds the new messages in with the pure rules
(monitoring.rules) and turns each transition into a job change: `raised` opens a job (one
not-closed job per station, compartment, kind and detail), `updated` refreshes its params and
priority, `cleared` stamps `condition_cleared_at` and leaves the job for the crew to close.
Every job change is a `waste.job` event in the outbox (relayed to MQTT
`onecity/events/waste.job`). A timer raises `offline` and escalates overdue jobs."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, select, text, update
from sqlalchemy.orm import Session

from onecity.core import alerts, events
from onecity.core.db import insert_for, utcnow
from onecity.core.devices.ingest import HookItem
from onecity.core.errors import Unavailable
from onecity.core.models import Device, Open311Request
from onecity.waste.jobs.models import WasteJob
from onecity.waste.jobs.status import JobStatus
from onecity.waste.monitoring import telemetry as jobs_telemetry
from onecity.waste.monitoring.codec import from_json, to_json
from onecity.waste.monitoring.models import WasteOverflow, WasteStationState
from onecity.waste.monitoring.readings import PRIORITY, Action, AlertKind, MonitoringError
from onecity.waste.monitoring.rules import (
    DEFAULT_CONFIG,
    AlertKey,
    MonitoringConfig,
    StationState,
    Transition,
    apply_reading,
    check_offline,
    heartbeat,
    new_station,
)
from onecity.waste.monitoring.targets import Job, escalation

log = logging.getLogger(__name__)

CLOSED = JobStatus.CLOSED.value  # the stored string, for queries and the unique index
# A compartment this full refuses the next bag: its overflow time runs (reports, issue 5).
OVERFLOW_AT = 0.98


class StationMonitor:
    """The rules' side: state rows and job changes inside a caller's transaction."""

    def __init__(self, config: MonitoringConfig = DEFAULT_CONFIG) -> None:
        self.config = config

    # --- telemetry (the ingest hook) -----------------------------------------------------------
    def apply(self, s: Session, items: list[HookItem]) -> None:
        now = utcnow()
        by_station: dict[str, list[HookItem]] = {}
        for it in items:
            by_station.setdefault(it.device_id, []).append(it)
        for sid in sorted(by_station):  # one lock order for every writer
            row = self.lock_state(s, sid)
            if row is None:
                continue
            state, changes = from_json(row.state), []
            for it in by_station[sid]:
                before = state
                try:
                    state, found = self._fold(state, it, now)
                except MonitoringError as e:  # stored as telemetry; the rules cannot use it
                    log.warning("station %s message %d not applied: %s", sid, it.seq, e)
                    continue
                changes += found
                self._overflow(s, sid, before, state)
            self.save_state(row, state, now)
            self._apply(s, sid, by_station[sid][0].department, changes)

    def _fold(
        self, state: StationState, it: HookItem, now: datetime
    ) -> tuple[StationState, list[Transition]]:
        readings, beat = jobs_telemetry.readings(state, it.values, it.ts)
        out: list[Transition] = []
        for r in readings:
            state, found = apply_reading(state, r, now, self.config)
            out += found
        if beat or not readings:  # any message is a sign of life
            state, found = heartbeat(state, now)
            out += found
        return state, out

    @staticmethod
    def _overflow(s: Session, sid: str, before: StationState, after: StationState) -> None:
        """Open or end a compartment's overflow time when its newest fill crosses OVERFLOW_AT
        (read from the rules' own state, so a late, out-of-order message changes nothing)."""
        for name, comp in after.compartments.items():
            prev = before.compartments.get(name)
            was = prev is not None and prev.last.fill >= OVERFLOW_AT
            now_full = comp.last.fill >= OVERFLOW_AT
            if now_full and not was:
                s.add(
                    WasteOverflow(
                        station_id=sid, compartment=name, started_at=comp.last.observed_at
                    )
                )
            elif was and not now_full:
                s.execute(
                    update(WasteOverflow)
                    .where(
                        WasteOverflow.station_id == sid,
                        WasteOverflow.compartment == name,
                        WasteOverflow.ended_at.is_(None),
                    )
                    .values(ended_at=comp.last.observed_at)
                )

    def lock_state(self, s: Session, sid: str) -> WasteStationState | None:
        """The station's state row, locked until the transaction ends (created if new)."""
        q = select(WasteStationState).where(WasteStationState.station_id == sid).with_for_update()
        row = s.execute(q).scalar_one_or_none()
        if row is not None:
            return row
        try:
            fresh = new_station(sid)
        except MonitoringError as e:
            log.warning("station %s cannot be monitored: %s", sid, e)
            return None
        ins = insert_for(s)(WasteStationState)
        s.execute(
            ins.values(
                station_id=sid, state=to_json(fresh), updated_at=utcnow()
            ).on_conflict_do_nothing(index_elements=["station_id"])
        )
        return s.execute(q).scalar_one()

    @staticmethod
    def save_state(row: WasteStationState, state: StationState, now: datetime) -> None:
        row.state = to_json(state)
        row.updated_at = now

    def _apply(self, s: Session, sid: str, department: str, changes: list[Transition]) -> None:
        for t in changes:
            job = self._open_job(s, sid, t.key)
            if t.action is Action.RAISED and job is None:
                job = self._insert_open(s, sid, t.key, t.priority, t.at, dict(t.params))
                if job is not None:
                    self.emit(s, job, "raised", department)
                    continue
                # a citizen's report opened it a moment ago, in another transaction
                job = self._open_job(s, sid, t.key)
            if t.action is not Action.CLEARED and job is not None:
                # raised again before the crew closed it, or new facts about the same alert
                job.params, job.priority = _keep_reports(job, dict(t.params)), t.priority
                job.condition_cleared_at = None
                self.emit(s, job, "updated", department)
            elif t.action is Action.CLEARED and job is not None:
                job.condition_cleared_at = t.at
                self.emit(s, job, "cleared", department)

    def citizen_report(
        self,
        s: Session,
        station: Device,
        kind: AlertKind,
        compartment: str | None,
        detail: str | None,
        request: Open311Request,
    ) -> WasteJob:
        """A citizen's Open311 report: it opens the job for that problem, or joins the one
        already open (a crew goes once however many people report it)."""
        key = AlertKey(kind, compartment, detail)
        dept = station.department_code
        # Another process may open or close the job between our look and our write: the
        # unique index settles who opens it, and a closed job is looked for again.
        for _ in range(3):
            job = self._open_job(s, station.id, key)
            if job is None:
                params = {"source": "citizen", "reports": [request.id]}
                job = self._insert_open(
                    s, station.id, key, PRIORITY[kind], request.requested_at, params
                )
                if job is None:
                    continue  # someone else's job won the race: join it
                self.emit(s, job, "raised", dept)
                return job
            reports = [*job.params.get("reports", []), request.id]
            job.params = {**job.params, "reports": reports}
            self.emit(s, job, "updated", dept)
            return job
        raise Unavailable("the station's job changed while filing the report; send it again")

    @staticmethod
    def _insert_open(
        s: Session, sid: str, key: AlertKey, priority: int, at: datetime, params: dict[str, Any]
    ) -> WasteJob | None:
        """A new open job, or None if one for the same problem is open already (committed
        by another transaction, or waited for until it committed)."""
        j = WasteJob
        job_id = s.execute(
            insert_for(s)(j)
            .values(
                station_id=sid,
                compartment=key.compartment,
                kind=key.kind.value,
                detail=key.detail,
                priority=priority,
                status=JobStatus.OPEN.value,
                raised_at=at,
                note="",
                params=params,
            )
            .on_conflict_do_nothing(
                index_elements=[
                    j.station_id,
                    j.kind,
                    # spelled as the index is, constants inline, or the database cannot
                    # match the conflict target to the index
                    func.coalesce(j.compartment, literal_column("''")),
                    func.coalesce(j.detail, literal_column("''")),
                ],
                index_where=text(f"status <> '{CLOSED}'"),
            )
            .returning(j.id)
        ).scalar()
        return None if job_id is None else s.get(j, job_id)

    @staticmethod
    def _open_job(s: Session, sid: str, key: AlertKey) -> WasteJob | None:
        """The problem's not-closed job, locked: its reports list is read, then written."""
        j = WasteJob
        return s.execute(
            select(j)
            .where(
                j.station_id == sid,
                j.kind == key.kind.value,
                j.compartment == key.compartment,  # None compares as IS NULL
                j.detail == key.detail,
                j.status != CLOSED,
            )
            .order_by(j.id)
            .limit(1)
            # FOR NO KEY UPDATE, as everywhere jobs are locked: plan stops may reference them
            .with_for_update(key_share=True)
        ).scalar_one_or_none()

    @staticmethod
    def emit(s: Session, job: WasteJob, action: str, department: str | None) -> None:
        events.emit(
            s,
            "waste.job",
            {
                "action": action,
                "job_id": job.id,
                "station_id": job.station_id,
                "compartment": job.compartment,
                "kind": job.kind,
                "detail": job.detail,
                "priority": job.priority,
                "status": job.status,
                "params": job.params,
            },
            department,
        )

    # --- timers --------------------------------------------------------------------------------
    def check_offline(self, s: Session, now: datetime) -> int:
        """Raise `offline` for stations silent past the limit, and mark jobs open past their
        target as escalated. Returns how many jobs changed. Safe in several processes."""
        changed = 0
        rows = s.execute(
            select(WasteStationState, Device.department_code)
            .join(Device, Device.id == WasteStationState.station_id)
            .where(WasteStationState.updated_at < now - self.config.offline_after)
            .order_by(WasteStationState.station_id)
            .with_for_update(of=WasteStationState, skip_locked=True)
        ).all()
        for row, dept in rows:
            state, found = check_offline(from_json(row.state), now, self.config)
            if found:
                self.save_state(row, state, now)
                self._apply(s, row.station_id, dept, found)
                changed += len(found)
        changed += self._escalate(s, now)
        return changed

    def _escalate(self, s: Session, now: datetime) -> int:
        rows = s.execute(
            select(WasteJob, Device.department_code)
            .join(Device, Device.id == WasteJob.station_id)
            .where(WasteJob.status != CLOSED, WasteJob.escalated_at.is_(None))
            .order_by(WasteJob.id)
            .with_for_update(of=WasteJob, skip_locked=True)
        ).all()
        n = 0
        for job, dept in rows:
            rule = Job(AlertKind(job.kind), job.priority, job.raised_at, job.accepted_at)
            esc = escalation(rule, now)
            if esc.escalate:
                job.escalated_at = now
                self.emit(s, job, "escalated", dept)
                # To the supervisor: an alert on the department's alert board (dashboard,
                # live stream, webhooks), resolved when the job is closed.
                target_min = int((esc.due_at - job.raised_at).total_seconds()) // 60
                who = f"accepted by {job.accepted_by}" if job.accepted_by else "not accepted"
                where = f", {job.compartment}" if job.compartment else ""
                alerts.open_alert(
                    s,
                    device_id=job.station_id,
                    department=dept,
                    kind="job_overdue",
                    dedupe_key=overdue_key(job.id),
                    severity="critical" if job.priority == PRIORITY[AlertKind.FIRE] else "warning",
                    message=(
                        f"crew job {job.id} ({job.kind}{where}) is past its {target_min} min "
                        f"target, {who}"
                    ),
                )
                n += 1
        return n


def overdue_key(job_id: int) -> str:
    return f"waste.job_overdue:{job_id}"


def _keep_reports(job: WasteJob, params: dict[str, Any]) -> dict[str, Any]:
    """New facts from telemetry replace a job's params, but not the citizens' reports on it."""
    if "reports" in job.params:
        params["reports"] = job.params["reports"]
    return params
