"""Reconciliation: a card whose missing counters stayed missing past the grace period (an
upload that never came, or a card written by something that is not a station) is flagged for
review; writes the stations reported as unconfirmed are recovered first."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core.db import utcnow
from onecity.waste.ledger.access import LedgerContext
from onecity.waste.ledger.flags import Break, flag
from onecity.waste.ledger.models import WasteCard, WasteCardFlag, WasteTxn
from onecity.waste.ledger.unconfirmed import recover

# A missing card counter is a late upload until this old, then a break.
GAP_GRACE = timedelta(days=3)


class Reconciler:
    def __init__(self, ctx: LedgerContext) -> None:
        self.ctx = ctx

    def reconcile_gaps(self, now: datetime | None = None, grace: timedelta = GAP_GRACE) -> int:
        """Recover what the cards' chains show, then flag the counters still missing past
        `grace`, in one unit of work. Returns how many counters were flagged."""
        now = now or utcnow()
        with self.ctx.db.session() as s:
            recover(s, self.ctx)
            cards = (
                s.execute(
                    select(WasteCard).where(
                        WasteCard.counter - WasteCard.opening_counter > WasteCard.txn_count
                    )
                )
                .scalars()
                .all()
            )
            return sum(self._flag_missing(s, card, now, grace) for card in cards)

    def _flag_missing(self, s: Session, card: WasteCard, now: datetime, grace: timedelta) -> int:
        rows = s.execute(
            select(WasteTxn.card_counter, WasteTxn.received_at)
            .where(WasteTxn.card_id == card.card_id)
            .order_by(WasteTxn.card_counter)
        ).all()
        known = {
            (f.counter, f.problem)
            for f in s.execute(
                select(WasteCardFlag).where(WasteCardFlag.card_id == card.card_id)
            ).scalars()
        }
        flagged = 0
        expected = card.opening_counter + 1
        for counter, received in rows:
            if counter > expected and now - received > grace:
                for missing in range(expected, counter):
                    if (missing, "missing") in known:
                        continue
                    detail = f"no station uploaded counter {missing} within {grace.days} days"
                    flag(
                        s,
                        self.ctx.department,
                        card,
                        Break(card.card_id, missing, "missing", detail),
                        block=False,
                    )
                    flagged += 1
            expected = counter + 1
        return flagged

    def card_state(self, card_id: str) -> tuple[int, int, int] | None:
        """The mirror of a card: (balance, counter, points) of its newest record."""
        with self.ctx.db.read() as s:
            c = s.get(WasteCard, card_id)
            return None if c is None else (c.balance, c.counter, c.points)
