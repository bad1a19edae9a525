"""The operators' view of the books: settlements, the ledger's account totals and the
stations' activity."""

from __future__ import annotations

from sqlalchemy import func, select

from onecity.core import clock
from onecity.core.auth.permissions import Perm, Principal
from onecity.core.models import Device
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.access import LedgerContext
from onecity.waste.ledger.models import (
    ACCOUNTS,
    CARD_VALUE,
    WasteCard,
    WastePosting,
    WasteSettlement,
    WasteTxn,
)
from onecity.waste.ledger.settlement import settlement_out
from onecity.waste.rules.stations import STATION_TYPE


class Books:
    def __init__(self, ctx: LedgerContext) -> None:
        self.ctx = ctx

    def settlements(
        self, who: Principal, *, status: str | None = None, terminal_id: str | None = None
    ) -> sc.SettlementPage:
        self.ctx.staff(who, Perm.WASTE_READ)
        q = select(WasteSettlement).order_by(WasteSettlement.closed_at.desc()).limit(500)
        if status:
            q = q.where(WasteSettlement.status == status)
        if terminal_id:
            q = q.where(WasteSettlement.terminal_id == terminal_id)
        with self.ctx.db.read() as s:
            return sc.SettlementPage(items=[settlement_out(r) for r in s.execute(q).scalars()])

    def ledger(self, who: Principal) -> sc.LedgerOut:
        self.ctx.staff(who, Perm.WASTE_READ)
        return self.ledger_totals()

    def ledger_totals(self) -> sc.LedgerOut:
        with self.ctx.db.read() as s:
            sums = dict(
                s.execute(
                    select(WastePosting.account, func.sum(WastePosting.amount)).group_by(
                        WastePosting.account
                    )
                ).all()
            )
            cards_value = int(
                s.execute(select(func.coalesce(func.sum(WasteCard.balance), 0))).scalar() or 0
            )
            txns = int(s.execute(select(func.count()).select_from(WasteTxn)).scalar() or 0)
        accounts = [sc.AccountTotal(account=a, total=int(sums.get(a) or 0)) for a in ACCOUNTS]
        total = sum(a.total for a in accounts)
        card_value = int(sums.get(CARD_VALUE) or 0)
        return sc.LedgerOut(
            accounts=accounts,
            sum=total,
            cards_value=cards_value,
            unexplained_card_value=cards_value - card_value,
            balanced=total == 0 and cards_value == card_value,
            txns=txns,
        )

    def stations(self, who: Principal) -> list[sc.StationOut]:
        self.ctx.staff(who, Perm.WASTE_READ)
        start = (
            clock.now().astimezone(self.ctx.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        )
        with self.ctx.db.read() as s:
            devs = list(
                s.execute(
                    select(Device).where(Device.type == STATION_TYPE).order_by(Device.id)
                ).scalars()
            )
            last = dict(
                s.execute(
                    select(WasteTxn.terminal_id, func.max(WasteTxn.received_at)).group_by(
                        WasteTxn.terminal_id
                    )
                ).all()
            )
            today = dict(
                s.execute(
                    select(WasteTxn.terminal_id, func.count())
                    .where(WasteTxn.occurred_at >= start)
                    .group_by(WasteTxn.terminal_id)
                ).all()
            )
            bad = dict(
                s.execute(
                    select(WasteSettlement.terminal_id, func.count())
                    .where(WasteSettlement.status == "mismatch")
                    .group_by(WasteSettlement.terminal_id)
                ).all()
            )
        return [
            sc.StationOut(
                id=d.id,
                name=d.name,
                lon=d.lon,
                lat=d.lat,
                district=d.district,
                connectivity=d.connectivity,
                last_upload_at=last.get(d.id),
                txns_today=int(today.get(d.id, 0)),
                open_mismatches=int(bad.get(d.id, 0)),
            )
            for d in devs
        ]
