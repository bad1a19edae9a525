"""Alerts (list, acknowledge, resolve) and the threshold rules that raise them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from onecity.core import alerts, audit
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import utcnow
from onecity.core.deps import ClientSource, CurrentUser, PlatformDep
from onecity.core.errors import Invalid, NotFound
from onecity.core.http import MAX_INT32
from onecity.core.models import Alert, AlertRule, Device
from onecity.core.platform import Platform

router = APIRouter(prefix="/api/v1", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=MAX_INT32)]


class AlertOut(BaseModel):
    id: int
    device_id: str
    device_name: str
    department: str
    location: dict[str, object] | None
    kind: str
    severity: str
    state: str
    message: str
    value: float | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: int | None
    as_of: datetime


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]
    direction: Literal["above", "below"]
    raise_at: float
    clear_at: float
    severity: Literal["info", "warning", "critical"] = "warning"
    device_type: Annotated[str, StringConstraints(max_length=64)] | None = None
    device_id: Annotated[str, StringConstraints(max_length=64)] | None = None


class RuleOut(RuleIn):
    id: int
    enabled: bool = Field(default=True)
    department: str | None = Field(
        default=None,
        validation_alias="department_code",
        description="whose devices it watches; null for a city-wide rule",
    )


def _out(a: Alert, d: Device) -> AlertOut:
    loc = {"type": "Point", "coordinates": [d.lon, d.lat]} if d.lon is not None else None
    return AlertOut(
        id=a.id,
        device_id=a.device_id,
        device_name=d.name,
        department=d.department_code,
        location=loc,
        kind=a.kind,
        severity=a.severity,
        state=a.state,
        message=a.message,
        value=a.value,
        opened_at=a.opened_at,
        acknowledged_at=a.acknowledged_at,
        acknowledged_by=a.acknowledged_by,
        resolved_at=a.resolved_at,
        resolved_by=a.resolved_by,
    )


@router.get("/alerts", response_model=AlertPage)
def list_alerts(
    who: CurrentUser,
    p: PlatformDep,
    state: Literal["open", "acknowledged", "resolved", "active"] | None = "active",
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_INT32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertPage:
    require(who, Perm.ALERTS_READ)
    q = select(Alert, Device).join(Device, Device.id == Alert.device_id)
    if not who.city_wide:
        q = q.where(Device.department_code == who.department)
    if state == "active":
        q = q.where(Alert.state != "resolved")
    elif state:
        q = q.where(Alert.state == state)
    if device_id:
        q = q.where(Alert.device_id == device_id)
    if cursor:
        q = q.where(Alert.id < cursor)
    with p.db.read() as s:
        rows = list(s.execute(q.order_by(Alert.id.desc()).limit(limit + 1)).tuples())
    more = len(rows) > limit
    rows = rows[:limit]
    return AlertPage(
        items=[_out(a, d) for a, d in rows],
        next_cursor=rows[-1][0].id if more else None,
        as_of=utcnow(),
    )


def _act(
    alert_id: int, action: Literal["acknowledge", "resolve"], who: Principal, p: Platform, src: str
) -> AlertOut:
    require(who, Perm.ALERTS_HANDLE)
    with p.db.session() as s:
        a = alerts.get(s, alert_id)
        d = s.get(Device, a.device_id)
        if d is None or not who.sees_department(d.department_code):
            raise NotFound(f"no alert {alert_id}")
        alerts.transition(s, a, action, who.username, d.department_code, src)
        return _out(a, d)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(alert_id: AlertId, who: CurrentUser, p: PlatformDep, src: ClientSource) -> AlertOut:
    return _act(alert_id, "acknowledge", who, p, src)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve(alert_id: AlertId, who: CurrentUser, p: PlatformDep, src: ClientSource) -> AlertOut:
    return _act(alert_id, "resolve", who, p, src)


@router.get("/alert-rules", response_model=list[RuleOut])
def list_rules(who: CurrentUser, p: PlatformDep) -> list[RuleOut]:
    require(who, Perm.ALERTS_READ)
    q = select(AlertRule).order_by(AlertRule.id)
    if not who.city_wide:
        # One's own department's rules and the city-wide ones that also watch its devices.
        q = q.where(
            (AlertRule.department_code == who.department) | AlertRule.department_code.is_(None)
        )
    with p.db.read() as s:
        return [RuleOut.model_validate(r, from_attributes=True) for r in s.execute(q).scalars()]


@router.post("/alert-rules", response_model=RuleOut, status_code=201)
def create_rule(body: RuleIn, who: CurrentUser, p: PlatformDep, src: ClientSource) -> RuleOut:
    require(who, Perm.RULES_WRITE)
    alerts.validate_rule(body.direction, body.raise_at, body.clear_at)
    # Only a city-wide role writes city-wide rules; anyone else's rule is their department's.
    department = None if who.city_wide else who.department
    with p.db.session() as s:
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
            source=src,
            detail=body.model_dump(),
        )
        out = RuleOut.model_validate(r, from_attributes=True)
    p.ingester.rules_changed()
    return out
