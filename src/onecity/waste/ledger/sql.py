"""The upload's SQL, per dialect: the statements of the station hot path, built once at import
(building them per call costs more than running them), and the lookup of a card's stored
neighbours. PostgreSQL gets array statements of one fixed text whatever the batch size;
SQLite a VALUES list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, any_, bindparam, select, text, tuple_, update
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from onecity.core.models import Device
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.models import WasteCard, WastePosting, WasteSettlement, WasteTxn

# A card's record at one counter: (balance_before, balance_after, points_before, points_after).
Neighbours = dict[tuple[str, int], tuple[int, int, int, int]]


@dataclass
class CardRow:
    """The columns of a locked card row the upload reads and updates."""

    card_id: str
    opening_balance: int
    opening_counter: int
    opening_points: int
    balance: int
    counter: int
    points: int
    txn_count: int
    last_txn_at: datetime | None
    blocked: bool
    blocked_at: datetime | None
    flagged: bool


CARD_COLS = (
    WasteCard.card_id,
    WasteCard.opening_balance,
    WasteCard.opening_counter,
    WasteCard.opening_points,
    WasteCard.balance,
    WasteCard.counter,
    WasteCard.points,
    WasteCard.txn_count,
    WasteCard.last_txn_at,
    WasteCard.blocked,
    WasteCard.blocked_at,
    WasteCard.flagged,
)


TXNS: Table = WasteTxn.__table__  # type: ignore[assignment]
POSTINGS: Table = WastePosting.__table__  # type: ignore[assignment]
CARDS: Table = WasteCard.__table__  # type: ignore[assignment]
CARD_MIRROR = (
    update(CARDS)
    .where(CARDS.c.card_id == bindparam("c_id"))
    .values(
        balance=bindparam("balance"),
        counter=bindparam("counter"),
        points=bindparam("points"),
        txn_count=bindparam("txn_count"),
        last_txn_at=bindparam("last_txn_at"),
    )
)


# PostgreSQL: the statements of the upload keep one short text whatever the batch size (arrays,
# not a parameter per row), so the driver caches and prepares them instead of parsing a new
# statement of thousands of placeholders for every batch.
PG_INSERT_TXNS = text(
    """
    INSERT INTO waste_txns (terminal_id, terminal_seq, batch_no, kind, card_id, card_counter,
        amount, balance_before, balance_after, points_before, points_after, grams, tariff_from,
        items, rejected, occurred_at, received_at, payload_hash, link_code_hash)
    SELECT :terminal_id, u.seq, u.batch_no, u.kind, u.card_id, u.counter, u.amount, u.bal_before,
        u.bal_after, u.pts_before, u.pts_after, u.grams, u.tariff_from, CAST(u.items AS json),
        CAST(u.rejected AS json), u.occurred_at, :received_at, u.payload_hash, u.link_code_hash
    FROM unnest(CAST(:seq AS bigint[]), CAST(:batch_no AS integer[]), CAST(:kind AS text[]),
        CAST(:card_id AS text[]), CAST(:counter AS bigint[]), CAST(:amount AS integer[]),
        CAST(:bal_before AS integer[]), CAST(:bal_after AS integer[]),
        CAST(:pts_before AS integer[]), CAST(:pts_after AS integer[]),
        CAST(:grams AS integer[]), CAST(:tariff_from AS date[]), CAST(:items AS text[]),
        CAST(:rejected AS text[]), CAST(:occurred_at AS timestamptz[]),
        CAST(:payload_hash AS text[]), CAST(:link_code_hash AS text[]))
        AS u(seq, batch_no, kind, card_id, counter, amount, bal_before, bal_after, pts_before,
             pts_after, grams, tariff_from, items, rejected, occurred_at, payload_hash,
             link_code_hash)
    RETURNING id, terminal_seq
    """
)
PG_NEIGHBOURS = text(
    """
    SELECT t.card_id, t.card_counter, t.balance_before, t.balance_after, t.points_before,
        t.points_after
    FROM waste_txns t
    JOIN unnest(CAST(:card_id AS text[]), CAST(:counter AS bigint[])) AS w(card_id, counter)
        ON t.card_id = w.card_id AND t.card_counter = w.counter
    """
)

SQLITE_NEIGHBOURS = (
    "SELECT card_id, card_counter, balance_before, balance_after, points_before, points_after "
    "FROM waste_txns WHERE (card_id, card_counter) IN (VALUES "
)


def pg_columns(rows: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """The rows of a transaction batch as the column arrays of PG_INSERT_TXNS."""

    def col(name: str) -> list[Any]:
        return [r[name] for r in rows]

    return {
        "terminal_id": rows[0]["terminal_id"],
        "received_at": now,
        "seq": col("terminal_seq"),
        "batch_no": col("batch_no"),
        "kind": col("kind"),
        "card_id": col("card_id"),
        "counter": col("card_counter"),
        "amount": col("amount"),
        "bal_before": col("balance_before"),
        "bal_after": col("balance_after"),
        "pts_before": col("points_before"),
        "pts_after": col("points_after"),
        "grams": col("grams"),
        "tariff_from": col("tariff_from"),
        "items": [json.dumps(r["items"], ensure_ascii=False) for r in rows],
        "rejected": [json.dumps(r["rejected"], ensure_ascii=False) for r in rows],
        "occurred_at": col("occurred_at"),
        "payload_hash": col("payload_hash"),
        "link_code_hash": col("link_code_hash"),
    }


def one_of(col: Any, name: str, pg: bool) -> Any:
    """`col IN :name`: on PostgreSQL as `= ANY(:name)`, one fixed statement for any length
    (the driver sends the list as an array); elsewhere an expanding IN."""
    if pg:
        return col == any_(bindparam(name, type_=NullType()))
    return col.in_(bindparam(name, expanding=True))


# The upload's statements, built once: building them per call costs more than running them.
STATION_KIND = select(Device.type).where(Device.id == bindparam("tid"))
LOCK_CARDS = {
    pg: select(*CARD_COLS)
    .where(one_of(WasteCard.card_id, "ids", pg))
    .order_by(WasteCard.card_id)
    .with_for_update(skip_locked=False)
    for pg in (False, True)
}
STORED = {
    pg: select(WasteTxn.id, WasteTxn.terminal_seq, WasteTxn.payload_hash).where(
        WasteTxn.terminal_id == bindparam("tid"), one_of(WasteTxn.terminal_seq, "seqs", pg)
    )
    for pg in (False, True)
}
SETTLED = select(WasteSettlement.batch_no).where(
    WasteSettlement.terminal_id == bindparam("tid"),
    WasteSettlement.batch_no.in_(bindparam("batches", expanding=True)),
)


def neighbours(s: Session | Connection, txns: Sequence[sc.TxnIn], pg: bool = False) -> Neighbours:
    """Stored records at, just before and just after each new transaction's counter."""
    wanted = {(t.card_id, t.card_counter + d) for t in txns for d in (-1, 0, 1)}
    if not wanted:
        return {}
    if pg:
        keys = sorted(wanted)
        got = s.execute(
            PG_NEIGHBOURS,
            {"card_id": [k[0] for k in keys], "counter": [k[1] for k in keys]},
        ).all()
        return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in got}
    if isinstance(s, Connection) and s.dialect.name == "sqlite":
        keys = sorted(wanted)
        got = s.exec_driver_sql(
            SQLITE_NEIGHBOURS + ", ".join(["(?, ?)"] * len(keys)) + ")",
            tuple(v for k in keys for v in k),
        ).all()
        return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in got}
    rows = s.execute(
        select(
            WasteTxn.card_id,
            WasteTxn.card_counter,
            WasteTxn.balance_before,
            WasteTxn.balance_after,
            WasteTxn.points_before,
            WasteTxn.points_after,
        ).where(tuple_(WasteTxn.card_id, WasteTxn.card_counter).in_(sorted(wanted)))
    ).all()
    return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in rows}
