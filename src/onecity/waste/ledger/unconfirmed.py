"""Writes a station could not confirm (the card pulled mid-write): the station reports what it
meant to write; when the records on both sides of the card's gap show exactly that write, the
server rebuilds the transaction from it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import audit, events
from onecity.core.db import utcnow
from onecity.core.errors import Conflict, Invalid
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.access import LedgerContext, terminal
from onecity.waste.ledger.entries import payload_hash, postings_for
from onecity.waste.ledger.flags import RECONCILER
from onecity.waste.ledger.models import (
    CARD_VALUE,
    WasteCard,
    WastePosting,
    WasteTxn,
    WasteUnconfirmed,
)

# A card's record at one counter: (balance_before, balance_after, points_before, points_after).
_Chain = dict[int, tuple[int, int, int, int]]


class Unconfirmed:
    def __init__(self, ctx: LedgerContext) -> None:
        self.ctx = ctx

    def report(self, terminal_id: str, batch: sc.UnconfirmedBatchIn) -> sc.UnconfirmedBatchOut:
        """Keep what the station meant to write; if the card's chain already shows the write,
        it becomes a transaction at once."""
        seqs = [w.terminal_seq for w in batch.writes]
        if len(set(seqs)) != len(seqs):
            raise Invalid("a terminal_seq appears twice", field="writes")
        with self.ctx.db.session() as s:
            terminal(s, terminal_id)
            _keep(s, terminal_id, batch, seqs)
            recover(s, self.ctx, {w.card_id for w in batch.writes})
            rows = {
                u.terminal_seq: u
                for u in s.execute(
                    select(WasteUnconfirmed).where(
                        WasteUnconfirmed.terminal_id == terminal_id,
                        WasteUnconfirmed.terminal_seq.in_(seqs),
                    )
                ).scalars()
            }
            return sc.UnconfirmedBatchOut(
                results=[
                    sc.UnconfirmedResult(
                        terminal_seq=q,
                        status="recovered" if rows[q].status == "recovered" else "open",
                        txn_id=rows[q].txn_id,
                    )
                    for q in seqs
                ]
            )

    def recover(self, card_ids: set[str] | None = None) -> int:
        """Recover what the cards' chains show, in one unit of work; how many were recovered."""
        with self.ctx.db.session() as s:
            return recover(s, self.ctx, card_ids)


def _keep(s: Session, terminal_id: str, batch: sc.UnconfirmedBatchIn, seqs: list[int]) -> None:
    confirmed = set(
        s.execute(
            select(WasteTxn.terminal_seq).where(
                WasteTxn.terminal_id == terminal_id,
                WasteTxn.terminal_seq.in_(seqs),
                WasteTxn.recovered.is_(False),
            )
        ).scalars()
    )
    known = set(
        s.execute(
            select(WasteCard.card_id).where(
                WasteCard.card_id.in_({w.card_id for w in batch.writes})
            )
        ).scalars()
    )
    for i, w in enumerate(batch.writes):
        h = payload_hash(w)
        if w.terminal_seq in confirmed:
            raise Conflict(
                f"transaction {w.terminal_seq} was uploaded as confirmed",
                field=f"writes[{i}].terminal_seq",
                code="already_stored",
            )
        if w.card_id not in known:
            raise Invalid(
                f"card {w.card_id} is not in the card registry",
                field=f"writes[{i}].card_id",
                code="unknown_card",
            )
        old = s.get(WasteUnconfirmed, (terminal_id, w.terminal_seq))
        if old is not None:
            if old.payload_hash != h:
                raise Conflict(
                    f"write {w.terminal_seq} was reported with different content",
                    field=f"writes[{i}]",
                    code="payload_differs",
                )
            continue
        s.add(
            WasteUnconfirmed(
                terminal_id=terminal_id,
                terminal_seq=w.terminal_seq,
                batch_no=w.batch_no,
                kind=w.kind,
                card_id=w.card_id,
                amount=w.amount,
                points_after=w.points_after,
                grams=w.grams,
                tariff_from=w.tariff_from,
                items=[x.model_dump(mode="json") for x in w.items],
                occurred_at=w.occurred_at,
                payload_hash=h,
                status="open",
            )
        )
    s.flush()


def recover(s: Session, ctx: LedgerContext, card_ids: set[str] | None = None) -> int:
    """Fill a card's missing counter with an unconfirmed write when the records on both
    sides of the gap show exactly that write: the balance moved by its amount and the
    points landed where it said. Returns how many were recovered."""
    q = select(WasteUnconfirmed).where(WasteUnconfirmed.status == "open")
    if card_ids is not None:
        q = q.where(WasteUnconfirmed.card_id.in_(sorted(card_ids)))
    pending: dict[str, list[WasteUnconfirmed]] = {}
    for u in s.execute(q.order_by(WasteUnconfirmed.occurred_at)).scalars():
        pending.setdefault(u.card_id, []).append(u)
    recovered = 0
    for card_id, writes in sorted(pending.items()):
        lock = select(WasteCard).where(WasteCard.card_id == card_id)
        if ctx.db.dialect == "postgresql":
            lock = lock.with_for_update()
        card = s.execute(lock).scalar_one()
        recovered += _fill_gaps(s, card, writes)
    if recovered:
        events.emit(s, "waste.recovered", {"count": recovered}, ctx.department)
    return recovered


def _chain(s: Session, card: WasteCard) -> _Chain:
    chain = {
        r.card_counter: (r.balance_before, r.balance_after, r.points_before, r.points_after)
        for r in s.execute(
            select(
                WasteTxn.card_counter,
                WasteTxn.balance_before,
                WasteTxn.balance_after,
                WasteTxn.points_before,
                WasteTxn.points_after,
            ).where(WasteTxn.card_id == card.card_id)
        )
    }
    chain[card.opening_counter] = (
        card.opening_balance,
        card.opening_balance,
        card.opening_points,
        card.opening_points,
    )
    return chain


def _fill_gaps(s: Session, card: WasteCard, writes: Iterable[WasteUnconfirmed]) -> int:
    chain = _chain(s, card)
    recovered = 0
    for c in range(card.opening_counter + 1, card.counter):
        if c in chain or (c - 1) not in chain or (c + 1) not in chain:
            continue
        before, after = chain[c - 1], chain[c + 1]
        delta = after[0] - before[1]
        match = [
            u
            for u in writes
            if u.status == "open"
            and u.amount == delta
            and (u.points_after is None or u.points_after == after[2])
        ]
        if not match:
            continue
        _rebuild(s, card, c, match[0], before, after)  # the oldest; equal writes are equal money
        chain[c] = (before[1], after[0], before[3], after[2])
        recovered += 1
    return recovered


def _rebuild(
    s: Session,
    card: WasteCard,
    counter: int,
    u: WasteUnconfirmed,
    before: tuple[int, int, int, int],
    after: tuple[int, int, int, int],
) -> None:
    """The transaction of unconfirmed write `u` at `counter`, posted and audited."""
    now = utcnow()
    row = WasteTxn(
        terminal_id=u.terminal_id,
        terminal_seq=u.terminal_seq,
        batch_no=u.batch_no,
        kind=u.kind,
        card_id=card.card_id,
        card_counter=counter,
        amount=u.amount,
        balance_before=before[1],
        balance_after=after[0],
        points_before=before[3],
        points_after=after[2],
        grams=u.grams,
        tariff_from=u.tariff_from,
        items=u.items,
        rejected=[],
        occurred_at=u.occurred_at,
        received_at=now,
        payload_hash=u.payload_hash,
        recovered=True,
    )
    s.add(row)
    s.flush()
    for account, amount in postings_for(u.kind, u.amount):
        s.add(
            WastePosting(
                txn_id=row.id,
                card_id=card.card_id if account == CARD_VALUE else None,
                account=account,
                amount=amount,
                created_at=now,
            )
        )
    card.txn_count += 1
    u.status = "recovered"
    u.txn_id = row.id
    audit.append(
        s,
        actor=RECONCILER,
        action="waste.txn.recover",
        target=card.card_id,
        detail={
            "terminal_id": u.terminal_id,
            "terminal_seq": u.terminal_seq,
            "counter": counter,
            "amount": u.amount,
        },
    )
