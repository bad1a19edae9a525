"""Plan versions' and plan stops' statuses and the moves between them (waste.planning.status),
without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from onecity.core.errors import Conflict
from onecity.waste.planning.models import WastePlan, WastePlanStop
from onecity.waste.planning.status import (
    PLAN_ALLOWED,
    STOP_ALLOWED,
    PlanStatus,
    StopStatus,
    move_plan,
    move_stop,
)

NOW = datetime(2025, 3, 1, 8, 5, tzinfo=UTC)


def _plan(status: PlanStatus) -> WastePlan:
    return WastePlan(id=3, version=2, status=status.value)


def _stop(status: StopStatus, served_at: datetime | None = None) -> WastePlanStop:
    return WastePlanStop(id=11, status=status.value, served_at=served_at)


def test_the_tables_cover_every_status_and_keep_the_stored_strings() -> None:
    assert set(PLAN_ALLOWED) == set(PlanStatus)
    assert set(STOP_ALLOWED) == set(StopStatus)
    assert [s.value for s in PlanStatus] == ["current", "superseded"]
    assert [s.value for s in StopStatus] == ["planned", "skipped", "unserved", "served"]
    # nothing ever becomes current or planned again: new versions and stops are new rows
    assert PlanStatus.CURRENT not in {to for tos in PLAN_ALLOWED.values() for to in tos}
    assert StopStatus.PLANNED not in {to for tos in STOP_ALLOWED.values() for to in tos}
    assert all(not STOP_ALLOWED[s] for s in StopStatus if s is not StopStatus.PLANNED)


def test_a_current_plan_is_superseded_once() -> None:
    p = _plan(PlanStatus.CURRENT)
    move_plan(p, PlanStatus.SUPERSEDED)
    assert p.status == "superseded"
    with pytest.raises(Conflict, match="is superseded and cannot become superseded") as e:
        move_plan(p, PlanStatus.SUPERSEDED)
    assert e.value.code == "plan_superseded"
    with pytest.raises(Conflict) as e:
        move_plan(p, PlanStatus.CURRENT)
    assert p.status == "superseded"


def test_a_planned_stop_is_served_with_who_and_when() -> None:
    st = _stop(StopStatus.PLANNED)
    move_stop(st, StopStatus.SERVED, "crew1", NOW)
    assert (st.status, st.served_by, st.served_at) == ("served", "crew1", NOW)


@pytest.mark.parametrize(
    ("status", "to", "code", "message"),
    [
        (StopStatus.SERVED, StopStatus.SERVED, "already_served", "already served at 08:05"),
        (StopStatus.SKIPPED, StopStatus.SERVED, "not_on_route", "not on any truck's route"),
        (StopStatus.UNSERVED, StopStatus.SERVED, "not_on_route", "not on any truck's route"),
        (StopStatus.PLANNED, StopStatus.SKIPPED, "bad_transition", "planned and cannot become"),
    ],
)
def test_a_stop_move_not_allowed_is_a_conflict_and_changes_nothing(
    status: StopStatus, to: StopStatus, code: str, message: str
) -> None:
    served_at = NOW if status is StopStatus.SERVED else None
    st = _stop(status, served_at)
    with pytest.raises(Conflict, match=message) as e:
        move_stop(st, to, "crew2", NOW)
    assert e.value.code == code
    assert (st.status, st.served_at, st.served_by) == (status.value, served_at, None)
