"""Settlement: a station closes a batch with its own totals; the server compares them with
the transactions it holds for that batch, now and again whenever a late upload lands in it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from onecity.core import events
from onecity.core.db import utcnow
from onecity.core.errors import Conflict
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.access import LedgerContext, terminal
from onecity.waste.ledger.entries import json_hash
from onecity.waste.ledger.models import WasteSettlement, WasteTxn


class Settlements:
    def __init__(self, ctx: LedgerContext) -> None:
        self.ctx = ctx

    def settle(self, terminal_id: str, body: sc.SettlementIn) -> sc.SettlementOut:
        h = json_hash(body.model_dump(mode="json"))
        with self.ctx.db.session() as s:
            terminal(s, terminal_id)
            row = s.get(WasteSettlement, (terminal_id, body.batch_no))
            if row is not None and row.payload_hash != h:
                raise Conflict(
                    f"batch {body.batch_no} was settled with different totals",
                    code="payload_differs",
                )
            if row is None:
                row = WasteSettlement(
                    terminal_id=terminal_id,
                    batch_no=body.batch_no,
                    opened_at=body.opened_at,
                    closed_at=body.closed_at,
                    count=body.count,
                    debit_total=body.debit_total,
                    credit_total=body.credit_total,
                    first_seq=body.first_seq,
                    last_seq=body.last_seq,
                    payload_hash=h,
                    status="mismatch",
                    server_count=0,
                    server_debit_total=0,
                    server_credit_total=0,
                    differences=[],
                )
                s.add(row)
            check_settlement(s, row, self.ctx.department)
            s.flush()
            return settlement_out(row)


def check_settlement(s: Session, row: WasteSettlement, department: str) -> None:
    """Compare a settlement with the server's transactions of its batch and store the result;
    a settlement that turns into a mismatch emits `waste.settlement_mismatch`."""
    # A transaction rebuilt from an unconfirmed write is not in the station's own totals.
    where = and_(
        WasteTxn.terminal_id == row.terminal_id,
        WasteTxn.batch_no == row.batch_no,
        WasteTxn.recovered.is_(False),
    )
    count, debit, credit = s.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((WasteTxn.amount < 0, -WasteTxn.amount), else_=0)), 0),
            func.coalesce(func.sum(case((WasteTxn.amount > 0, WasteTxn.amount), else_=0)), 0),
        ).where(where)
    ).one()
    diffs = _total_differences(row, int(count), int(debit), int(credit))
    if row.first_seq is not None and row.last_seq is not None and count != row.count:
        diffs += _missing_seqs(s, row, where, row.first_seq, row.last_seq)
    was = row.status
    row.server_count = int(count)
    row.server_debit_total = int(debit)
    row.server_credit_total = int(credit)
    row.differences = diffs
    row.status = "mismatch" if diffs else "matched"
    row.checked_at = utcnow()
    if row.status == "mismatch" and was != "mismatch":
        events.emit(
            s,
            "waste.settlement_mismatch",
            {"terminal_id": row.terminal_id, "batch_no": row.batch_no, "differences": diffs},
            department,
        )


def _total_differences(
    row: WasteSettlement, count: int, debit: int, credit: int
) -> list[dict[str, Any]]:
    # Each difference keeps its figures (pages translate them) and an English sentence.
    diffs: list[dict[str, Any]] = []
    if count != row.count:
        diffs.append(
            {
                "code": "count",
                "station": row.count,
                "server": count,
                "text": f"the station counted {row.count} transactions, the server has {count}",
            }
        )
    if debit != row.debit_total:
        diffs.append(
            {
                "code": "charged",
                "station": row.debit_total,
                "server": debit,
                "text": f"charged: station NT${row.debit_total}, server NT${debit}",
            }
        )
    if credit != row.credit_total:
        diffs.append(
            {
                "code": "rebated",
                "station": row.credit_total,
                "server": credit,
                "text": f"rebated: station NT${row.credit_total}, server NT${credit}",
            }
        )
    return diffs


def _missing_seqs(
    s: Session, row: WasteSettlement, where: ColumnElement[bool], first: int, last: int
) -> list[dict[str, Any]]:
    have = set(
        s.execute(
            select(WasteTxn.terminal_seq).where(where, WasteTxn.terminal_seq.between(first, last))
        ).scalars()
    )
    missing = [q for q in range(first, last + 1) if q not in have]
    if not missing or len(missing) > last - first + 1:
        return []
    shown = ", ".join(str(q) for q in missing[:20])
    more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
    return [
        {
            "code": "missing",
            "seqs": missing[:20],
            "more": max(0, len(missing) - 20),
            "text": f"not uploaded yet: {shown}{more}",
        }
    ]


def settlement_out(row: WasteSettlement) -> sc.SettlementOut:
    diffs = list(row.differences or [])
    return sc.SettlementOut(
        terminal_id=row.terminal_id,
        batch_no=row.batch_no,
        status=row.status,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        terminal=sc.Totals(
            count=row.count, debit_total=row.debit_total, credit_total=row.credit_total
        ),
        server=sc.Totals(
            count=row.server_count,
            debit_total=row.server_debit_total,
            credit_total=row.server_credit_total,
        ),
        differences=[d["text"] if isinstance(d, dict) else str(d) for d in diffs],
        difference_details=[
            sc.SettlementDifference.model_validate(d)
            if isinstance(d, dict)
            else sc.SettlementDifference(code="text", text=str(d))
            for d in diffs
        ],
        received_at=row.received_at,
        checked_at=row.checked_at,
    )
