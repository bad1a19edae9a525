"""A crew job's statuses and the moves between them (waste.jobs.status), without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args, get_type_hints

import pytest

from onecity.core.errors import Conflict
from onecity.waste.jobs import api
from onecity.waste.jobs.models import WasteJob
from onecity.waste.jobs.status import ALLOWED, JobStatus, move

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _job(status: JobStatus, **kw: object) -> WasteJob:
    return WasteJob(id=7, station_id="st1", kind="full", priority=2, status=status.value, **kw)


def test_every_status_has_its_moves_and_closed_is_final() -> None:
    assert set(ALLOWED) == set(JobStatus)
    assert ALLOWED[JobStatus.CLOSED] == frozenset()
    assert JobStatus.OPEN not in {to for tos in ALLOWED.values() for to in tos}
    assert [s.value for s in JobStatus] == ["open", "accepted", "closed"]  # the stored strings


def test_the_list_filter_names_every_status() -> None:
    hint = get_type_hints(api.jobs, include_extras=True)["status"]
    literal = next(a for a in get_args(hint) if get_args(a))
    assert set(get_args(literal)) == {s.value for s in JobStatus}


def test_accept_then_close_records_who_and_when() -> None:
    j = _job(JobStatus.OPEN)
    move(j, JobStatus.ACCEPTED, "crew1", NOW)
    assert (j.status, j.accepted_by, j.accepted_at) == ("accepted", "crew1", NOW)
    move(j, JobStatus.CLOSED, "crew2", LATER)
    assert (j.status, j.closed_by, j.closed_at) == ("closed", "crew2", LATER)
    assert (j.accepted_by, j.accepted_at) == ("crew1", NOW)


def test_an_open_job_closes_without_being_accepted() -> None:
    j = _job(JobStatus.OPEN)
    move(j, JobStatus.CLOSED, "crew1", NOW)
    assert (j.status, j.accepted_by, j.closed_by) == ("closed", None, "crew1")


@pytest.mark.parametrize(
    ("status", "to", "code", "message"),
    [
        (JobStatus.CLOSED, JobStatus.ACCEPTED, "job_closed", "was closed by crew9; there is"),
        (JobStatus.CLOSED, JobStatus.CLOSED, "already_closed", "already closed by crew9 at 2025"),
        (JobStatus.ACCEPTED, JobStatus.ACCEPTED, "already_accepted", "accepted by crew8"),
        (JobStatus.ACCEPTED, JobStatus.OPEN, "bad_transition", "accepted and cannot become open"),
        (JobStatus.OPEN, JobStatus.OPEN, "bad_transition", "open and cannot become open"),
    ],
)
def test_a_move_not_allowed_is_a_conflict_and_changes_nothing(
    status: JobStatus, to: JobStatus, code: str, message: str
) -> None:
    j = _job(status, accepted_by="crew8", closed_by="crew9", closed_at=NOW)
    with pytest.raises(Conflict, match=message) as e:
        move(j, to, "crew1", LATER)
    assert e.value.code == code
    assert (j.status, j.accepted_by, j.closed_by, j.closed_at) == (
        status.value,
        "crew8",
        "crew9",
        NOW,
    )
