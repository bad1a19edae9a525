"""Outbound webhooks over HTTP: create (the signing secret is shown once, the URL within the
egress policy), list with delivery status, pause and resume, rotate the secret, delete.
The rules are core.webhooks_service's; delivery is core.webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from onecity.core.deps import ClientSource, CurrentUser, PlatformDep
from onecity.core.http import MAX_INT32
from onecity.core.webhooks_schemas import WebhookChange, WebhookCreated, WebhookIn, WebhookOut
from onecity.core.webhooks_service import WebhookService

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

HookId = Annotated[int, Path(ge=1, le=MAX_INT32)]


async def webhook_service(p: PlatformDep) -> WebhookService:
    return WebhookService(p.db, p.settings.webhook_egress)


Webhooks = Annotated[WebhookService, Depends(webhook_service)]


@router.post("", response_model=WebhookCreated, status_code=201)
def create_webhook(
    body: WebhookIn, who: CurrentUser, svc: Webhooks, src: ClientSource
) -> WebhookCreated:
    return svc.create(who, body, src)


@router.get("", response_model=list[WebhookOut])
def list_webhooks(who: CurrentUser, svc: Webhooks) -> list[WebhookOut]:
    return svc.list(who)


@router.patch("/{webhook_id}", response_model=WebhookOut)
def change_webhook(
    webhook_id: HookId,
    body: WebhookChange,
    who: CurrentUser,
    svc: Webhooks,
    src: ClientSource,
) -> WebhookOut:
    """Pause or resume a hook; a receiver down for maintenance then misses nothing."""
    return svc.set_active(who, webhook_id, body.active, src)


@router.post("/{webhook_id}/secret", response_model=WebhookCreated)
def rotate_secret(
    webhook_id: HookId, who: CurrentUser, svc: Webhooks, src: ClientSource
) -> WebhookCreated:
    """A new signing secret, shown once; deliveries from now on are signed with it (pause the
    hook first if the receiver needs time to take the new one)."""
    return svc.rotate_secret(who, webhook_id, src)


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(
    webhook_id: HookId, who: CurrentUser, svc: Webhooks, src: ClientSource
) -> Response:
    svc.delete(who, webhook_id, src)
    return Response(status_code=204)
