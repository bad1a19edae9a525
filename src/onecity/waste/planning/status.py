"""A collection plan's and its stops' statuses, and the moves allowed between them, here and
nowhere else.

A plan version is `current` until a newer version of the same day supersedes it; it is never
current again. A stop is `planned` on a truck's route, `skipped` (not worth the detour) or
`unserved` (the solver could not fit it); only a planned stop is served, once. `move_plan` and
`move_stop` are the one way each status changes; a new row starts in its first status."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from onecity.core.errors import Conflict
from onecity.waste.planning.models import WastePlan, WastePlanStop


class PlanStatus(StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"


class StopStatus(StrEnum):
    PLANNED = "planned"
    SKIPPED = "skipped"
    UNSERVED = "unserved"
    SERVED = "served"


PLAN_ALLOWED: Mapping[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.CURRENT: frozenset({PlanStatus.SUPERSEDED}),
    PlanStatus.SUPERSEDED: frozenset(),
}

STOP_ALLOWED: Mapping[StopStatus, frozenset[StopStatus]] = {
    StopStatus.PLANNED: frozenset({StopStatus.SERVED}),
    StopStatus.SKIPPED: frozenset(),
    StopStatus.UNSERVED: frozenset(),
    StopStatus.SERVED: frozenset(),
}


def move_plan(plan: WastePlan, to: PlanStatus) -> None:
    """Move the plan version to `to`; Conflict if the move is not allowed."""
    current = PlanStatus(plan.status)
    if to not in PLAN_ALLOWED[current]:
        raise Conflict(
            f"plan {plan.id} (version {plan.version}) is {current.value} and cannot become "
            f"{to.value}",
            code="plan_superseded" if current is PlanStatus.SUPERSEDED else "bad_transition",
        )
    plan.status = to.value


def move_stop(stop: WastePlanStop, to: StopStatus, by: str, at: datetime) -> None:
    """Move the stop to `to` (served: by whom and when); Conflict if the move is not allowed."""
    current = StopStatus(stop.status)
    if to not in STOP_ALLOWED[current]:
        if current is StopStatus.SERVED:
            when = f"{stop.served_at:%H:%M}" if stop.served_at else "?"
            raise Conflict(f"already served at {when}", code="already_served")
        if current in (StopStatus.SKIPPED, StopStatus.UNSERVED):
            raise Conflict("this station is not on any truck's route", code="not_on_route")
        raise Conflict(
            f"stop {stop.id} is {current.value} and cannot become {to.value}",
            code="bad_transition",
        )
    if to is StopStatus.SERVED:
        stop.served_at, stop.served_by = at, by
    stop.status = to.value
