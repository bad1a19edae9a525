"""Citizens link their cards to their accounts with a station's link code (waste/linkcode.py).

A code links only a card no account holds: every receipt carries one, and a receipt found in
a bin must not move a card (with its history and balance) to whoever found it. A linked card
leaves its account when that account unlinks it, or when the department's staff detach it at
the service desk (the account is told). Guessing is throttled per account and per card from
the attempts stored in the database, so every API process behind the load balancer counts the
same ones. A refusal reads the same whatever was wrong (no such card, a card linked to another
account, a wrong, used, expired or older code), so the form tells nobody which cards exist or
are held. Every link, failed attempt, detach and unlink is audited."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onecity.core import audit, events
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database, utcnow
from onecity.core.errors import Conflict, Invalid, NotFound, Throttled
from onecity.core.models import User
from onecity.settings import Settings
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.models import WasteCard, WasteCardLink, WasteTxn
from onecity.waste.rules.linkcode import LINK_CODE_HOURS, LINK_CODE_VALID, code_hash

# Failed attempts allowed in a window, per account and per card (any accounts together).
ACCOUNT_FAILURES, ACCOUNT_WINDOW = 5, timedelta(minutes=15)
CARD_FAILURES, CARD_WINDOW = 10, timedelta(hours=1)
NOTICE_DAYS = 90  # how long a citizen sees that a card of theirs was detached
DEV_KEY_FILE = "card-link.key"  # generated in demo/dev/test, next to the audit dev key

REFUSED = (
    "this card number and link code do not match a recent transaction of a card that no "
    "account holds; use the code from the screen or receipt of your latest visit (codes work "
    f"once, for {LINK_CODE_HOURS} hours). A card linked to another account is released at "
    "the service desk"
)


def card_link_key(settings: Settings) -> bytes:
    """The HMAC key of link codes: ONECITY_CARD_LINK_SECRET (a file holding the secret, or the
    secret itself); in demo/dev/test a generated one when none is set (settings.py refuses
    start-up without one elsewhere)."""
    value = settings.card_link_secret.strip()
    if not value:
        return _dev_secret(Path(settings.audit_checkpoint_dir)).encode()
    path = Path(value)
    if len(value) < 4096 and path.is_file():
        value = path.read_text().strip()
    if len(value) < 32:
        raise ValueError("ONECITY_CARD_LINK_SECRET must be at least 32 characters")
    return value.encode()


def _dev_secret(directory: Path) -> str:
    """Read the generated development secret, creating it first if needed. Created under a
    temporary name and linked into place, so concurrent first callers agree on one."""
    path = directory / DEV_KEY_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{DEV_KEY_FILE}.{os.getpid()}"
        tmp.write_text(secrets.token_urlsafe(32) + "\n")
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


CardView = Callable[[Session, WasteCard], sc.CardDetail]


@dataclass
class _Outcome:
    card: sc.CardDetail | None = None
    retry_after: int | None = None


class CardLinks:
    def __init__(self, db: Database, department: str, view: CardView, key: bytes) -> None:
        self.db = db
        self.department = department
        self.view = view
        self.key = key  # the link codes' HMAC key (card_link_key)

    def link(self, who: Principal, body: sc.RegisterCardIn, source: str) -> sc.CardDetail:
        require(who, Perm.OWN_CARDS)
        # A refusal is committed (the attempt counts and is audited), then raised.
        with self.db.session() as s:
            got = self._attempt(s, who, body, source)
        if got.retry_after is not None:
            raise Throttled(
                "too many failed attempts to link a card; try again later",
                retry_after_s=max(1, got.retry_after),
                code="too_many_attempts",
            )
        if got.card is None:
            raise Invalid(REFUSED, field="link_code", code="link_refused")
        return got.card

    def _attempt(
        self, s: Session, who: Principal, body: sc.RegisterCardIn, source: str
    ) -> _Outcome:
        now = utcnow()
        # One account's attempts, then one card's, are decided one at a time (row locks on
        # PostgreSQL; SQLite's unit of work holds the only write lock).
        s.execute(select(User.id).where(User.id == who.user_id).with_for_update()).all()
        card = s.get(WasteCard, body.card_id, with_for_update=True)
        wait = self._throttled(s, who.user_id, body.card_id, now)
        if wait is not None:
            return _Outcome(retry_after=wait)
        proof = self._proof(s, body, now)
        if card is not None and proof is not None:
            if card.owner_user_id == who.user_id:
                return _Outcome(card=self.view(s, card))  # already linked to this account
            # Only a card no account holds: a newer receipt is no proof against its holder.
            if card.owner_user_id is None and proof > (card.link_counter or 0):
                self._link(s, who, card, proof, now, source)
                return _Outcome(card=self.view(s, card))
        s.add(WasteCardLink(at=now, user_id=who.user_id, card_id=body.card_id, what="failed"))
        audit.append(
            s,
            actor=who.username,
            action="waste.card.link_failed",
            outcome="refused",
            target=body.card_id,
            source=source,
        )
        return _Outcome()

    def _throttled(self, s: Session, user_id: int, card_id: str, now: datetime) -> int | None:
        """Seconds until this account and this card may try again, or None."""
        waits = []
        for col, value, limit, window in (
            (WasteCardLink.user_id, user_id, ACCOUNT_FAILURES, ACCOUNT_WINDOW),
            (WasteCardLink.card_id, card_id, CARD_FAILURES, CARD_WINDOW),
        ):
            recent = (
                s.execute(
                    select(WasteCardLink.at)
                    .where(col == value, WasteCardLink.what == "failed")
                    .where(WasteCardLink.at > now - window)
                    .order_by(WasteCardLink.at.desc())
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            if len(recent) >= limit:
                # Free again when the oldest of the last `limit` failures leaves the window.
                waits.append(math.ceil((recent[-1] + window - now).total_seconds()))
        return max(waits) if waits else None

    def _proof(self, s: Session, body: sc.RegisterCardIn, now: datetime) -> int | None:
        """The card counter of the recent transaction whose code this is, or None."""
        digest = code_hash(self.key, body.card_id, body.link_code)
        if digest is None:
            return None
        found = s.execute(
            select(func.max(WasteTxn.card_counter)).where(
                WasteTxn.card_id == body.card_id,
                WasteTxn.link_code_hash == digest,
                WasteTxn.occurred_at > now - LINK_CODE_VALID,
            )
        ).scalar()
        return None if found is None else int(found)

    def _link(
        self, s: Session, who: Principal, card: WasteCard, proof: int, now: datetime, source: str
    ) -> None:
        card.owner_user_id, card.registered_at, card.link_counter = who.user_id, now, proof
        s.add(WasteCardLink(at=now, user_id=who.user_id, card_id=card.card_id, what="linked"))
        audit.append(
            s,
            actor=who.username,
            action="waste.card.register",
            target=card.card_id,
            source=source,
            detail={"card_counter": proof},
        )

    def detach(self, who: Principal, card_id: str, reason: str, source: str) -> None:
        """Staff release a card from its account (the holder came to the service desk); the
        account is told, and the next link code of the card links it again. The caller checks
        the staff permission."""
        with self.db.session() as s:
            card = s.get(WasteCard, card_id, with_for_update=True)
            if card is None:
                raise NotFound(f"no card {card_id}")
            before = card.owner_user_id
            if before is None:
                raise Conflict(f"card {card_id} is not linked to an account", code="no_change")
            now = utcnow()
            card.owner_user_id = None
            card.registered_at = None
            s.add(WasteCardLink(at=now, user_id=before, card_id=card_id, what="detached"))
            audit.append(
                s,
                actor=who.username,
                action="waste.card.detach",
                target=card_id,
                source=source,
                detail={"reason": reason, "from_user_id": before},
            )
            # For the city's own channels: no card number and no account, since webhooks,
            # the live stream and the MQTT relay reach receivers outside the department.
            events.emit(s, "waste.card_detached", {"at": now.isoformat()}, self.department)

    def unlink(self, who: Principal, card_id: str, source: str) -> None:
        require(who, Perm.OWN_CARDS)
        with self.db.session() as s:
            card = s.get(WasteCard, card_id, with_for_update=True)
            if card is None or card.owner_user_id != who.user_id:
                raise NotFound(f"you have no registered card {card_id}")
            card.owner_user_id = None
            card.registered_at = None
            s.add(WasteCardLink(at=utcnow(), user_id=who.user_id, card_id=card_id, what="unlinked"))
            audit.append(
                s, actor=who.username, action="waste.card.unregister", target=card_id, source=source
            )

    def notices(self, who: Principal) -> list[sc.CardNoticeOut]:
        require(who, Perm.OWN_CARDS)
        since = utcnow() - timedelta(days=NOTICE_DAYS)
        with self.db.read() as s:
            rows = s.execute(
                select(WasteCardLink.card_id, WasteCardLink.what, WasteCardLink.at)
                .where(
                    WasteCardLink.user_id == who.user_id,
                    WasteCardLink.what.in_(("moved", "detached")),
                    WasteCardLink.at > since,
                )
                .order_by(WasteCardLink.at.desc())
                .limit(100)
            ).all()
            return [
                sc.CardNoticeOut(card_id=c, what="detached" if w == "detached" else "moved", at=at)
                for c, w, at in rows
            ]
