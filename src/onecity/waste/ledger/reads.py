"""The operators' reads of cards and transactions: the pages of the dashboard and the
card detail a citizen sees of their own cards too."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from onecity.core.auth.permissions import Perm, Principal
from onecity.core.errors import NotFound
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.access import LedgerContext
from onecity.waste.ledger.models import WasteCard, WasteCardFlag, WasteTxn


class CardReads:
    def __init__(self, ctx: LedgerContext) -> None:
        self.ctx = ctx

    def transactions(
        self,
        who: Principal,
        *,
        card_id: str | None = None,
        terminal_id: str | None = None,
        kind: str | None = None,
        day: date | None = None,
        cursor: int | None = None,
        limit: int = 100,
    ) -> sc.TxnPage:
        self.ctx.staff(who, Perm.WASTE_READ)
        q = select(WasteTxn).order_by(WasteTxn.id.desc()).limit(limit + 1)
        if card_id:
            q = q.where(WasteTxn.card_id == card_id)
        if terminal_id:
            q = q.where(WasteTxn.terminal_id == terminal_id)
        if kind:
            q = q.where(WasteTxn.kind == kind)
        if day:
            start = datetime(day.year, day.month, day.day, tzinfo=self.ctx.tz)
            q = q.where(WasteTxn.occurred_at >= start, WasteTxn.occurred_at < start + timedelta(1))
        if cursor:
            q = q.where(WasteTxn.id < cursor)
        with self.ctx.db.read() as s:
            rows = list(s.execute(q).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        return sc.TxnPage(
            items=[txn_out(r) for r in rows],
            next_cursor=str(rows[-1].id) if more and rows else None,
        )

    def cards(
        self,
        who: Principal,
        *,
        q: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> sc.CardPage:
        self.ctx.staff(who, Perm.WASTE_READ)
        stmt = select(WasteCard).order_by(WasteCard.card_id).limit(limit + 1)
        if q:
            stmt = stmt.where(WasteCard.card_id.like(f"%{_like(q)}%", escape="\\"))
        if status == "blocked":
            stmt = stmt.where(WasteCard.blocked)
        elif status == "flagged":
            stmt = stmt.where(WasteCard.flagged)
        elif status == "registered":
            stmt = stmt.where(WasteCard.owner_user_id.is_not(None))
        if cursor:
            stmt = stmt.where(WasteCard.card_id > cursor)
        with self.ctx.db.read() as s:
            rows = list(s.execute(stmt).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        return sc.CardPage(
            items=[card_out(c) for c in rows],
            next_cursor=rows[-1].card_id if more and rows else None,
        )

    def card(self, who: Principal, card_id: str) -> sc.CardDetail:
        self.ctx.staff(who, Perm.WASTE_READ)
        with self.ctx.db.read() as s:
            c = s.get(WasteCard, card_id)
            if c is None:
                raise NotFound(f"no card {card_id}")
            return card_detail(s, c)


def txn_out(r: WasteTxn) -> sc.TxnOut:
    return sc.TxnOut(
        id=r.id,
        terminal_id=r.terminal_id,
        terminal_seq=r.terminal_seq,
        batch_no=r.batch_no,
        kind=r.kind,
        card_id=r.card_id,
        card_counter=r.card_counter,
        amount=r.amount,
        balance_before=r.balance_before,
        balance_after=r.balance_after,
        points_before=r.points_before,
        points_after=r.points_after,
        grams=r.grams,
        tariff_from=r.tariff_from,
        items=[sc.ItemIn.model_validate(x) for x in r.items or []],
        rejected=[sc.RejectedIn.model_validate(x) for x in r.rejected or []],
        occurred_at=r.occurred_at,
        received_at=r.received_at,
    )


def card_out(c: WasteCard) -> sc.CardOut:
    return sc.CardOut(
        card_id=c.card_id,
        balance=c.balance,
        counter=c.counter,
        points=c.points,
        txn_count=c.txn_count,
        missing=c.counter - c.opening_counter - c.txn_count,
        last_txn_at=c.last_txn_at,
        blocked=c.blocked,
        flagged=c.flagged,
        registered=c.owner_user_id is not None,
        issued_at=c.issued_at,
    )


def card_detail(s: Session, c: WasteCard, history: int = 200) -> sc.CardDetail:
    rows = list(
        s.execute(
            select(WasteTxn)
            .where(WasteTxn.card_id == c.card_id)
            .order_by(WasteTxn.card_counter.desc())
            .limit(history)
        ).scalars()
    )
    counters = set(
        s.execute(select(WasteTxn.card_counter).where(WasteTxn.card_id == c.card_id)).scalars()
    )
    missing = [n for n in range(c.opening_counter + 1, c.counter + 1) if n not in counters]
    flags = list(
        s.execute(
            select(WasteCardFlag)
            .where(WasteCardFlag.card_id == c.card_id)
            .order_by(WasteCardFlag.id)
        ).scalars()
    )
    charged, rebated = s.execute(
        select(
            func.coalesce(func.sum(case((WasteTxn.kind == "garbage", -WasteTxn.amount))), 0),
            func.coalesce(func.sum(case((WasteTxn.kind == "recycle", WasteTxn.amount))), 0),
        ).where(WasteTxn.card_id == c.card_id)
    ).one()
    base = card_out(c)
    return sc.CardDetail(
        **base.model_dump(),
        opening_balance=c.opening_balance,
        opening_counter=c.opening_counter,
        flags=[
            sc.FlagOut(
                counter=f.counter,
                problem=f.problem,
                detail=f.detail,
                terminal_id=f.terminal_id,
                terminal_seq=f.terminal_seq,
                at=f.at,
            )
            for f in flags
        ],
        missing_counters=missing[:100],
        history=[txn_out(r) for r in rows],
        rebate_ntd=int(rebated),
        charged_ntd=int(charged),
    )


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
