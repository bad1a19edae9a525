"""An alert's statuses and the moves between them (core.alerts_status), without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest

from onecity.core.alerts_service import StateFilter
from onecity.core.alerts_status import ALLOWED, AlertStatus, check, move
from onecity.core.errors import Conflict
from onecity.core.models import Alert

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _alert(state: AlertStatus) -> Alert:
    return Alert(id=7, device_id="d1", kind="threshold", state=state.value, message="m")


def test_every_status_has_its_moves_and_resolved_is_final() -> None:
    assert set(ALLOWED) == set(AlertStatus)
    assert ALLOWED[AlertStatus.RESOLVED] == frozenset()
    assert AlertStatus.OPEN not in {to for tos in ALLOWED.values() for to in tos}


def test_the_list_filter_names_every_status() -> None:
    assert set(get_args(StateFilter)) == {s.value for s in AlertStatus} | {"active"}


def test_acknowledge_then_resolve_keeps_who_acknowledged() -> None:
    a = _alert(AlertStatus.OPEN)
    move(a, AlertStatus.ACKNOWLEDGED, "ops1", NOW)
    assert (a.state, a.acknowledged_by, a.acknowledged_at) == ("acknowledged", "ops1", NOW)
    move(a, AlertStatus.RESOLVED, "ops2", LATER)
    assert (a.state, a.resolved_by, a.resolved_at) == ("resolved", "ops2", LATER)
    assert (a.acknowledged_by, a.acknowledged_at) == ("ops1", NOW)


def test_resolving_an_open_alert_acknowledges_it_too() -> None:
    a = _alert(AlertStatus.OPEN)
    move(a, AlertStatus.RESOLVED, "ops1", NOW)
    assert a.state == "resolved"
    assert (a.acknowledged_by, a.acknowledged_at) == ("ops1", NOW)


@pytest.mark.parametrize(
    ("state", "to", "code"),
    [
        (AlertStatus.RESOLVED, AlertStatus.ACKNOWLEDGED, "already_resolved"),
        (AlertStatus.RESOLVED, AlertStatus.RESOLVED, "already_resolved"),
        (AlertStatus.ACKNOWLEDGED, AlertStatus.ACKNOWLEDGED, "already_acknowledged"),
        (AlertStatus.ACKNOWLEDGED, AlertStatus.OPEN, "bad_transition"),
        (AlertStatus.OPEN, AlertStatus.OPEN, "already_open"),
    ],
)
def test_a_move_not_allowed_is_a_conflict_and_changes_nothing(
    state: AlertStatus, to: AlertStatus, code: str
) -> None:
    a = _alert(state)
    with pytest.raises(Conflict) as err:
        move(a, to, "ops1", NOW)
    assert err.value.code == code
    assert err.value.status == 409
    assert a.state == state.value
    assert a.resolved_at is None


def test_the_existing_messages_are_kept() -> None:
    with pytest.raises(Conflict, match="alert 7 is already resolved"):
        check(7, AlertStatus.RESOLVED, AlertStatus.RESOLVED)
    with pytest.raises(Conflict, match="alert 7 is already acknowledged"):
        check(7, AlertStatus.ACKNOWLEDGED, AlertStatus.ACKNOWLEDGED)
