"""The iTrash ledger: one unit of work per use case.

Stations upload the card writes they made; the server checks every figure against the tariff
and rebate rules, stores each transaction exactly once (by terminal and terminal number),
posts it double-entry, keeps each card's mirror, and reconciles each card's chain of
counters and balances. A break flags the card and puts it on the blocklist."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Table,
    and_,
    any_,
    bindparam,
    case,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from onecity.core import audit, clock, events
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database, bulk_insert, utcnow
from onecity.core.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from onecity.core.geo import CityProfile
from onecity.core.models import Device
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.card_links import CardLinks
from onecity.waste.models import (
    ACCOUNTS,
    CARD_ISSUE,
    CARD_VALUE,
    FEE_REVENUE,
    REBATE_EXPENSE,
    TOPUP_CASH,
    WasteBlock,
    WasteCard,
    WasteCardFlag,
    WastePosting,
    WasteSettlement,
    WasteTxn,
    WasteUnconfirmed,
)
from onecity.waste.rules.linkcode import code_hash
from onecity.waste.rules.money import RuleError, TariffTable, rebate
from onecity.waste.rules.stations import STATION_TYPE

# A station clock may run a little fast; further in the future than this is refused.
CLOCK_SKEW = timedelta(minutes=10)
# A missing card counter is a late upload until this old, then a break.
GAP_GRACE = timedelta(days=3)
RECONCILER = "reconciliation"


def payload_hash(t: sc.TxnIn | sc.UnconfirmedIn, dumped: dict[str, Any] | None = None) -> str:
    """What a station sent, independent of the offset it wrote the time in. `dumped` is
    `t.model_dump(mode="json")` when the caller already has it."""
    if dumped is None:
        dumped = t.model_dump(mode="json")
    if "link_code" in dumped:
        # Never in the hash: it is stored beside the transaction and would let whoever reads
        # it test guesses of the code. Stations from before link codes hash the same as then.
        dumped = {k: v for k, v in dumped.items() if k != "link_code"}
    return _hash(dumped | {"occurred_at": t.occurred_at.astimezone(UTC).isoformat()})


def _hash(obj: Any) -> str:
    raw = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def postings_for(kind: str, amount: int) -> list[tuple[str, int]]:
    """The double entry of one transaction: (account, signed NT$), summing to zero."""
    if amount == 0:
        return []
    if kind == "garbage":
        return [(CARD_VALUE, amount), (FEE_REVENUE, -amount)]
    if kind == "recycle":
        return [(CARD_VALUE, amount), (REBATE_EXPENSE, -amount)]
    return [(CARD_VALUE, amount), (TOPUP_CASH, -amount)]


@dataclass
class _Card:
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


_CARD_COLS = (
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


_TXNS: Table = WasteTxn.__table__  # type: ignore[assignment]
_POSTINGS: Table = WastePosting.__table__  # type: ignore[assignment]
_CARDS: Table = WasteCard.__table__  # type: ignore[assignment]
_CARD_MIRROR = (
    update(_CARDS)
    .where(_CARDS.c.card_id == bindparam("c_id"))
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
_PG_INSERT_TXNS = text(
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
_PG_NEIGHBOURS = text(
    """
    SELECT t.card_id, t.card_counter, t.balance_before, t.balance_after, t.points_before,
        t.points_after
    FROM waste_txns t
    JOIN unnest(CAST(:card_id AS text[]), CAST(:counter AS bigint[])) AS w(card_id, counter)
        ON t.card_id = w.card_id AND t.card_counter = w.counter
    """
)

_SQLITE_NEIGHBOURS = (
    "SELECT card_id, card_counter, balance_before, balance_after, points_before, points_after "
    "FROM waste_txns WHERE (card_id, card_counter) IN (VALUES "
)


def _pg_columns(rows: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """The rows of a transaction batch as the column arrays of _PG_INSERT_TXNS."""

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


def _one_of(col: Any, name: str, pg: bool) -> Any:
    """`col IN :name`: on PostgreSQL as `= ANY(:name)`, one fixed statement for any length
    (the driver sends the list as an array); elsewhere an expanding IN."""
    if pg:
        return col == any_(bindparam(name, type_=NullType()))
    return col.in_(bindparam(name, expanding=True))


# The upload's statements, built once: building them per call costs more than running them.
_STATION_KIND = select(Device.type).where(Device.id == bindparam("tid"))
_LOCK_CARDS = {
    pg: select(*_CARD_COLS)
    .where(_one_of(WasteCard.card_id, "ids", pg))
    .order_by(WasteCard.card_id)
    .with_for_update(skip_locked=False)
    for pg in (False, True)
}
_STORED = {
    pg: select(WasteTxn.id, WasteTxn.terminal_seq, WasteTxn.payload_hash).where(
        WasteTxn.terminal_id == bindparam("tid"), _one_of(WasteTxn.terminal_seq, "seqs", pg)
    )
    for pg in (False, True)
}
_SETTLED = select(WasteSettlement.batch_no).where(
    WasteSettlement.terminal_id == bindparam("tid"),
    WasteSettlement.batch_no.in_(bindparam("batches", expanding=True)),
)


@dataclass
class _Replay(Exception):
    index: int
    txn: sc.TxnIn
    terminal_id: str


class WasteService:
    def __init__(
        self,
        db: Database,
        city: CityProfile,
        tariffs: TariffTable | None = None,
        *,
        link_key: bytes,
    ) -> None:
        self.db = db
        self.city = city
        self.link_key = link_key  # link codes' HMAC key (card_links.card_link_key)
        self.tariffs = tariffs or TariffTable()
        self.tz = ZoneInfo(city.timezone)
        conf = city.raw.get("modules", {}).get("waste", {})
        self.department: str = str(conf.get("department", "epb"))

    # --- access ------------------------------------------------------------------------------
    def _staff(self, who: Principal, perm: Perm) -> None:
        require(who, perm)
        if not who.sees_department(self.department):
            raise Forbidden(
                f"iTrash records belong to department '{self.department}'", code="forbidden"
            )

    def _terminal(self, s: Session, terminal_id: str) -> Device:
        dev = s.get(Device, terminal_id)
        if dev is None or dev.type != STATION_TYPE:
            raise Forbidden(
                f"device '{terminal_id}' is not an iTrash station (type {STATION_TYPE})",
                code="not_a_station",
            )
        return dev

    # --- tariffs and blocklist ---------------------------------------------------------------
    def tariff_list(self) -> list[sc.TariffOut]:
        return [
            sc.TariffOut(
                effective_from=t.effective_from,
                name=t.name,
                steps=list(t.steps),
                increment_g=t.increment_g,
                per_increment=t.per_increment,
            )
            for t in sorted(self.tariffs.versions, key=lambda t: t.effective_from)
        ]

    def sign_on(self, terminal_id: str, body: sc.SignOnIn) -> sc.SignOnOut:
        with self.db.session() as s:
            dev = self._terminal(s, terminal_id)
            meta = dict(dev.meta or {})
            meta["signed_on_at"] = utcnow().isoformat()
            meta["software"] = body.software
            meta["batch_no"] = body.batch_no
            dev.meta = meta
            version = self._block_version(s)
        return sc.SignOnOut(
            terminal_id=terminal_id,
            server_time=utcnow(),
            blocklist_version=version,
            tariffs=self.tariff_list(),
        )

    @staticmethod
    def _block_version(s: Session) -> int:
        return int(s.execute(select(func.max(WasteBlock.version))).scalar() or 0)

    def blocklist(self, terminal_id: str, since: int | None) -> sc.BlocklistOut:
        with self.db.read() as s:
            self._terminal(s, terminal_id)
            version = self._block_version(s)
            if since is None:
                ids = s.execute(
                    select(WasteCard.card_id).where(WasteCard.blocked).order_by(WasteCard.card_id)
                ).scalars()
                cards = [sc.BlockEntry(card_id=c, blocked=True) for c in ids]
                return sc.BlocklistOut(version=version, full=True, cards=cards)
            rows = s.execute(
                select(WasteBlock.card_id, WasteBlock.blocked)
                .where(WasteBlock.version > since, WasteBlock.version <= version)
                .order_by(WasteBlock.version)
            ).all()
        latest = {card: blocked for card, blocked in rows}  # the newest change per card wins
        cards = [sc.BlockEntry(card_id=c, blocked=b) for c, b in sorted(latest.items())]
        return sc.BlocklistOut(version=version, full=False, cards=cards)

    # --- uploads -----------------------------------------------------------------------------
    def _check_rules(self, i: int, t: sc.TxnIn, now: datetime) -> None:
        at = f"transactions[{i}]"
        if t.occurred_at > now + CLOCK_SKEW:
            raise Invalid(
                "occurred_at is in the future; check the station clock", field=f"{at}.occurred_at"
            )
        if t.kind == "garbage":
            assert t.grams is not None and t.tariff_from is not None  # the schema checked
            day = t.occurred_at.astimezone(self.tz).date()
            try:
                tariff = self.tariffs.on(day)
                charge = tariff.charge(t.grams)
            except RuleError as exc:
                code = "invalid" if exc.field == "grams" else "tariff_gap"
                raise Invalid(
                    str(exc), field=f"{at}.{exc.field or 'occurred_at'}", code=code
                ) from None
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
        elif t.kind == "recycle":
            got = rebate(t.points_before, [item.material for item in t.items])
            if got.ntd != t.amount or got.points_left != t.points_after:
                raise Invalid(
                    f"{len(t.items)} items with {t.points_before} points carried earn "
                    f"NT${got.ntd} and leave {got.points_left} points, not NT${t.amount} and "
                    f"{t.points_after}",
                    field=f"{at}.amount",
                    code="rebate_mismatch",
                )

    def upload(self, terminal_id: str, batch: sc.TxnBatchIn) -> sc.TxnBatchOut:
        now = utcnow()
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
        for i, t in enumerate(txns):
            if first_in_batch[t.terminal_seq] == i:
                self._check_rules(i, t, now)
        for _attempt in range(5):
            try:
                return self._store(terminal_id, txns, dumped, hashes, first_in_batch, now)
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

    def _store(
        self,
        terminal_id: str,
        txns: Sequence[sc.TxnIn],
        dumped: list[dict[str, Any]],
        hashes: list[str],
        first_in_batch: dict[int, int],
        now: datetime,
    ) -> sc.TxnBatchOut:
        # Core statements, not ORM objects: this is the hot path of every station, and the
        # whole batch costs a fixed handful of round trips whatever its size.
        with self.db.session() as s:
            conn = s.connection()  # plain Core: no ORM bookkeeping per statement
            kind = conn.execute(_STATION_KIND, {"tid": terminal_id}).scalar()
            if kind != STATION_TYPE:
                self._terminal(s, terminal_id)  # raises the readable error
            # Lock the cards first (in one order, so two uploads cannot deadlock): everything
            # below, including which transactions are already stored, is then decided with
            # no other upload touching these cards in between.
            pg = self.db.dialect == "postgresql"
            card_ids = sorted({t.card_id for t in txns})
            cards = {
                r.card_id: _Card(**r._mapping)
                for r in conn.execute(_LOCK_CARDS[pg], {"ids": card_ids})
            }
            stored = {
                row.terminal_seq: (row.id, row.payload_hash)
                for row in conn.execute(
                    _STORED[pg], {"tid": terminal_id, "seqs": sorted(first_in_batch)}
                )
            }
            for i, t in enumerate(txns):
                old = stored.get(t.terminal_seq)
                if old is not None and old[1] != hashes[i]:
                    raise Conflict(
                        f"transaction {t.terminal_seq} of {terminal_id} was stored with "
                        "different content",
                        field=f"transactions[{i}]",
                        code="payload_differs",
                    )
            new = [
                (i, t)
                for i, t in enumerate(txns)
                if first_in_batch[t.terminal_seq] == i and t.terminal_seq not in stored
            ]
            for i, t in new:
                if t.card_id not in cards:
                    raise Invalid(
                        f"card {t.card_id} is not in the card registry",
                        field=f"transactions[{i}].card_id",
                        code="unknown_card",
                    )
            neighbours = self._neighbours(conn, [t for _, t in new], pg)
            rows: list[dict[str, Any]] = []
            for i, t in new:
                card = cards[t.card_id]
                if (
                    card.blocked
                    and card.blocked_at is not None
                    and t.occurred_at >= card.blocked_at
                ):
                    raise Conflict(
                        f"card {t.card_id} was blocked at {card.blocked_at.isoformat()}",
                        field=f"transactions[{i}].card_id",
                        code="card_blocked",
                    )
                key = (t.card_id, t.card_counter)
                if key in neighbours or t.card_counter <= card.opening_counter:
                    raise _Replay(i, t, terminal_id)
                neighbours[key] = (
                    t.balance_before,
                    t.balance_after,
                    t.points_before,
                    t.points_after,
                )
                rows.append(
                    {
                        "terminal_id": terminal_id,
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
                        "items": dumped[i]["items"],
                        "rejected": dumped[i]["rejected"],
                        "occurred_at": t.occurred_at,
                        "received_at": now,
                        "payload_hash": hashes[i],
                        # Only a hash: nobody reading the database can link the card.
                        "link_code_hash": None
                        if t.link_code is None
                        else code_hash(self.link_key, t.card_id, t.link_code),
                    }
                )
            ids: dict[int, int] = {}
            if rows:
                if pg:
                    inserted = conn.execute(_PG_INSERT_TXNS, _pg_columns(rows, now))
                    ids = {r.terminal_seq: r.id for r in inserted}
                else:
                    # SQLite: this unit of work holds the database's only write lock (BEGIN
                    # IMMEDIATE), so the next ids are simply the ones after the highest.
                    top = conn.execute(select(func.max(_TXNS.c.id))).scalar() or 0
                    for n, row in enumerate(rows, start=top + 1):
                        row["id"] = n
                        ids[row["terminal_seq"]] = n
                    bulk_insert(conn, _TXNS, rows)
                postings = [
                    {
                        "txn_id": ids[t.terminal_seq],
                        "card_id": t.card_id if account == CARD_VALUE else None,
                        "account": account,
                        "amount": amount,
                        "created_at": now,
                    }
                    for _, t in new
                    for account, amount in postings_for(t.kind, t.amount)
                ]
                bulk_insert(conn, _POSTINGS, postings)
                breaks: list[tuple[sc.TxnIn, str, str]] = []
                for _, t in new:
                    card = cards[t.card_id]
                    card.txn_count += 1
                    if t.card_counter > card.counter:
                        card.counter = t.card_counter
                        card.balance = t.balance_after
                        card.points = t.points_after
                    if card.last_txn_at is None or t.occurred_at > card.last_txn_at:
                        card.last_txn_at = t.occurred_at
                    breaks += [(t, p, d) for p, d in self._chain_breaks(card, t, neighbours)]
                touched = sorted({t.card_id for _, t in new})
                conn.execute(
                    _CARD_MIRROR,
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
                for t, problem, detail in breaks:
                    orm_card = s.get(WasteCard, t.card_id)
                    assert orm_card is not None
                    self._flag(
                        s, orm_card, t.card_counter, problem, detail, terminal_id, t.terminal_seq
                    )
                    cards[t.card_id].flagged = True
                batches = sorted({t.batch_no for _, t in new})
                settled_nos = conn.execute(
                    _SETTLED, {"tid": terminal_id, "batches": batches}
                ).scalars()
                for batch_no in settled_nos.all():
                    settled = s.get(WasteSettlement, (terminal_id, batch_no))
                    assert settled is not None
                    self._check_settlement(s, settled)
                events.emit(
                    s,
                    "waste.transactions",
                    {
                        "terminal_id": terminal_id,
                        "count": len(new),
                        "charged": sum(-t.amount for _, t in new if t.amount < 0),
                        "rebated": sum(t.amount for _, t in new if t.amount > 0),
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
                            for _, t in new[-10:]
                        ],
                    },
                    self.department,
                )
            results = []
            for i, t in enumerate(txns):
                if t.terminal_seq in stored:
                    txn_id, status = stored[t.terminal_seq][0], "duplicate"
                else:
                    txn_id = ids[t.terminal_seq]
                    status = "stored" if first_in_batch[t.terminal_seq] == i else "duplicate"
                results.append(
                    sc.TxnResult(
                        terminal_seq=t.terminal_seq,
                        status=status,
                        txn_id=txn_id,
                        card_flagged=cards[t.card_id].flagged if t.card_id in cards else False,
                    )
                )
        return sc.TxnBatchOut(results=results)

    @staticmethod
    def _neighbours(
        s: Session | Connection, txns: Sequence[sc.TxnIn], pg: bool = False
    ) -> dict[tuple[str, int], tuple[int, int, int, int]]:
        """Stored records at, just before and just after each new transaction's counter."""
        wanted = {(t.card_id, t.card_counter + d) for t in txns for d in (-1, 0, 1)}
        if not wanted:
            return {}
        if pg:
            keys = sorted(wanted)
            got = s.execute(
                _PG_NEIGHBOURS,
                {"card_id": [k[0] for k in keys], "counter": [k[1] for k in keys]},
            ).all()
            return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in got}
        if isinstance(s, Connection) and s.dialect.name == "sqlite":
            keys = sorted(wanted)
            got = s.exec_driver_sql(
                _SQLITE_NEIGHBOURS + ", ".join(["(?, ?)"] * len(keys)) + ")",
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

    @staticmethod
    def _chain_breaks(
        card: _Card, t: sc.TxnIn, known: dict[tuple[str, int], tuple[int, int, int, int]]
    ) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        prev_c = t.card_counter - 1
        if prev_c == card.opening_counter:
            prev: tuple[int, int, int, int] | None = (
                card.opening_balance,
                card.opening_balance,
                card.opening_points,
                card.opening_points,
            )
        else:
            prev = known.get((t.card_id, prev_c))
        if prev is not None and (prev[1] != t.balance_before or prev[3] != t.points_before):
            found.append(
                (
                    "balance_break",
                    f"counter {t.card_counter} starts at NT${t.balance_before} "
                    f"({t.points_before} pts); counter {prev_c} ended at NT${prev[1]} "
                    f"({prev[3]} pts)",
                )
            )
        nxt = known.get((t.card_id, t.card_counter + 1))
        if nxt is not None and (nxt[0] != t.balance_after or nxt[2] != t.points_after):
            found.append(
                (
                    "balance_break",
                    f"counter {t.card_counter} ends at NT${t.balance_after} "
                    f"({t.points_after} pts); counter {t.card_counter + 1} starts at "
                    f"NT${nxt[0]} ({nxt[2]} pts)",
                )
            )
        return found

    def _flag(
        self,
        s: Session,
        card: WasteCard,
        counter: int,
        problem: str,
        detail: str,
        terminal_id: str | None,
        terminal_seq: int | None,
        block: bool = True,
    ) -> None:
        """Record a break on a card. Evidence of a clone or a forged card (a reused counter,
        a balance that does not follow) also blocks it; a counter that never arrived only
        flags it for review, because far more often than a clone it is a write the station
        could not confirm (the card pulled mid-write and never brought back)."""
        s.add(
            WasteCardFlag(
                card_id=card.card_id,
                counter=counter,
                problem=problem,
                detail=detail,
                terminal_id=terminal_id,
                terminal_seq=terminal_seq,
            )
        )
        first = not card.flagged
        card.flagged = True
        if block and not card.blocked:
            self._set_block(s, card, True, f"{problem}: {detail}", RECONCILER)
        if first:
            audit.append(
                s,
                actor=RECONCILER,
                action="waste.card.flag",
                target=card.card_id,
                outcome="flagged",
                detail={"problem": problem, "detail": detail, "counter": counter},
            )
            events.emit(
                s,
                "waste.card_flagged",
                {"card_id": card.card_id, "problem": problem, "detail": detail},
                self.department,
            )

    def _set_block(
        self, s: Session, card: WasteCard, blocked: bool, reason: str, actor: str
    ) -> WasteBlock:
        card.blocked = blocked
        card.blocked_at = utcnow() if blocked else None
        entry = WasteBlock(card_id=card.card_id, blocked=blocked, reason=reason, actor=actor)
        s.add(entry)
        s.flush()
        return entry

    def _flag_replay(self, r: _Replay) -> None:
        with self.db.session() as s:
            card = s.get(WasteCard, r.txn.card_id)
            if card is None:
                return
            self._flag(
                s,
                card,
                r.txn.card_counter,
                "counter_replay",
                f"{r.terminal_id} #{r.txn.terminal_seq} reused counter {r.txn.card_counter} "
                f"(NT${r.txn.balance_before} → NT${r.txn.balance_after})",
                r.terminal_id,
                r.txn.terminal_seq,
            )

    def reconcile_gaps(self, now: datetime | None = None, grace: timedelta = GAP_GRACE) -> int:
        """Flag cards whose missing counters have stayed missing past the grace period (an
        upload that never came, or a card written by something that is not a station)."""
        now = now or utcnow()
        self.recover_unconfirmed()
        flagged = 0
        with self.db.session() as s:
            cards = (
                s.execute(
                    select(WasteCard).where(
                        WasteCard.counter - WasteCard.opening_counter > WasteCard.txn_count
                    )
                )
                .scalars()
                .all()
            )
            for card in cards:
                rows = s.execute(
                    select(WasteTxn.card_counter, WasteTxn.occurred_at, WasteTxn.received_at)
                    .where(WasteTxn.card_id == card.card_id)
                    .order_by(WasteTxn.card_counter)
                ).all()
                expected = card.opening_counter + 1
                known = {
                    (f.counter, f.problem)
                    for f in s.execute(
                        select(WasteCardFlag).where(WasteCardFlag.card_id == card.card_id)
                    ).scalars()
                }
                for counter, _occurred, received in rows:
                    if counter > expected and now - received > grace:
                        for missing in range(expected, counter):
                            if (missing, "missing") not in known:
                                self._flag(
                                    s,
                                    card,
                                    missing,
                                    "missing",
                                    f"no station uploaded counter {missing} within "
                                    f"{grace.days} days",
                                    None,
                                    None,
                                    block=False,
                                )
                                flagged += 1
                    expected = counter + 1
        return flagged

    def card_state(self, card_id: str) -> tuple[int, int, int] | None:
        """The mirror of a card: (balance, counter, points) of its newest record."""
        with self.db.read() as s:
            c = s.get(WasteCard, card_id)
            return None if c is None else (c.balance, c.counter, c.points)

    # --- writes a station could not confirm ---------------------------------------------------
    def report_unconfirmed(
        self, terminal_id: str, batch: sc.UnconfirmedBatchIn
    ) -> sc.UnconfirmedBatchOut:
        """Keep what the station meant to write; if the card's chain already shows the write,
        it becomes a transaction at once."""
        seqs = [w.terminal_seq for w in batch.writes]
        if len(set(seqs)) != len(seqs):
            raise Invalid("a terminal_seq appears twice", field="writes")
        with self.db.session() as s:
            self._terminal(s, terminal_id)
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
        self.recover_unconfirmed({w.card_id for w in batch.writes})
        with self.db.read() as s:
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

    def recover_unconfirmed(self, card_ids: set[str] | None = None) -> int:
        """Fill a card's missing counter with an unconfirmed write when the records on both
        sides of the gap show exactly that write: the balance moved by its amount and the
        points landed where it said. Returns how many were recovered."""
        recovered = 0
        with self.db.session() as s:
            q = select(WasteUnconfirmed).where(WasteUnconfirmed.status == "open")
            if card_ids is not None:
                q = q.where(WasteUnconfirmed.card_id.in_(sorted(card_ids)))
            pending: dict[str, list[WasteUnconfirmed]] = {}
            for u in s.execute(q.order_by(WasteUnconfirmed.occurred_at)).scalars():
                pending.setdefault(u.card_id, []).append(u)
            now = utcnow()
            for card_id, writes in sorted(pending.items()):
                lock = select(WasteCard).where(WasteCard.card_id == card_id)
                if self.db.dialect == "postgresql":
                    lock = lock.with_for_update()
                card = s.execute(lock).scalar_one()
                chain = {
                    r.card_counter: (
                        r.balance_before,
                        r.balance_after,
                        r.points_before,
                        r.points_after,
                    )
                    for r in s.execute(
                        select(
                            WasteTxn.card_counter,
                            WasteTxn.balance_before,
                            WasteTxn.balance_after,
                            WasteTxn.points_before,
                            WasteTxn.points_after,
                        ).where(WasteTxn.card_id == card_id)
                    )
                }
                chain[card.opening_counter] = (
                    card.opening_balance,
                    card.opening_balance,
                    card.opening_points,
                    card.opening_points,
                )
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
                    u = match[0]  # the oldest; equal writes are equal money
                    row = WasteTxn(
                        terminal_id=u.terminal_id,
                        terminal_seq=u.terminal_seq,
                        batch_no=u.batch_no,
                        kind=u.kind,
                        card_id=card_id,
                        card_counter=c,
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
                                card_id=card_id if account == CARD_VALUE else None,
                                account=account,
                                amount=amount,
                                created_at=now,
                            )
                        )
                    card.txn_count += 1
                    u.status = "recovered"
                    u.txn_id = row.id
                    chain[c] = (before[1], after[0], before[3], after[2])
                    recovered += 1
                    audit.append(
                        s,
                        actor=RECONCILER,
                        action="waste.txn.recover",
                        target=card_id,
                        detail={
                            "terminal_id": u.terminal_id,
                            "terminal_seq": u.terminal_seq,
                            "counter": c,
                            "amount": u.amount,
                        },
                    )
            if recovered:
                events.emit(s, "waste.recovered", {"count": recovered}, self.department)
        return recovered

    # --- settlement --------------------------------------------------------------------------
    def settle(self, terminal_id: str, body: sc.SettlementIn) -> sc.SettlementOut:
        h = _hash(body.model_dump(mode="json"))
        with self.db.session() as s:
            self._terminal(s, terminal_id)
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
            self._check_settlement(s, row)
            s.flush()
            return self._settlement_out(row)

    def _check_settlement(self, s: Session, row: WasteSettlement) -> None:
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
        # Each difference keeps its figures (pages translate them) and an English sentence.
        diffs: list[dict[str, Any]] = []
        if count != row.count:
            diffs.append(
                {
                    "code": "count",
                    "station": row.count,
                    "server": int(count),
                    "text": f"the station counted {row.count} transactions, the server has {count}",
                }
            )
        if debit != row.debit_total:
            diffs.append(
                {
                    "code": "charged",
                    "station": row.debit_total,
                    "server": int(debit),
                    "text": f"charged: station NT${row.debit_total}, server NT${debit}",
                }
            )
        if credit != row.credit_total:
            diffs.append(
                {
                    "code": "rebated",
                    "station": row.credit_total,
                    "server": int(credit),
                    "text": f"rebated: station NT${row.credit_total}, server NT${credit}",
                }
            )
        if row.first_seq is not None and row.last_seq is not None and count != row.count:
            have = set(
                s.execute(
                    select(WasteTxn.terminal_seq).where(
                        where, WasteTxn.terminal_seq.between(row.first_seq, row.last_seq)
                    )
                ).scalars()
            )
            missing = [q for q in range(row.first_seq, row.last_seq + 1) if q not in have]
            if missing and len(missing) <= row.last_seq - row.first_seq + 1:
                shown = ", ".join(str(q) for q in missing[:20])
                more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
                diffs.append(
                    {
                        "code": "missing",
                        "seqs": missing[:20],
                        "more": max(0, len(missing) - 20),
                        "text": f"not uploaded yet: {shown}{more}",
                    }
                )
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
                self.department,
            )

    @staticmethod
    def _settlement_out(row: WasteSettlement) -> sc.SettlementOut:
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

    # --- operators ---------------------------------------------------------------------------
    def issue_cards(self, who: Principal, body: sc.CardIssueBatchIn, source: str) -> sc.IssueOut:
        self._staff(who, Perm.WASTE_MANAGE)
        ids = [c.card_id for c in body.cards]
        if len(set(ids)) != len(ids):
            raise Invalid("a card appears twice in the list", field="cards")
        return self.issue(body.cards, actor=who.username, source=source)

    def issue(self, cards: Sequence[sc.CardIssueIn], actor: str, source: str = "") -> sc.IssueOut:
        """Enter cards into the registry with their present state. A card already there is
        left as it is (issuing is idempotent)."""
        issued = already = 0
        with self.db.session() as s:
            have = set(
                s.execute(
                    select(WasteCard.card_id).where(
                        WasteCard.card_id.in_([c.card_id for c in cards])
                    )
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
        self._staff(who, Perm.WASTE_MANAGE)
        with self.db.session() as s:
            card = s.get(WasteCard, card_id)
            if card is None:
                raise NotFound(f"no card {card_id}")
            if card.blocked == blocked:
                raise Conflict(
                    f"card {card_id} is already {'blocked' if blocked else 'not blocked'}",
                    code="no_change",
                )
            entry = self._set_block(s, card, blocked, reason, who.username)
            if not blocked:
                card.flagged = False  # an operator investigated and cleared it
            events.emit(
                s,
                "waste.card_blocked" if blocked else "waste.card_unblocked",
                {"card_id": card_id, "reason": reason, "actor": who.username},
                self.department,
            )
            audit.append(
                s,
                actor=who.username,
                action="waste.card.block" if blocked else "waste.card.unblock",
                target=card_id,
                source=source,
                detail={"reason": reason},
            )
            return self._block_out(entry)

    @staticmethod
    def _block_out(b: WasteBlock) -> sc.BlockOut:
        return sc.BlockOut(
            version=b.version,
            card_id=b.card_id,
            blocked=b.blocked,
            reason=b.reason,
            actor=b.actor,
            at=b.at,
        )

    def blocklist_page(self, who: Principal) -> sc.BlockPage:
        self._staff(who, Perm.WASTE_READ)
        with self.db.read() as s:
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
            version = self._block_version(s)
        return sc.BlockPage(
            version=version,
            blocked=[self._block_out(b) for b in now_blocked],
            history=[self._block_out(b) for b in history],
        )

    @staticmethod
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
        self._staff(who, Perm.WASTE_READ)
        q = select(WasteTxn).order_by(WasteTxn.id.desc()).limit(limit + 1)
        if card_id:
            q = q.where(WasteTxn.card_id == card_id)
        if terminal_id:
            q = q.where(WasteTxn.terminal_id == terminal_id)
        if kind:
            q = q.where(WasteTxn.kind == kind)
        if day:
            start = datetime(day.year, day.month, day.day, tzinfo=self.tz)
            q = q.where(WasteTxn.occurred_at >= start, WasteTxn.occurred_at < start + timedelta(1))
        if cursor:
            q = q.where(WasteTxn.id < cursor)
        with self.db.read() as s:
            rows = list(s.execute(q).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        return sc.TxnPage(
            items=[self.txn_out(r) for r in rows],
            next_cursor=str(rows[-1].id) if more and rows else None,
        )

    @staticmethod
    def _card_out(c: WasteCard) -> sc.CardOut:
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

    def cards(
        self,
        who: Principal,
        *,
        q: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> sc.CardPage:
        self._staff(who, Perm.WASTE_READ)
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
        with self.db.read() as s:
            rows = list(s.execute(stmt).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        return sc.CardPage(
            items=[self._card_out(c) for c in rows],
            next_cursor=rows[-1].card_id if more and rows else None,
        )

    def card(self, who: Principal, card_id: str) -> sc.CardDetail:
        self._staff(who, Perm.WASTE_READ)
        with self.db.read() as s:
            c = s.get(WasteCard, card_id)
            if c is None:
                raise NotFound(f"no card {card_id}")
            return self._card_detail(s, c)

    def _card_detail(self, s: Session, c: WasteCard, history: int = 200) -> sc.CardDetail:
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
        base = self._card_out(c)
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
            history=[self.txn_out(r) for r in rows],
            rebate_ntd=int(rebated),
            charged_ntd=int(charged),
        )

    def settlements(
        self, who: Principal, *, status: str | None = None, terminal_id: str | None = None
    ) -> sc.SettlementPage:
        self._staff(who, Perm.WASTE_READ)
        q = select(WasteSettlement).order_by(WasteSettlement.closed_at.desc()).limit(500)
        if status:
            q = q.where(WasteSettlement.status == status)
        if terminal_id:
            q = q.where(WasteSettlement.terminal_id == terminal_id)
        with self.db.read() as s:
            return sc.SettlementPage(
                items=[self._settlement_out(r) for r in s.execute(q).scalars()]
            )

    def ledger(self, who: Principal) -> sc.LedgerOut:
        self._staff(who, Perm.WASTE_READ)
        return self.ledger_totals()

    def ledger_totals(self) -> sc.LedgerOut:
        with self.db.read() as s:
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
        self._staff(who, Perm.WASTE_READ)
        start = clock.now().astimezone(self.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        with self.db.read() as s:
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

    # --- citizens ----------------------------------------------------------------------------
    def register_card(self, who: Principal, body: sc.RegisterCardIn, source: str) -> sc.CardDetail:
        """Link a card with the link code a station showed and printed (waste/card_links.py)."""
        return self._links().link(who, body, source)

    def card_notices(self, who: Principal) -> list[sc.CardNoticeOut]:
        return self._links().notices(who)

    def _links(self) -> CardLinks:
        return CardLinks(self.db, self.department, self._card_detail, self.link_key)

    def detach_card(self, who: Principal, card_id: str, reason: str, source: str) -> None:
        """Staff release a card from its account (those who block lost cards)."""
        self._staff(who, Perm.WASTE_MANAGE)
        self._links().detach(who, card_id, reason, source)

    def my_cards(self, who: Principal) -> list[sc.CardDetail]:
        require(who, Perm.OWN_CARDS)
        with self.db.read() as s:
            cards = s.execute(
                select(WasteCard)
                .where(WasteCard.owner_user_id == who.user_id)
                .order_by(WasteCard.card_id)
            ).scalars()
            return [self._card_detail(s, c, history=100) for c in cards]

    def unregister_card(self, who: Principal, card_id: str, source: str) -> None:
        self._links().unlink(who, card_id, source)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
