"""The permit's status table: every listed move is allowed, every other one is a Conflict."""

from __future__ import annotations

import itertools
from typing import get_args

import pytest

from onecity.core.errors import Conflict
from onecity.roadworks.permits.api import Status
from onecity.roadworks.rules.status import (
    FINISHED,
    OPEN,
    TRANSITIONS,
    LocateStatus,
    PermitStatus,
    check,
)

P = PermitStatus
ALLOWED = [
    (None, P.APPLIED),
    (P.APPLIED, P.CHANGES_REQUESTED),
    (P.APPLIED, P.GRANTED),
    (P.APPLIED, P.REFUSED),
    (P.APPLIED, P.WITHDRAWN),
    (P.APPLIED, P.IN_PROGRESS),
    (P.CHANGES_REQUESTED, P.APPLIED),
    (P.CHANGES_REQUESTED, P.CHANGES_REQUESTED),
    (P.CHANGES_REQUESTED, P.GRANTED),
    (P.CHANGES_REQUESTED, P.REFUSED),
    (P.CHANGES_REQUESTED, P.WITHDRAWN),
    (P.GRANTED, P.IN_PROGRESS),
    (P.GRANTED, P.WITHDRAWN),
    (P.IN_PROGRESS, P.WORKS_DONE),
    (P.WORKS_DONE, P.RESTORED),
    (P.RESTORED, P.CLOSED),
    (P.RESTORED, P.WORKS_DONE),
]


def test_stored_strings_do_not_change() -> None:
    assert [s.value for s in PermitStatus] == [
        "applied",
        "changes_requested",
        "granted",
        "refused",
        "withdrawn",
        "in_progress",
        "works_done",
        "restored",
        "closed",
    ]
    assert [s.value for s in LocateStatus] == [
        "pending",
        "marked",
        "clear",
        "conflict",
        "cancelled",
    ]


def test_the_table_is_exactly_the_listed_moves() -> None:
    table = {(frm, to) for frm, tos in TRANSITIONS.items() for to in tos}
    assert table == set(ALLOWED)
    assert set(TRANSITIONS) == {None, *PermitStatus}


@pytest.mark.parametrize(("frm", "to"), ALLOWED)
def test_every_allowed_move_passes(frm: PermitStatus | None, to: PermitStatus) -> None:
    check(frm, to)


def test_every_other_move_is_a_conflict_naming_both() -> None:
    froms: list[PermitStatus | None] = [None, *PermitStatus]
    for frm, to in itertools.product(froms, PermitStatus):
        if (frm, to) in ALLOWED:
            continue
        with pytest.raises(Conflict) as err:
            check(frm, to)
        assert to.value in err.value.detail
        if frm is not None:
            assert frm.value in err.value.detail
        assert err.value.code == "wrong_status"


def test_finished_and_open_split_the_statuses() -> None:
    assert FINISHED == (P.REFUSED, P.WITHDRAWN, P.CLOSED)
    assert set(OPEN) | set(FINISHED) == set(PermitStatus)
    assert not set(OPEN) & set(FINISHED)


def test_api_status_filter_lists_every_status() -> None:
    # The filter stays a Literal so the OpenAPI document does not change.
    assert get_args(Status) == tuple(s.value for s in PermitStatus)
