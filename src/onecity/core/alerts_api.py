"""Alerts (list, acknowledge, resolve) and the threshold rules that raise them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from onecity.core.alerts_schemas import RuleIn, RuleOut
from onecity.core.alerts_service import AlertService, StateFilter
from onecity.core.deps import ClientSource, CurrentUser, PlatformDep
from onecity.core.http import MAX_INT32
from onecity.core.models import Alert, Device

router = APIRouter(prefix="/api/v1", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=MAX_INT32)]


# Defined here, not in core.alerts_schemas: waste has an AlertOut too, so OpenAPI names this
# one after its module (onecity__core__alerts_api__AlertOut), and moving it renames it.
class AlertOut(BaseModel):
    id: int
    device_id: str
    device_name: str
    department: str
    location: dict[str, object] | None
    kind: str
    severity: str
    state: str
    message: str = Field(
        description="one fixed sentence; pages word the alert from the fields below"
    )
    value: float | None
    rule_id: int | None = None
    rule_name: dict[str, str] | None = Field(
        default=None, description="a threshold rule's name per language"
    )
    metric: str | None = Field(default=None, description="the value's key, e.g. fill")
    threshold: float | None = Field(default=None, description="the rule's limit")
    comparison: Literal["above", "below"] | None = Field(
        default=None, description="raised at or above the limit, or at or below it"
    )
    unit: str | None = Field(
        default=None, description="share (0..1, shown as a percent), celsius, kg or count"
    )
    params: dict[str, Any] | None = Field(
        default=None, description="another kind's facts, for its sentence"
    )
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: int | None
    as_of: datetime


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
        rule_id=a.rule_id,
        rule_name=a.rule_name,
        metric=a.metric,
        threshold=a.threshold,
        comparison=a.comparison if a.comparison in ("above", "below") else None,
        unit=a.unit,
        params=a.params,
        opened_at=a.opened_at,
        acknowledged_at=a.acknowledged_at,
        acknowledged_by=a.acknowledged_by,
        resolved_at=a.resolved_at,
        resolved_by=a.resolved_by,
    )


async def alert_service(p: PlatformDep) -> AlertService:
    # The ingester is built on first use (it loads the modules' hooks): only a new rule needs it.
    return AlertService(p.db, rules_changed=lambda: p.ingester.rules_changed())


Alerts = Annotated[AlertService, Depends(alert_service)]


@router.get("/alerts", response_model=AlertPage)
def list_alerts(
    who: CurrentUser,
    svc: Alerts,
    state: StateFilter | None = "active",
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_INT32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertPage:
    got = svc.page(who, state=state, device_id=device_id, cursor=cursor, limit=limit)
    return AlertPage(
        items=[_out(a, d) for a, d in got.rows], next_cursor=got.next_cursor, as_of=got.as_of
    )


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(alert_id: AlertId, who: CurrentUser, svc: Alerts, src: ClientSource) -> AlertOut:
    return _out(*svc.handle(who, alert_id, "acknowledge", src))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve(alert_id: AlertId, who: CurrentUser, svc: Alerts, src: ClientSource) -> AlertOut:
    return _out(*svc.handle(who, alert_id, "resolve", src))


@router.get("/alert-rules", response_model=list[RuleOut])
def list_rules(who: CurrentUser, svc: Alerts) -> list[RuleOut]:
    return svc.rules(who)


@router.post("/alert-rules", response_model=RuleOut, status_code=201)
def create_rule(body: RuleIn, who: CurrentUser, svc: Alerts, src: ClientSource) -> RuleOut:
    return svc.create_rule(who, body, src)
