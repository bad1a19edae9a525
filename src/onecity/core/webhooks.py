"""Outbound webhooks: each hook follows the event outbox with its own cursor and POSTs the
events it wants, signed, in id order. At-least-once: receivers dedupe by event id.

Several API processes may run `deliver_once` at the same time. A hook is claimed in a short
transaction (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises the
claim) that pushes its `next_attempt_at` a lease ahead, so no lock is held over the network and
no other process touches that hook until the lease runs out (a crashed deliverer's hook is
picked up again when it does)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import ssl
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from onecity.core import egress, events
from onecity.core.db import Database, utcnow
from onecity.core.egress import Egress
from onecity.core.models import Event, Webhook
from onecity.core.platform import Platform
from onecity.core.workers import Loop

log = logging.getLogger(__name__)

BATCH = 50  # events per hook per pass
TIMEOUT_S = 5.0  # per POST
BUDGET_S = 30.0  # one hook's share of a pass, so its lease cannot run out mid-batch
LEASE = timedelta(seconds=BUDGET_S + TIMEOUT_S + 25)
BACKOFF_FIRST_S = 5.0
BACKOFF_MAX_S = 600.0

# (url, body, headers) -> HTTP status. Raises on a network error or timeout.
HttpPost = Callable[[str, bytes, dict[str, str]], int]
TRIES = 3  # addresses of one name tried in turn when the connection fails


class PinnedPost(Protocol):
    def __call__(
        self, url: str, body: bytes, headers: dict[str, str], address: str | None = None
    ) -> int: ...


def httpx_post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    address: str | None = None,
    transport: httpx.BaseTransport | None = None,
    verify: ssl.SSLContext | bool = True,
) -> int:
    """POST `body` to `url`; with `address`, connect to that IP rather than resolving the
    URL's host again, while the Host header and TLS (SNI, certificate check) keep the name.
    Redirects are not followed (a 3xx counts as a failed delivery), and no proxy from the
    environment is used: the connection goes where the egress check looked."""
    target = httpx.URL(url)
    extensions: dict[str, Any] = {}
    if address is not None:
        headers = {**headers, "Host": target.netloc.decode("ascii")}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.raw_host.decode("ascii")
        target = target.copy_with(host=address)
    with httpx.Client(
        timeout=TIMEOUT_S, trust_env=False, transport=transport, verify=verify
    ) as client:
        got = client.post(target, content=body, headers=headers, extensions=extensions)
    return got.status_code


def guarded(post: PinnedPost, policy: Egress) -> HttpPost:
    """`post` only to addresses `policy` allows (core/egress.py), and to exactly the address
    that was checked: the name is resolved once. A refusal is a failed delivery with the
    reason, retried with backoff like any other."""

    def checked(url: str, body: bytes, headers: dict[str, str]) -> int:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = egress.check_resolved(parts.hostname or "", port, policy)[:TRIES]
        for address in addresses[:-1]:
            try:
                return post(url, body, headers, address)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue  # the name's next address
        return post(url, body, headers, addresses[-1])

    return checked


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(failures: int) -> timedelta:
    """5 s after the first failure, doubling, at most 10 min."""
    return timedelta(seconds=min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, failures - 1)))


def newest_event_id(s: Session) -> int:
    return int(s.execute(select(func.max(Event.id))).scalar() or 0)


def deliver_once(db: Database, http_post: HttpPost, now: datetime) -> int:
    """One pass over every due hook. Returns how many events were delivered."""
    done: set[int] = set()
    delivered = 0
    while True:
        hook = _claim(db, now, done)
        if hook is None:
            return delivered
        done.add(hook.id)
        delivered += _deliver_hook(db, hook, http_post, now)


def _claim(db: Database, now: datetime, skip: set[int]) -> Webhook | None:
    with db.session() as s:
        q = (
            select(Webhook)
            .where(
                Webhook.active.is_(True),
                or_(Webhook.next_attempt_at.is_(None), Webhook.next_attempt_at <= now),
            )
            .order_by(Webhook.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if skip:
            q = q.where(Webhook.id.not_in(skip))
        hook = s.execute(q).scalar_one_or_none()
        if hook is not None:
            hook.next_attempt_at = now + LEASE
        return hook


def _pending(db: Database, hook: Webhook) -> tuple[list[Event], int]:
    """The hook's next events, and the id its cursor may move to once all are delivered:
    never past an event that may still appear (events.read_settled)."""
    where: list[ColumnElement[bool]] = []
    if "*" not in hook.event_types:
        where.append(Event.type.in_(hook.event_types))
    if hook.department_code is not None:
        where.append(Event.department_code == hook.department_code)
    return events.read_settled(db, hook.cursor_event_id, BATCH, where)


def _deliver_hook(db: Database, hook: Webhook, http_post: HttpPost, now: datetime) -> int:
    batch, target = _pending(db, hook)
    cursor, sent, error = hook.cursor_event_id, 0, None
    started = time.monotonic()
    for ev in batch:
        if time.monotonic() - started > BUDGET_S:
            target = cursor
            break
        error = _post(hook, ev, http_post)
        if error is not None:
            break
        cursor, sent = ev.id, sent + 1
    values: dict[str, Any]
    if error is None:
        values = {"cursor_event_id": target, "failures": 0, "next_attempt_at": None}
    else:
        failures = hook.failures + 1
        values = {
            "cursor_event_id": cursor,
            "failures": failures,
            "next_attempt_at": now + backoff(failures),
            "last_error": error[:500],
        }
        log.warning("webhook %s: delivery failed (%s); attempt %s", hook.id, error, failures)
    if sent:
        values["last_delivered_at"] = utcnow()
    with db.session() as s:
        # A hook deleted meanwhile matches no row: nothing to record.
        s.execute(update(Webhook).where(Webhook.id == hook.id).values(**values))
    return sent


def _post(hook: Webhook, ev: Event, http_post: HttpPost) -> str | None:
    """POST one event; None when the receiver took it, else what went wrong."""
    at = ev.created_at.isoformat().replace("+00:00", "Z")
    body = json.dumps(
        {"id": ev.id, "type": ev.type, "at": at, "payload": ev.payload}, ensure_ascii=False
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "OneCity-Webhooks/1",
        "X-OneCity-Event": ev.type,
        "X-OneCity-Event-Id": str(ev.id),
        "X-OneCity-Signature": sign(hook.secret, body),
    }
    try:
        status = http_post(hook.url, body, headers)
    except Exception as exc:  # any network error is one failed attempt, retried later
        return f"event {ev.id}: {type(exc).__name__}: {exc}"
    if not 200 <= status < 300:
        return f"event {ev.id}: HTTP {status}"
    return None


def webhook_loop(p: Platform, every_s: float = 1.0) -> Loop:
    post = guarded(httpx_post, p.settings.webhook_egress)
    return Loop("webhooks", every_s, lambda: deliver_once(p.db, post, utcnow()))
