"""The station upload: each figure checked against the tariff and rebate rules, each
transaction stored once (by terminal and number), posted double-entry, mirrored on its card
and checked against its neighbours on the card's chain. Core statements (sql.py), not ORM
objects: the hot path of every station, a fixed handful of round trips whatever the size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onecity.core import events
from onecity.core.db import bulk_insert, utcnow
from onecity.core.errors import Conflict, Invalid, Unavailable
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger import sql
from onecity.waste.ledger.access import LedgerContext, terminal
from onecity.waste.ledger.entries import payload_hash, postings_for
from onecity.waste.ledger.flags import Break, chain_breaks, flag
from onecity.waste.ledger.models import CARD_VALUE, WasteCard, WasteSettlement
from onecity.waste.ledger.settlement import check_settlement
from onecity.waste.rules.linkcode import code_hash
from onecity.waste.rules.money import RuleError, rebate
from onecity.waste.rules.stations import STATION_TYPE

# A station clock may run a little fast; further in the future than this is refused.
CLOCK_SKEW = timedelta(minutes=10)


@dataclass
class _Replay(Exception):
    index: int
    txn: sc.TxnIn
    terminal_id: str


@dataclass
class _Batch:
    """One upload, hashed once: what every attempt to store it reads."""

    terminal_id: str
    txns: Sequence[sc.TxnIn]
    dumped: list[dict[str, Any]]
    hashes: list[str]
    first_in_batch: dict[int, int]  # terminal_seq -> index of its first occurrence
    now: datetime


class Uploads:
    def __init__(self, ctx: LedgerContext) -> None:
        self.ctx = ctx

    def upload(self, terminal_id: str, batch: sc.TxnBatchIn) -> sc.TxnBatchOut:
        """Store a batch: one unit of work per attempt (a retry after losing a race answers
        from what is then stored); a replayed counter flags its card in a unit of its own,
        which stands although the upload is refused."""
        b = self._prepare(terminal_id, batch)
        for i, t in enumerate(b.txns):
            if b.first_in_batch[t.terminal_seq] == i:
                self.check_rules(i, t, b.now)
        for _attempt in range(5):
            try:
                return self._store(b)
            except _Replay as replay:
                self._flag_replay(replay)
                raise Conflict(
                    f"card {replay.txn.card_id} already has a transaction with counter "
                    f"{replay.txn.card_counter}: replay or cloned card; the card is blocked",
                    field=f"transactions[{replay.index}].card_counter",
                    code="counter_replay",
                ) from None
            except IntegrityError:
                # Another upload of the same transactions (a retry racing the first) or of the
                # same card counter won; run again to answer from what is now stored.
                continue
        # Temporary by nature (a 503, which stations retry), never a refusal of the data.
        raise Unavailable("the upload kept colliding with another; send it again", code="busy")

    @staticmethod
    def _prepare(terminal_id: str, batch: sc.TxnBatchIn) -> _Batch:
        txns = batch.transactions
        dumped = [t.model_dump(mode="json") for t in txns]
        hashes = [payload_hash(t, d) for t, d in zip(txns, dumped, strict=True)]
        first_in_batch: dict[int, int] = {}
        for i, t in enumerate(txns):
            j = first_in_batch.setdefault(t.terminal_seq, i)
            if j != i and hashes[j] != hashes[i]:
                raise Conflict(
                    f"terminal_seq {t.terminal_seq} appears twice with different content",
                    field=f"transactions[{i}]",
                    code="payload_differs",
                )
        return _Batch(terminal_id, txns, dumped, hashes, first_in_batch, utcnow())

    def check_rules(self, i: int, t: sc.TxnIn, now: datetime) -> None:
        """Refuse a transaction whose figures the tariff or the rebate rules do not give."""
        at = f"transactions[{i}]"
        if t.occurred_at > now + CLOCK_SKEW:
            raise Invalid(
                "occurred_at is in the future; check the station clock", field=f"{at}.occurred_at"
            )
        if t.kind == "garbage":
            self._check_charge(at, t)
        elif t.kind == "recycle":
            mats = [item.material for item in t.items]
            got = rebate(t.points_before, mats, self.ctx.rebate_points)
            if got.ntd != t.amount or got.points_left != t.points_after:
                raise Invalid(
                    f"{len(t.items)} items with {t.points_before} points carried earn "
                    f"NT${got.ntd} and leave {got.points_left} points, not NT${t.amount} and "
                    f"{t.points_after}",
                    field=f"{at}.amount",
                    code="rebate_mismatch",
                )

    def _check_charge(self, at: str, t: sc.TxnIn) -> None:
        assert t.grams is not None and t.tariff_from is not None  # the schema checked
        day = t.occurred_at.astimezone(self.ctx.tz).date()
        try:
            tariff = self.ctx.tariffs.on(day)
            charge = tariff.charge(t.grams)
        except RuleError as exc:
            code = "invalid" if exc.field == "grams" else "tariff_gap"
            raise Invalid(str(exc), field=f"{at}.{exc.field or 'occurred_at'}", code=code) from None
        if tariff.effective_from != t.tariff_from:
            raise Invalid(
                f"the tariff in force on {day} started {tariff.effective_from}, "
                f"not {t.tariff_from}",
                field=f"{at}.tariff_from",
                code="tariff_mismatch",
            )
        if -t.amount != charge:
            raise Invalid(
                f"{t.grams} g costs NT${charge} under the tariff of {tariff.effective_from}, "
                f"not NT${-t.amount}",
                field=f"{at}.amount",
                code="tariff_mismatch",
            )

    def _store(self, b: _Batch) -> sc.TxnBatchOut:
        with self.ctx.db.session() as s:
            conn = s.connection()  # plain Core: no ORM bookkeeping per statement
            kind = conn.execute(sql.STATION_KIND, {"tid": b.terminal_id}).scalar()
            if kind != STATION_TYPE:
                terminal(s, b.terminal_id)  # raises the readable error
            pg = self.ctx.db.dialect == "postgresql"
            cards, stored = _lock(conn, b, pg)
            new = [
                (i, t)
                for i, t in enumerate(b.txns)
                if b.first_in_batch[t.terminal_seq] == i and t.terminal_seq not in stored
            ]
            for i, t in new:
                if t.card_id not in cards:
                    raise Invalid(
                        f"card {t.card_id} is not in the card registry",
                        field=f"transactions[{i}].card_id",
                        code="unknown_card",
                    )
            neighbours = sql.neighbours(conn, [t for _, t in new], pg)
            rows = [self._row(b, i, t, cards[t.card_id], neighbours) for i, t in new]
            ids: dict[int, int] = {}
            if rows:
                ids = _insert(conn, rows, pg, b.now)
                _post(conn, [t for _, t in new], ids, b.now)
                self._mirror(s, conn, b.terminal_id, [t for _, t in new], cards, neighbours)
                self._recheck_settlements(s, conn, b.terminal_id, [t for _, t in new])
                self._emit(s, b.terminal_id, [t for _, t in new], ids)
            return _results(b, stored, ids, cards)

    def _row(
        self, b: _Batch, i: int, t: sc.TxnIn, card: sql.CardRow, neighbours: sql.Neighbours
    ) -> dict[str, Any]:
        """The stored row of a new transaction, once it is known not to be a replay; it joins
        `neighbours` so the next transactions of the batch see it."""
        if card.blocked and card.blocked_at is not None and t.occurred_at >= card.blocked_at:
            raise Conflict(
                f"card {t.card_id} was blocked at {card.blocked_at.isoformat()}",
                field=f"transactions[{i}].card_id",
                code="card_blocked",
            )
        key = (t.card_id, t.card_counter)
        if key in neighbours or t.card_counter <= card.opening_counter:
            raise _Replay(i, t, b.terminal_id)
        neighbours[key] = (t.balance_before, t.balance_after, t.points_before, t.points_after)
        return {
            "terminal_id": b.terminal_id,
            "terminal_seq": t.terminal_seq,
            "batch_no": t.batch_no,
            "kind": t.kind,
            "card_id": t.card_id,
            "card_counter": t.card_counter,
            "amount": t.amount,
            "balance_before": t.balance_before,
            "balance_after": t.balance_after,
            "points_before": t.points_before,
            "points_after": t.points_after,
            "grams": t.grams,
            "tariff_from": t.tariff_from,
            "items": b.dumped[i]["items"],
            "rejected": b.dumped[i]["rejected"],
            "occurred_at": t.occurred_at,
            "received_at": b.now,
            "payload_hash": b.hashes[i],
            # Only a hash: nobody reading the database can link the card.
            "link_code_hash": None
            if t.link_code is None
            else code_hash(self.ctx.link_key, t.card_id, t.link_code),
        }

    def _mirror(
        self,
        s: Session,
        conn: Connection,
        terminal_id: str,
        new: list[sc.TxnIn],
        cards: dict[str, sql.CardRow],
        neighbours: sql.Neighbours,
    ) -> None:
        """Move each card's mirror to its newest record and flag the breaks in its chain."""
        breaks: list[Break] = []
        for t in new:
            card = cards[t.card_id]
            card.txn_count += 1
            if t.card_counter > card.counter:
                card.counter = t.card_counter
                card.balance = t.balance_after
                card.points = t.points_after
            if card.last_txn_at is None or t.occurred_at > card.last_txn_at:
                card.last_txn_at = t.occurred_at
            breaks += [
                Break(t.card_id, t.card_counter, p, d, terminal_id, t.terminal_seq)
                for p, d in chain_breaks(card, t, neighbours)
            ]
        touched = sorted({t.card_id for t in new})
        conn.execute(
            sql.CARD_MIRROR,
            [
                {
                    "c_id": c,
                    "balance": cards[c].balance,
                    "counter": cards[c].counter,
                    "points": cards[c].points,
                    "txn_count": cards[c].txn_count,
                    "last_txn_at": cards[c].last_txn_at,
                }
                for c in touched
            ],
        )
        for br in breaks:
            orm_card = s.get(WasteCard, br.card_id)
            assert orm_card is not None
            flag(s, self.ctx.department, orm_card, br)
            cards[br.card_id].flagged = True

    def _recheck_settlements(
        self, s: Session, conn: Connection, terminal_id: str, new: list[sc.TxnIn]
    ) -> None:
        """A late upload into a batch already settled: check that settlement again."""
        batches = sorted({t.batch_no for t in new})
        settled_nos = conn.execute(sql.SETTLED, {"tid": terminal_id, "batches": batches}).scalars()
        for batch_no in settled_nos.all():
            settled = s.get(WasteSettlement, (terminal_id, batch_no))
            assert settled is not None
            check_settlement(s, settled, self.ctx.department)

    def _emit(self, s: Session, terminal_id: str, new: list[sc.TxnIn], ids: dict[int, int]) -> None:
        events.emit(
            s,
            "waste.transactions",
            {
                "terminal_id": terminal_id,
                "count": len(new),
                "charged": sum(-t.amount for t in new if t.amount < 0),
                "rebated": sum(t.amount for t in new if t.amount > 0),
                "last": [
                    {
                        "txn_id": ids[t.terminal_seq],
                        "kind": t.kind,
                        "card_id": t.card_id,
                        "amount": t.amount,
                        "grams": t.grams,
                        "items": len(t.items),
                        "at": t.occurred_at.astimezone(UTC).isoformat(),
                    }
                    for t in new[-10:]
                ],
            },
            self.ctx.department,
        )

    def _flag_replay(self, r: _Replay) -> None:
        with self.ctx.db.session() as s:
            card = s.get(WasteCard, r.txn.card_id)
            if card is None:
                return
            detail = (
                f"{r.terminal_id} #{r.txn.terminal_seq} reused counter {r.txn.card_counter} "
                f"(NT${r.txn.balance_before} → NT${r.txn.balance_after})"
            )
            br = Break(
                card.card_id,
                r.txn.card_counter,
                "counter_replay",
                detail,
                r.terminal_id,
                r.txn.terminal_seq,
            )
            flag(s, self.ctx.department, card, br)


def _lock(
    conn: Connection, b: _Batch, pg: bool
) -> tuple[dict[str, sql.CardRow], dict[int, tuple[int, str]]]:
    """Lock the batch's cards (in one order, so two uploads cannot deadlock) and read which
    transactions are stored already: everything after is decided with no other upload
    touching these cards in between."""
    card_ids = sorted({t.card_id for t in b.txns})
    cards = {
        r.card_id: sql.CardRow(**r._mapping)
        for r in conn.execute(sql.LOCK_CARDS[pg], {"ids": card_ids})
    }
    stored = {
        row.terminal_seq: (row.id, row.payload_hash)
        for row in conn.execute(
            sql.STORED[pg], {"tid": b.terminal_id, "seqs": sorted(b.first_in_batch)}
        )
    }
    for i, t in enumerate(b.txns):
        old = stored.get(t.terminal_seq)
        if old is not None and old[1] != b.hashes[i]:
            raise Conflict(
                f"transaction {t.terminal_seq} of {b.terminal_id} was stored with "
                "different content",
                field=f"transactions[{i}]",
                code="payload_differs",
            )
    return cards, stored


def _insert(
    conn: Connection, rows: list[dict[str, Any]], pg: bool, now: datetime
) -> dict[int, int]:
    """Insert the new transactions; their ids by terminal_seq."""
    if pg:
        inserted = conn.execute(sql.PG_INSERT_TXNS, sql.pg_columns(rows, now))
        return {r.terminal_seq: r.id for r in inserted}
    # SQLite: this unit of work holds the database's only write lock (BEGIN IMMEDIATE), so
    # the next ids are simply the ones after the highest.
    ids: dict[int, int] = {}
    top = conn.execute(select(func.max(sql.TXNS.c.id))).scalar() or 0
    for n, row in enumerate(rows, start=top + 1):
        row["id"] = n
        ids[row["terminal_seq"]] = n
    bulk_insert(conn, sql.TXNS, rows)
    return ids


def _post(conn: Connection, new: list[sc.TxnIn], ids: dict[int, int], now: datetime) -> None:
    postings = [
        {
            "txn_id": ids[t.terminal_seq],
            "card_id": t.card_id if account == CARD_VALUE else None,
            "account": account,
            "amount": amount,
            "created_at": now,
        }
        for t in new
        for account, amount in postings_for(t.kind, t.amount)
    ]
    bulk_insert(conn, sql.POSTINGS, postings)


def _results(
    b: _Batch,
    stored: dict[int, tuple[int, str]],
    ids: dict[int, int],
    cards: dict[str, sql.CardRow],
) -> sc.TxnBatchOut:
    results = []
    for i, t in enumerate(b.txns):
        if t.terminal_seq in stored:
            txn_id, status = stored[t.terminal_seq][0], "duplicate"
        else:
            txn_id = ids[t.terminal_seq]
            status = "stored" if b.first_in_batch[t.terminal_seq] == i else "duplicate"
        results.append(
            sc.TxnResult(
                terminal_seq=t.terminal_seq,
                status=status,
                txn_id=txn_id,
                card_flagged=cards[t.card_id].flagged if t.card_id in cards else False,
            )
        )
    return sc.TxnBatchOut(results=results)
