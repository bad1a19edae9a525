"""Outbound webhooks: create (the signing secret is shown once, the URL within the egress
policy), list with delivery status, pause and resume, rotate the secret, delete. A hook
receives its own department's events; a city-wide hook is an admin's."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import audit, egress
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.deps import ClientSource, CurrentUser, PlatformDep
from onecity.core.errors import Forbidden, Invalid, NotFound
from onecity.core.http import MAX_INT32
from onecity.core.models import Department, Webhook
from onecity.core.webhooks import newest_event_id

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

HookId = Annotated[int, Path(ge=1, le=MAX_INT32)]
EventType = Annotated[
    str, StringConstraints(max_length=64, pattern=r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*)$")
]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    event_types: Annotated[list[EventType], Field(min_length=1, max_length=20)]
    department: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None,
        description="whose events it receives; omitted: your own department; "
        "null: every department's (administrators only)",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return v

    @field_validator("event_types")
    @classmethod
    def _star_alone(cls, v: list[str]) -> list[str]:
        if "*" in v and len(v) > 1:
            raise ValueError('"*" (every type) must be the only entry')
        return list(dict.fromkeys(v))


class WebhookOut(BaseModel):
    id: int
    url: str
    event_types: list[str]
    department: str | None = Field(validation_alias="department_code")
    active: bool
    created_by: str
    created_at: datetime
    cursor_event_id: int = Field(description="the last event id delivered (or skipped)")
    failures: int = Field(description="consecutive failed attempts")
    next_attempt_at: datetime | None
    last_error: str | None
    last_delivered_at: datetime | None


class WebhookCreated(WebhookOut):
    secret: str = Field(description="HMAC-SHA256 key for X-OneCity-Signature; shown only once")


def _department(body: WebhookIn, who: Principal) -> str | None:
    department = body.department if "department" in body.model_fields_set else who.department
    if department is None and not who.city_wide:
        raise Forbidden("only an administrator may create a city-wide webhook", field="department")
    if department is not None and not who.sees_department(department):
        raise Forbidden(
            f"role '{who.role}' may only subscribe to its own department's events",
            field="department",
        )
    return department


@router.post("", response_model=WebhookCreated, status_code=201)
def create_webhook(
    body: WebhookIn,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
) -> WebhookCreated:
    require(who, Perm.WEBHOOKS_MANAGE)
    department = _department(body, who)
    why = egress.check_literal(urlsplit(body.url).hostname or "", p.settings.webhook_egress)
    if why is not None:
        raise Invalid(f"webhooks may not call {why}", field="url", code="egress_refused")
    with p.db.session() as s:
        if department is not None and s.get(Department, department) is None:
            raise Invalid(f"no department '{department}'", field="department")
        hook = Webhook(
            url=body.url,
            event_types=body.event_types,
            department_code=department,
            secret=secrets.token_hex(32),
            active=True,
            created_by=who.username,
            # Starts at the newest event: a new hook does not replay history.
            cursor_event_id=newest_event_id(s),
            failures=0,
        )
        s.add(hook)
        s.flush()
        audit.append(
            s,
            actor=who.username,
            action="webhook.create",
            target=f"webhook:{hook.id}",
            source=src,
            detail={"url": body.url, "event_types": body.event_types, "department": department},
        )
        return WebhookCreated.model_validate(hook, from_attributes=True)


@router.get("", response_model=list[WebhookOut])
def list_webhooks(who: CurrentUser, p: PlatformDep) -> list[WebhookOut]:
    require(who, Perm.WEBHOOKS_MANAGE)
    q = select(Webhook).order_by(Webhook.id)
    if not who.city_wide:
        q = q.where(Webhook.department_code == who.department)
    with p.db.read() as s:
        return [WebhookOut.model_validate(h, from_attributes=True) for h in s.execute(q).scalars()]


class WebhookChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool = Field(
        description="false pauses deliveries (events wait at the hook's cursor; a batch "
        "already being sent finishes); true resumes them from where they stopped"
    )


def _own_hook(s: Session, webhook_id: int, who: Principal) -> Webhook:
    hook = s.get(Webhook, webhook_id, with_for_update=True)
    if hook is None or not (who.city_wide or hook.department_code == who.department):
        raise NotFound(f"no webhook {webhook_id}")
    return hook


@router.patch("/{webhook_id}", response_model=WebhookOut)
def change_webhook(
    webhook_id: HookId,
    body: WebhookChange,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
) -> WebhookOut:
    """Pause or resume a hook; a receiver down for maintenance then misses nothing."""
    require(who, Perm.WEBHOOKS_MANAGE)
    with p.db.session() as s:
        hook = _own_hook(s, webhook_id, who)
        if hook.active != body.active:
            # next_attempt_at is left alone: it may be another process's lease on a batch
            # being sent, which must run out before anyone claims the hook again
            hook.active = body.active
            audit.append(
                s,
                actor=who.username,
                action="webhook.resume" if body.active else "webhook.pause",
                target=f"webhook:{hook.id}",
                source=src,
                detail={"url": hook.url, "cursor_event_id": hook.cursor_event_id},
            )
        s.flush()
        return WebhookOut.model_validate(hook, from_attributes=True)


@router.post("/{webhook_id}/secret", response_model=WebhookCreated)
def rotate_secret(
    webhook_id: HookId,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
) -> WebhookCreated:
    """A new signing secret, shown once; deliveries from now on are signed with it (pause the
    hook first if the receiver needs time to take the new one)."""
    require(who, Perm.WEBHOOKS_MANAGE)
    with p.db.session() as s:
        hook = _own_hook(s, webhook_id, who)
        hook.secret = secrets.token_hex(32)
        audit.append(
            s,
            actor=who.username,
            action="webhook.rotate_secret",
            target=f"webhook:{hook.id}",
            source=src,
            detail={"url": hook.url},
        )
        s.flush()
        return WebhookCreated.model_validate(hook, from_attributes=True)


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(
    webhook_id: HookId,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
) -> Response:
    require(who, Perm.WEBHOOKS_MANAGE)
    with p.db.session() as s:
        hook = _own_hook(s, webhook_id, who)
        audit.append(
            s,
            actor=who.username,
            action="webhook.delete",
            target=f"webhook:{hook.id}",
            source=src,
            detail={"url": hook.url, "event_types": hook.event_types},
        )
        s.delete(hook)
    return Response(status_code=204)
