"""Crew jobs' target times and escalation: when a job is due, whether it is overdue, and how
long collections and repairs took. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from onecity.waste.monitoring.readings import AlertKind, MonitoringError, aware, choice

SERVICE_KINDS = frozenset({AlertKind.FULL, AlertKind.FULL_SOON})  # a collection
# everything else is a repair (fire: an emergency response, measured the same way)

DEFAULT_TARGETS: Mapping[AlertKind, timedelta] = {
    AlertKind.FIRE: timedelta(minutes=15),
    AlertKind.OFFLINE: timedelta(hours=8),
    AlertKind.FAULT: timedelta(hours=24),
    AlertKind.TEMPERATURE_HIGH: timedelta(hours=4),
    AlertKind.FULL: timedelta(hours=4),
    AlertKind.FULL_SOON: timedelta(hours=8),
}


@dataclass(frozen=True)
class Job:
    kind: AlertKind
    priority: int
    raised_at: datetime
    accepted_at: datetime | None = None
    closed_at: datetime | None = None  # an alert that cleared by itself closes unaccepted

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", choice(AlertKind, self.kind, "kind"))
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise MonitoringError("priority must be a whole number", field="priority")
        if not 1 <= self.priority <= 9:
            raise MonitoringError("priority must be 1 (most urgent) to 9", field="priority")
        aware(self.raised_at, "raised_at")
        for name in ("accepted_at", "closed_at"):
            at = getattr(self, name)
            if at is not None and aware(at, name) < self.raised_at:
                raise MonitoringError(f"{name} is before raised_at", field=name)
        if self.accepted_at and self.closed_at and self.closed_at < self.accepted_at:
            raise MonitoringError("closed_at is before accepted_at", field="closed_at")


@dataclass(frozen=True)
class Escalation:
    due_at: datetime
    overdue: bool  # past its target (closed late, or still open past it)
    overdue_by: timedelta  # zero when on time
    escalate: bool  # still open past its target: tell the supervisor


def escalation(
    job: Job, now: datetime, targets: Mapping[AlertKind, timedelta] = DEFAULT_TARGETS
) -> Escalation:
    aware(now, "now")
    if job.kind not in targets:
        raise MonitoringError(f"no target time for {job.kind} jobs", field="kind")
    due = job.raised_at + targets[job.kind]
    end = job.closed_at or now
    late = max(end - due, timedelta(0))
    overdue = late > timedelta(0)
    return Escalation(due, overdue, late, overdue and job.closed_at is None)


def time_to_close(job: Job) -> timedelta | None:
    return None if job.closed_at is None else job.closed_at - job.raised_at


def time_to_accept(job: Job) -> timedelta | None:
    return None if job.accepted_at is None else job.accepted_at - job.raised_at


def time_to_service(job: Job) -> timedelta | None:
    """Raised to closed for a collection job (full, full_soon); None while it is open."""
    if job.kind not in SERVICE_KINDS:
        raise MonitoringError(f"a {job.kind} job is a repair: use time_to_repair", field="kind")
    return time_to_close(job)


def time_to_repair(job: Job) -> timedelta | None:
    """Raised to closed for a repair job (fault, offline, temperature_high, fire)."""
    if job.kind in SERVICE_KINDS:
        raise MonitoringError(
            f"a {job.kind} job is a collection: use time_to_service", field="kind"
        )
    return time_to_close(job)
