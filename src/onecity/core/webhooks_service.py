"""Managing outbound webhooks: create (the URL within the egress policy, the signing secret
shown once), list, pause and resume, rotate the secret, delete. A hook receives its own
department's events; a city-wide hook is an administrator's. Each public method is one unit
of work: the change and its audit record commit together. Delivery is core.webhooks."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import audit, egress
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database
from onecity.core.egress import Egress
from onecity.core.errors import Forbidden, Invalid, NotFound
from onecity.core.models import Department, Webhook
from onecity.core.webhooks import newest_event_id
from onecity.core.webhooks_schemas import WebhookCreated, WebhookIn, WebhookOut


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


def _own_hook(s: Session, webhook_id: int, who: Principal) -> Webhook:
    hook = s.get(Webhook, webhook_id, with_for_update=True)
    if hook is None or not (who.city_wide or hook.department_code == who.department):
        raise NotFound(f"no webhook {webhook_id}")
    return hook


class WebhookService:
    def __init__(self, db: Database, egress_policy: Egress) -> None:
        self.db = db
        self.egress = egress_policy

    def create(self, who: Principal, body: WebhookIn, source: str = "") -> WebhookCreated:
        require(who, Perm.WEBHOOKS_MANAGE)
        department = _department(body, who)
        why = egress.check_literal(urlsplit(body.url).hostname or "", self.egress)
        if why is not None:
            raise Invalid(f"webhooks may not call {why}", field="url", code="egress_refused")
        with self.db.session() as s:
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
                source=source,
                detail={
                    "url": body.url,
                    "event_types": body.event_types,
                    "department": department,
                },
            )
            return WebhookCreated.model_validate(hook, from_attributes=True)

    def list(self, who: Principal) -> list[WebhookOut]:
        require(who, Perm.WEBHOOKS_MANAGE)
        q = select(Webhook).order_by(Webhook.id)
        if not who.city_wide:
            q = q.where(Webhook.department_code == who.department)
        with self.db.read() as s:
            return [
                WebhookOut.model_validate(h, from_attributes=True) for h in s.execute(q).scalars()
            ]

    def set_active(
        self, who: Principal, webhook_id: int, active: bool, source: str = ""
    ) -> WebhookOut:
        """Pause or resume a hook; a receiver down for maintenance then misses nothing."""
        require(who, Perm.WEBHOOKS_MANAGE)
        with self.db.session() as s:
            hook = _own_hook(s, webhook_id, who)
            if hook.active != active:
                # next_attempt_at is left alone: it may be another process's lease on a batch
                # being sent, which must run out before anyone claims the hook again
                hook.active = active
                audit.append(
                    s,
                    actor=who.username,
                    action="webhook.resume" if active else "webhook.pause",
                    target=f"webhook:{hook.id}",
                    source=source,
                    detail={"url": hook.url, "cursor_event_id": hook.cursor_event_id},
                )
            s.flush()
            return WebhookOut.model_validate(hook, from_attributes=True)

    def rotate_secret(self, who: Principal, webhook_id: int, source: str = "") -> WebhookCreated:
        """A new signing secret, shown once; deliveries from now on are signed with it."""
        require(who, Perm.WEBHOOKS_MANAGE)
        with self.db.session() as s:
            hook = _own_hook(s, webhook_id, who)
            hook.secret = secrets.token_hex(32)
            audit.append(
                s,
                actor=who.username,
                action="webhook.rotate_secret",
                target=f"webhook:{hook.id}",
                source=source,
                detail={"url": hook.url},
            )
            s.flush()
            return WebhookCreated.model_validate(hook, from_attributes=True)

    def delete(self, who: Principal, webhook_id: int, source: str = "") -> None:
        require(who, Perm.WEBHOOKS_MANAGE)
        with self.db.session() as s:
            hook = _own_hook(s, webhook_id, who)
            audit.append(
                s,
                actor=who.username,
                action="webhook.delete",
                target=f"webhook:{hook.id}",
                source=source,
                detail={"url": hook.url, "event_types": hook.event_types},
            )
            s.delete(hook)
