"""The operators' card desk: issuing cards into the registry and blocking or unblocking them
(the blocklist the stations download)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onecity.core import audit, events
from onecity.core.auth.permissions import Perm, Principal
from onecity.core.db import utcnow
from onecity.core.errors import Conflict, Invalid, NotFound
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.access import LedgerContext
from onecity.waste.ledger.flags import set_block
from onecity.waste.ledger.models import CARD_ISSUE, CARD_VALUE, WasteBlock, WasteCard, WastePosting
from onecity.waste.ledger.station import block_version


class CardDesk:
    def __init__(self, ctx: LedgerContext) -> None:
        self.ctx = ctx

    def issue_cards(self, who: Principal, body: sc.CardIssueBatchIn, source: str) -> sc.IssueOut:
        self.ctx.staff(who, Perm.WASTE_MANAGE)
        ids = [c.card_id for c in body.cards]
        if len(set(ids)) != len(ids):
            raise Invalid("a card appears twice in the list", field="cards")
        return self.issue(body.cards, actor=who.username, source=source)

    def issue(self, cards: Sequence[sc.CardIssueIn], actor: str, source: str = "") -> sc.IssueOut:
        """Enter cards into the registry with their present state. A card already there is
        left as it is (issuing is idempotent)."""
        with self.ctx.db.session() as s:
            issued, already = _issue(s, cards)
            audit.append(
                s,
                actor=actor,
                action="waste.cards.issue",
                target=f"{issued} cards",
                source=source,
                detail={"issued": issued, "already": already, "first": cards[0].card_id},
            )
        return sc.IssueOut(issued=issued, already=already)

    def set_blocked(
        self, who: Principal, card_id: str, blocked: bool, reason: str, source: str
    ) -> sc.BlockOut:
        self.ctx.staff(who, Perm.WASTE_MANAGE)
        with self.ctx.db.session() as s:
            card = s.get(WasteCard, card_id)
            if card is None:
                raise NotFound(f"no card {card_id}")
            if card.blocked == blocked:
                raise Conflict(
                    f"card {card_id} is already {'blocked' if blocked else 'not blocked'}",
                    code="no_change",
                )
            entry = set_block(s, card, blocked, reason, who.username)
            if not blocked:
                card.flagged = False  # an operator investigated and cleared it
            events.emit(
                s,
                "waste.card_blocked" if blocked else "waste.card_unblocked",
                {"card_id": card_id, "reason": reason, "actor": who.username},
                self.ctx.department,
            )
            audit.append(
                s,
                actor=who.username,
                action="waste.card.block" if blocked else "waste.card.unblock",
                target=card_id,
                source=source,
                detail={"reason": reason},
            )
            return block_out(entry)

    def blocklist_page(self, who: Principal) -> sc.BlockPage:
        self.ctx.staff(who, Perm.WASTE_READ)
        with self.ctx.db.read() as s:
            latest = (
                select(WasteBlock.card_id, func.max(WasteBlock.version).label("v"))
                .group_by(WasteBlock.card_id)
                .subquery()
            )
            now_blocked = (
                s.execute(
                    select(WasteBlock)
                    .join(latest, WasteBlock.version == latest.c.v)
                    .where(WasteBlock.blocked)
                    .order_by(WasteBlock.version.desc())
                )
                .scalars()
                .all()
            )
            history = (
                s.execute(select(WasteBlock).order_by(WasteBlock.version.desc()).limit(200))
                .scalars()
                .all()
            )
            version = block_version(s)
        return sc.BlockPage(
            version=version,
            blocked=[block_out(b) for b in now_blocked],
            history=[block_out(b) for b in history],
        )


def _issue(s: Session, cards: Sequence[sc.CardIssueIn]) -> tuple[int, int]:
    """(issued, already in the registry)."""
    issued = already = 0
    have = set(
        s.execute(
            select(WasteCard.card_id).where(WasteCard.card_id.in_([c.card_id for c in cards]))
        ).scalars()
    )
    now = utcnow()
    for c in cards:
        if c.card_id in have:
            already += 1
            continue
        s.add(
            WasteCard(
                card_id=c.card_id,
                opening_balance=c.balance,
                opening_counter=c.counter,
                opening_points=c.points,
                balance=c.balance,
                counter=c.counter,
                points=c.points,
                txn_count=0,
                blocked=False,
                flagged=False,
                issued_at=now,
            )
        )
        if c.balance:
            s.add(WastePosting(card_id=c.card_id, account=CARD_VALUE, amount=c.balance))
            s.add(WastePosting(account=CARD_ISSUE, amount=-c.balance))
        issued += 1
    return issued, already


def block_out(b: WasteBlock) -> sc.BlockOut:
    return sc.BlockOut(
        version=b.version,
        card_id=b.card_id,
        blocked=b.blocked,
        reason=b.reason,
        actor=b.actor,
        at=b.at,
    )
