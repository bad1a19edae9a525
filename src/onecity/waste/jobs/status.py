"""A crew job's life: open -> accepted -> closed, or open -> closed (a served route stop, or a
crew that closes a job it never accepted). The statuses and the moves allowed between them are
here and nowhere else; `move` is the one function that changes a job's status.

The job list's `status` filter stays a Literal in jobs.api: an Enum there would change the
OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from onecity.core.errors import Conflict
from onecity.waste.jobs.models import WasteJob


class JobStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    CLOSED = "closed"


# Where a job may go from each status. A closed job stays closed: a new problem opens a job.
ALLOWED: Mapping[JobStatus, frozenset[JobStatus]] = {
    JobStatus.OPEN: frozenset({JobStatus.ACCEPTED, JobStatus.CLOSED}),
    JobStatus.ACCEPTED: frozenset({JobStatus.CLOSED}),
    JobStatus.CLOSED: frozenset(),
}


def check(job: WasteJob, to: JobStatus) -> None:
    """Conflict (409) unless the job may move from its status to `to`; the message says who
    got there first."""
    current = JobStatus(job.status)
    if to in ALLOWED[current]:
        return
    if current is JobStatus.CLOSED and to is JobStatus.ACCEPTED:
        raise Conflict(
            f"job {job.id} was closed by {job.closed_by}; there is nothing to accept",
            field="job_id",
            code="job_closed",
        )
    if current is JobStatus.CLOSED:
        raise Conflict(
            f"job {job.id} was already closed by {job.closed_by} at "
            f"{job.closed_at.isoformat() if job.closed_at else '?'}; nothing changed",
            field="job_id",
            code="already_closed",
        )
    if current is JobStatus.ACCEPTED and to is JobStatus.ACCEPTED:
        raise Conflict(
            f"job {job.id} is already accepted by {job.accepted_by}",
            field="job_id",
            code="already_accepted",
        )
    raise Conflict(
        f"job {job.id} is {current.value} and cannot become {to.value}",
        field="job_id",
        code="bad_transition",
    )


def move(job: WasteJob, to: JobStatus, actor: str, at: datetime) -> None:
    """Move the job to `to`, recording who and when; Conflict if the move is not allowed."""
    check(job, to)
    if to is JobStatus.ACCEPTED:
        job.accepted_at, job.accepted_by = at, actor
    elif to is JobStatus.CLOSED:
        job.closed_at, job.closed_by = at, actor
    job.status = to.value
