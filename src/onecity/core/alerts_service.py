"""Alerts as people see and handle them, and the threshold rules that raise them. Each public
method is one unit of work: the change, its audit record and its outbox event commit together
(or nothing does); the helpers in core.alerts take the caller's session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from onecity.core import alerts, audit
from onecity.core.alerts_schemas import RuleIn, RuleOut
from onecity.core.alerts_status import AlertStatus
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database, utcnow
from onecity.core.errors import Invalid, NotFound
from onecity.core.models import Alert, AlertRule, Device

# What the alert list filters by: one status (core.alerts_status), or every one but resolved.
# A Literal, not AlertStatus: an Enum parameter would change the OpenAPI document.
StateFilter = Literal["open", "acknowledged", "resolved", "active"]


@dataclass(frozen=True)
class AlertRows:
    """A page of alerts, each with its device, newest first."""

    rows: list[tuple[Alert, Device]]
    next_cursor: int | None
    as_of: datetime


def _nothing() -> None:
    return None


class AlertService:
    def __init__(self, db: Database, rules_changed: Callable[[], None] = _nothing) -> None:
        self.db = db
        # Told after a rule is created, so that ingest evaluates it from the next batch on.
        self.rules_changed = rules_changed

    def page(
        self,
        who: Principal,
        *,
        state: StateFilter | None,
        device_id: str | None,
        cursor: int | None,
        limit: int,
    ) -> AlertRows:
        """Newest first, the caller's department's devices only (unless city-wide)."""
        require(who, Perm.ALERTS_READ)
        q = select(Alert, Device).join(Device, Device.id == Alert.device_id)
        if not who.city_wide:
            q = q.where(Device.department_code == who.department)
        if state == "active":
            q = q.where(Alert.state != AlertStatus.RESOLVED.value)
        elif state:
            q = q.where(Alert.state == state)
        if device_id:
            q = q.where(Alert.device_id == device_id)
        if cursor:
            q = q.where(Alert.id < cursor)
        with self.db.read() as s:
            rows = list(s.execute(q.order_by(Alert.id.desc()).limit(limit + 1)).tuples())
        more = len(rows) > limit
        rows = rows[:limit]
        return AlertRows(rows, rows[-1][0].id if more else None, utcnow())

    def handle(
        self,
        who: Principal,
        alert_id: int,
        action: Literal["acknowledge", "resolve"],
        source: str = "",
    ) -> tuple[Alert, Device]:
        """Acknowledge or resolve an alert of a device the caller sees; the alert as it is
        now, and its device."""
        require(who, Perm.ALERTS_HANDLE)
        with self.db.session() as s:
            a = alerts.get(s, alert_id)
            d = s.get(Device, a.device_id)
            if d is None or not who.sees_department(d.department_code):
                raise NotFound(f"no alert {alert_id}")
            alerts.transition(s, a, action, who.username, d.department_code, source)
            return a, d

    def rules(self, who: Principal) -> list[RuleOut]:
        require(who, Perm.ALERTS_READ)
        q = select(AlertRule).order_by(AlertRule.id)
        if not who.city_wide:
            # One's own department's rules and the city-wide ones that also watch its devices.
            q = q.where(
                (AlertRule.department_code == who.department) | AlertRule.department_code.is_(None)
            )
        with self.db.read() as s:
            return [RuleOut.model_validate(r, from_attributes=True) for r in s.execute(q).scalars()]

    def create_rule(self, who: Principal, body: RuleIn, source: str = "") -> RuleOut:
        require(who, Perm.RULES_WRITE)
        alerts.validate_rule(body.direction, body.raise_at, body.clear_at)
        # Only a city-wide role writes city-wide rules; anyone else's rule is their department's.
        department = None if who.city_wide else who.department
        with self.db.session() as s:
            if body.device_id is not None:
                d = s.get(Device, body.device_id)
                if d is None or not who.sees_department(d.department_code):
                    raise Invalid(f"no device '{body.device_id}'", field="device_id")
            r = AlertRule(**body.model_dump(), department_code=department)
            s.add(r)
            s.flush()
            audit.append(
                s,
                actor=who.username,
                action="rule.create",
                target=f"rule:{r.id}",
                source=source,
                detail=body.model_dump(),
            )
            out = RuleOut.model_validate(r, from_attributes=True)
        self.rules_changed()
        return out
