"""Alerts: raised by threshold rules (with hysteresis) and by liveness; acknowledged and
resolved by people, with who and when."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from onecity.core import audit, events
from onecity.core.alerts_status import AlertStatus, move
from onecity.core.db import insert_for, utcnow
from onecity.core.errors import Invalid, NotFound
from onecity.core.models import Alert, AlertRule

Decision = Literal["raise", "clear"] | None


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    key: str
    direction: str
    raise_at: float
    clear_at: float
    severity: str
    device_type: str | None
    device_id: str | None
    department: str | None = None  # None: a city-wide rule
    names: Mapping[str, str] = field(default_factory=dict)  # per language

    def applies_to(self, device_id: str, device_type: str, department: str | None = None) -> bool:
        if self.department is not None and self.department != department:
            return False  # a department's rule never touches another department's devices
        if self.device_id is not None:
            return self.device_id == device_id
        return self.device_type is None or self.device_type == device_type


def decide(rule: Rule, value: float, active: bool) -> Decision:
    """Threshold with hysteresis: raise at `raise_at`, clear only once back past `clear_at`."""
    if rule.direction == "above":
        if not active and value >= rule.raise_at:
            return "raise"
        if active and value <= rule.clear_at:
            return "clear"
    else:
        if not active and value <= rule.raise_at:
            return "raise"
        if active and value >= rule.clear_at:
            return "clear"
    return None


def validate_rule(direction: str, raise_at: float, clear_at: float) -> None:
    if direction not in ("above", "below"):
        raise Invalid("direction must be 'above' or 'below'", field="direction")
    if direction == "above" and clear_at > raise_at:
        raise Invalid("for 'above', clear_at must not exceed raise_at", field="clear_at")
    if direction == "below" and clear_at < raise_at:
        raise Invalid("for 'below', clear_at must not be below raise_at", field="clear_at")


def load_rules(session: Session) -> list[Rule]:
    rows = session.execute(select(AlertRule).where(AlertRule.enabled.is_(True))).scalars()
    return [
        Rule(
            r.id,
            r.name,
            r.key,
            r.direction,
            r.raise_at,
            r.clear_at,
            r.severity,
            r.device_type,
            r.device_id,
            r.department_code,
            dict(r.names or {}),
        )
        for r in rows
    ]


def _no_unit(device_type: str, key: str) -> str | None:
    return None


@dataclass(frozen=True)
class Facts:
    """What a threshold alert's sentence is made of, so each page words it in its language."""

    rule_name: Mapping[str, str] | None = None
    metric: str | None = None
    threshold: float | None = None
    comparison: str | None = None
    unit: str | None = None
    params: Mapping[str, Any] | None = None


def open_alert(
    session: Session,
    *,
    device_id: str,
    department: str | None,
    kind: str,
    dedupe_key: str,
    severity: str,
    message: str,
    value: float | None = None,
    rule_id: int | None = None,
    facts: Facts | None = None,
) -> int | None:
    """Open an alert unless an unresolved one exists for this device and condition.
    `message` is one fixed sentence (for API readers and webhooks); `facts` let a page word
    the alert in its own language (another kind than a threshold puts its facts in `params`,
    which fill the catalog's "alert.<kind>" sentence)."""
    f = facts or Facts()
    words: dict[str, Any] = {
        "rule_name": dict(f.rule_name) if f.rule_name else None,
        "metric": f.metric,
        "threshold": f.threshold,
        "comparison": f.comparison,
        "unit": f.unit,
        "params": dict(f.params) if f.params else None,
    }
    ins = insert_for(session)
    stmt = (
        ins(Alert)
        .values(
            device_id=device_id,
            kind=kind,
            rule_id=rule_id,
            dedupe_key=dedupe_key,
            severity=severity,
            state=AlertStatus.OPEN.value,
            message=message,
            value=value,
            opened_at=utcnow(),
            **words,
        )
        .on_conflict_do_nothing(
            index_elements=["device_id", "dedupe_key"],
            index_where=Alert.state != AlertStatus.RESOLVED.value,
        )
        .returning(Alert.id)
    )
    alert_id = session.execute(stmt).scalar()
    if alert_id is not None:
        events.emit(
            session,
            "alert.opened",
            {
                "alert_id": alert_id,
                "device_id": device_id,
                "kind": kind,
                "severity": severity,
                "message": message,
                "value": value,
                **words,
            },
            department,
        )
    return alert_id


def auto_resolve(
    session: Session, device_id: str, dedupe_key: str, department: str | None, why: str
) -> list[int]:
    ids = list(
        session.execute(
            update(Alert)
            .where(
                Alert.device_id == device_id,
                Alert.dedupe_key == dedupe_key,
                Alert.state != AlertStatus.RESOLVED.value,
            )
            .values(state=AlertStatus.RESOLVED.value, resolved_at=utcnow(), resolved_by="system")
            .returning(Alert.id)
        ).scalars()
    )
    for alert_id in ids:
        events.emit(
            session,
            "alert.resolved",
            {"alert_id": alert_id, "device_id": device_id, "by": "system", "why": why},
            department,
        )
    return ids


def evaluate(
    session: Session,
    rules: Sequence[Rule],
    latest: Iterable[tuple[str, str, str | None, str, float]],
    unit_of: Callable[[str, str], str | None] = _no_unit,
) -> None:
    """Apply rules to the newest value of each (device, key) in a batch.
    `latest` yields (device_id, device_type, department, key, value); `unit_of(type, key)`
    is what the value measures (the city profile's device types)."""
    pairs: list[tuple[Rule, str, str | None, float, str | None]] = []
    for device_id, device_type, dept, key, value in latest:
        for rule in rules:
            if rule.key == key and rule.applies_to(device_id, device_type, dept):
                pairs.append((rule, device_id, dept, value, unit_of(device_type, key)))
    if not pairs:
        return
    device_ids = {p[1] for p in pairs}
    active = set(
        session.execute(
            select(Alert.device_id, Alert.dedupe_key).where(
                Alert.device_id.in_(device_ids),
                Alert.state != AlertStatus.RESOLVED.value,
                Alert.kind == "threshold",
            )
        ).tuples()
    )
    for rule, device_id, dept, value, unit in pairs:
        dedupe = f"rule:{rule.id}"
        decision = decide(rule, value, (device_id, dedupe) in active)
        if decision == "raise":
            verb = "≥" if rule.direction == "above" else "≤"
            open_alert(
                session,
                device_id=device_id,
                department=dept,
                kind="threshold",
                dedupe_key=dedupe,
                severity=rule.severity,
                rule_id=rule.id,
                value=value,
                message=f"{rule.name}: {rule.key} = {value:g} ({verb} {rule.raise_at:g})",
                facts=Facts(
                    rule_name=rule.names or None,
                    metric=rule.key,
                    threshold=rule.raise_at,
                    comparison=rule.direction,
                    unit=unit,
                ),
            )
        elif decision == "clear":
            auto_resolve(session, device_id, dedupe, dept, f"{rule.key} back to {value:g}")


# What a person asks for, and the status it moves an alert to.
_ACTIONS = {"acknowledge": AlertStatus.ACKNOWLEDGED, "resolve": AlertStatus.RESOLVED}


def transition(
    session: Session,
    alert: Alert,
    action: Literal["acknowledge", "resolve"],
    actor: str,
    department: str | None,
    source: str = "",
) -> Alert:
    to = _ACTIONS[action]
    move(alert, to, actor, utcnow())
    audit.append(
        session, actor=actor, action=f"alert.{action}", target=f"alert:{alert.id}", source=source
    )
    events.emit(
        session,
        f"alert.{to.value}",
        {"alert_id": alert.id, "device_id": alert.device_id, "by": actor},
        department,
    )
    return alert


def get(session: Session, alert_id: int) -> Alert:
    """The alert, locked until the unit of work ends: two people acting on it at once are
    serialised, so the second sees the first's change (and gets a 409), not a stale copy."""
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert
