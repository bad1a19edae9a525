"""The statuses of a permit and of a locate request, and the permit's allowed moves in one table.

The stored strings are the enum values; permits.books.PermitBooks.move is the one function that
changes a permit's status, and it asks `check` first. Which step may make an allowed move (only
emergency works go from applied straight to in progress, for instance) is the service's rule;
this table says which moves exist at all. docs/roadworks.md has the picture."""

from __future__ import annotations

from enum import StrEnum

from onecity.core.errors import Conflict


class PermitStatus(StrEnum):
    APPLIED = "applied"
    CHANGES_REQUESTED = "changes_requested"
    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    IN_PROGRESS = "in_progress"
    WORKS_DONE = "works_done"
    RESTORED = "restored"
    CLOSED = "closed"


class LocateStatus(StrEnum):
    """A pipe owner's answer to a locate request (`LocateRequest.response`)."""

    PENDING = "pending"
    MARKED = "marked"
    CLEAR = "clear"
    CONFLICT = "conflict"
    CANCELLED = "cancelled"  # the amended works no longer reach the owner's pipes


P = PermitStatus

# from -> the statuses it may move to; None is a permit not yet on the books.
TRANSITIONS: dict[PermitStatus | None, frozenset[PermitStatus]] = {
    None: frozenset({P.APPLIED}),
    # decided, withdrawn, or (emergency works) started at once
    P.APPLIED: frozenset({P.CHANGES_REQUESTED, P.GRANTED, P.REFUSED, P.WITHDRAWN, P.IN_PROGRESS}),
    # amended (back to applied), or decided as it stands (more changes asked included)
    P.CHANGES_REQUESTED: frozenset(
        {P.APPLIED, P.CHANGES_REQUESTED, P.GRANTED, P.REFUSED, P.WITHDRAWN}
    ),
    P.GRANTED: frozenset({P.IN_PROGRESS, P.WITHDRAWN}),
    P.IN_PROGRESS: frozenset({P.WORKS_DONE}),
    P.WORKS_DONE: frozenset({P.RESTORED}),
    # inspected: closed, or sent back to be redone
    P.RESTORED: frozenset({P.CLOSED, P.WORKS_DONE}),
    P.REFUSED: frozenset(),
    P.WITHDRAWN: frozenset(),
    P.CLOSED: frozenset(),
}

# Nothing is left to dig: no move out, and locate requests are no longer answered.
FINISHED: tuple[PermitStatus, ...] = tuple(st for st in PermitStatus if not TRANSITIONS[st])
# Every other status: the works may still happen.
OPEN: tuple[PermitStatus, ...] = tuple(st for st in PermitStatus if TRANSITIONS[st])
# The trench is (or was until restoration) open on the road.
STARTED: tuple[PermitStatus, ...] = (P.IN_PROGRESS, P.WORKS_DONE, P.RESTORED)
# The works still hold the road: dug, or dug and not yet restored.
OCCUPYING: tuple[PermitStatus, ...] = (P.IN_PROGRESS, P.WORKS_DONE)
# Not started yet, so still withdrawn (and still ahead of others in a joint dig's order).
NOT_STARTED: tuple[PermitStatus, ...] = (P.APPLIED, P.CHANGES_REQUESTED, P.GRANTED)


def check(frm: PermitStatus | str | None, to: PermitStatus | str) -> None:
    """Raise Conflict unless a permit may move from `frm` to `to`."""
    before = None if frm is None else PermitStatus(frm)
    after = PermitStatus(to)
    if after not in TRANSITIONS[before]:
        was = "a new permit" if before is None else f"a permit that is {before}"
        raise Conflict(f"{was} cannot become {after}", code="wrong_status")
