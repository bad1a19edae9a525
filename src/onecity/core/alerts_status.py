"""An alert's life: open -> acknowledged -> resolved, or open -> resolved. The statuses and
the moves allowed between them are here and nowhere else; `move` is the one function that
changes an alert's status (the system's bulk auto-resolve in core.alerts only ever moves
unresolved alerts to RESOLVED, which every status but RESOLVED allows).

The alert list's `state` filter stays a Literal in core.alerts_service: an Enum there would
change the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from onecity.core.errors import Conflict
from onecity.core.models import Alert


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# Where an alert may go from each status. A person acknowledges an open alert and resolves an
# open or acknowledged one; the system resolves one whose condition has cleared.
ALLOWED: Mapping[AlertStatus, frozenset[AlertStatus]] = {
    AlertStatus.OPEN: frozenset({AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED}),
    AlertStatus.ACKNOWLEDGED: frozenset({AlertStatus.RESOLVED}),
    AlertStatus.RESOLVED: frozenset(),
}


def check(alert_id: int, current: AlertStatus, to: AlertStatus) -> None:
    """Conflict (409) unless an alert in `current` may move to `to`."""
    if to in ALLOWED[current]:
        return
    if current is AlertStatus.RESOLVED:
        raise Conflict(f"alert {alert_id} is already resolved", code="already_resolved")
    if current is to:
        raise Conflict(f"alert {alert_id} is already {to.value}", code=f"already_{to.value}")
    raise Conflict(
        f"alert {alert_id} is {current.value} and cannot become {to.value}",
        code="bad_transition",
    )


def move(alert: Alert, to: AlertStatus, actor: str, now: datetime) -> None:
    """Move the alert to `to`, recording who and when (resolving an alert nobody acknowledged
    acknowledges it too); Conflict if the move is not allowed."""
    check(alert.id, AlertStatus(alert.state), to)
    if to is AlertStatus.ACKNOWLEDGED:
        alert.acknowledged_at, alert.acknowledged_by = now, actor
    elif to is AlertStatus.RESOLVED:
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, actor
        alert.resolved_at, alert.resolved_by = now, actor
    alert.state = to.value
