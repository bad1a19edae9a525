"""The ingest's reads and writes of readings, epochs and delivery accounts, on SQLite and
PostgreSQL. The caller holds its devices' rows locked (or SQLite's write lock), so what is
read here cannot change before the writes of the same transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from onecity.core.devices.epochs import Epoch, Stored
from onecity.core.models import DeliveryAccount, DeliveryEpoch, Reading

# A message may join one of its device's last 16 epochs, not older ones, and only those are
# kept: a device whose every message jumps (one counting in milliseconds) opens an epoch per
# message, and its table must not grow with them. Readings of a dropped epoch stay; a resend
# of one is still recognised by its time and values (its boot is no longer known).
RECENT_EPOCHS = 16
_ACCOUNT = (
    "device_id",
    "received",
    "duplicates",
    "readings",
    "rejected",
    "span",
    "restarts",
    "conflicts",
    "min_seq",
    "max_seq",
    "epoch",
)


@dataclass
class AccountDelta:
    """What one batch adds to a device's account; the range and epoch are the current
    epoch's after the batch (None: unchanged)."""

    received: int = 0
    duplicates: int = 0
    readings: int = 0
    rejected: int = 0
    span: int = 0
    restarts: int = 0
    conflicts: int = 0
    min_seq: int | None = None
    max_seq: int | None = None
    epoch: int | None = None

    def row(self, device_id: str) -> tuple[Any, ...]:
        return (
            device_id,
            self.received,
            self.duplicates,
            self.readings,
            self.rejected,
            self.span,
            self.restarts,
            self.conflicts,
            self.min_seq,
            self.max_seq,
            self.epoch,
        )


def recent_epochs(s: Session, devices: Iterable[str]) -> dict[str, dict[int, Epoch]]:
    """Each device's most recent epochs, by number (the newest is always among them)."""
    out: dict[str, dict[int, Epoch]] = defaultdict(dict)
    e, x = DeliveryEpoch, aliased(DeliveryEpoch)
    newest = select(func.max(x.epoch)).where(x.device_id == e.device_id).scalar_subquery()
    rows = s.execute(
        select(e.device_id, e.epoch, e.boot, e.received, e.min_seq, e.max_seq).where(
            e.device_id.in_(list(devices)), e.epoch > newest - RECENT_EPOCHS
        )
    ).tuples()
    for dev, n, boot, received, lo, hi in rows:
        out[dev][n] = Epoch(n, boot, lo, hi, received, old_span=hi - lo + 1)
    return out


def stored_messages(
    s: Session, pg: bool, seqs: Mapping[str, Sequence[int]]
) -> dict[str, dict[int, list[Stored]]]:
    """What is stored, in any epoch, under the given (device, seq)s, with the epoch's boot."""
    rows: list[tuple[str, int, int, int | None, bool, str, int, float]] = []
    if pg:
        pairs = [(d, q) for d, qs in seqs.items() for q in qs]
        rows = [
            (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
            for r in s.connection().exec_driver_sql(
                "SELECT r.device_id, r.seq, r.epoch, e.boot, e.epoch IS NOT NULL, "
                "r.key, r.ts_ms, r.value "
                "FROM readings r JOIN unnest(%b::text[], %s::bigint[]) AS q(d, seq) "
                "  ON r.device_id = q.d AND r.seq = q.seq "
                "LEFT JOIN delivery_epochs e ON e.device_id = r.device_id AND e.epoch = r.epoch",
                ([p[0] for p in pairs], _literal([p[1] for p in pairs])),
            )
        ]
    else:
        r, e = Reading, DeliveryEpoch
        has_epoch = e.epoch.is_not(None)
        cols = (r.device_id, r.seq, r.epoch, e.boot, has_epoch, r.key, r.ts_ms, r.value)
        on = (e.device_id == r.device_id) & (e.epoch == r.epoch)
        for d, qs in seqs.items():
            for i in range(0, len(qs), 500):
                part = list(set(qs[i : i + 500]))
                q = select(*cols).outerjoin(e, on).where(r.device_id == d, r.seq.in_(part))
                rows.extend(s.execute(q).tuples())
    msgs: dict[tuple[str, int, int], tuple[int | None, bool, int, dict[str, float]]] = {}
    for dev, seq, epoch, boot, known, key, ts, value in rows:
        msgs.setdefault((dev, seq, epoch), (boot, bool(known), ts, {}))[3][key] = value
    out: dict[str, dict[int, list[Stored]]] = defaultdict(dict)
    for (dev, seq, epoch), (boot, known, ts, values) in msgs.items():
        out[dev].setdefault(seq, []).append(Stored(epoch, boot, ts, values, boot_known=known))
    return out


def insert_readings(
    s: Session, pg: bool, rows: Sequence[tuple[str, int, int, int, Sequence[tuple[str, float]]]]
) -> None:
    """Insert new messages: (device, seq, epoch, ts_ms, values). No ON CONFLICT: the caller
    decided they are new, and a clash would be a bug to hear about, not data to drop."""
    if pg:
        # One row per message and one per reading (pointing at its message): fewer values to
        # send than one full row per reading. Numbers go as array literals, which PostgreSQL
        # parses in C, instead of element-by-element binary dumping in Python.
        s.connection().exec_driver_sql(
            "INSERT INTO readings (device_id, seq, epoch, key, ts_ms, value) "
            "SELECT m.d, m.seq, m.epoch, r.key, m.ts, r.value "
            "FROM unnest(%b::text[], %s::bigint[], %s::int[], %s::bigint[]) "
            "  WITH ORDINALITY AS m(d, seq, epoch, ts, i) "
            "JOIN unnest(%s::int[], %b::text[], %s::float8[]) AS r(m, key, value) ON r.m = m.i",
            (
                [r[0] for r in rows],
                _literal([r[1] for r in rows]),
                _literal([r[2] for r in rows]),
                _literal([r[3] for r in rows]),
                _literal([i for i, r in enumerate(rows, 1) for _ in r[4]]),
                [k for r in rows for k, _ in r[4]],
                _literal([v for r in rows for _, v in r[4]]),
            ),
        )
        return
    s.execute(
        insert(Reading),
        [
            {"device_id": d, "seq": q, "epoch": e, "key": k, "ts_ms": ts, "value": v}
            for d, q, e, ts, values in rows
            for k, v in values
        ],
    )


def save_epochs(s: Session, epochs: Mapping[str, Iterable[Epoch]]) -> None:
    """Insert the epochs opened in this batch and update the others that received messages."""
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for dev in sorted(epochs):
        for e in epochs[dev]:
            row = {
                "device_id": dev,
                "epoch": e.n,
                "received": e.received,
                "min_seq": e.min_seq,
                "max_seq": e.max_seq,
            }
            if e.new:
                new.append({**row, "boot": e.boot})
            else:
                changed.append(row)
    if new:
        s.execute(insert(DeliveryEpoch), new)
    if changed:
        s.execute(update(DeliveryEpoch), changed)


def drop_old_epochs(s: Session, newest: Mapping[str, int]) -> None:
    """Delete each device's epochs older than its last RECENT_EPOCHS (given its newest)."""
    if not newest:
        return
    t = DeliveryEpoch
    stmt = delete(t).where(t.device_id == bindparam("d"), t.epoch <= bindparam("n"))
    s.connection().execute(stmt, [{"d": d, "n": n - RECENT_EPOCHS} for d, n in newest.items()])


def update_accounts(s: Session, pg: bool, deltas: Mapping[str, AccountDelta]) -> None:
    """Add each device's delta to its account (created on first use). Sorted, so two
    concurrent batches lock account rows in the same order."""
    rows = [deltas[d].row(d) for d in sorted(deltas)]
    if not rows:
        return
    if pg:
        cols = tuple(list(c) for c in zip(*rows, strict=True))
        s.connection().exec_driver_sql(
            "INSERT INTO delivery_accounts AS t (device_id, received, duplicates, readings, "
            "rejected, span, restarts, conflicts, min_seq, max_seq, epoch) "
            "SELECT * FROM unnest(%b::text[], %b::bigint[], %b::bigint[], %b::bigint[], "
            "%b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], "
            "%b::bigint[], %b::int[]) "
            "ON CONFLICT (device_id) DO UPDATE SET "
            "received = t.received + excluded.received, "
            "duplicates = t.duplicates + excluded.duplicates, "
            "readings = t.readings + excluded.readings, "
            "rejected = t.rejected + excluded.rejected, "
            "span = t.span + excluded.span, "
            "restarts = t.restarts + excluded.restarts, "
            "conflicts = t.conflicts + excluded.conflicts, "
            "min_seq = COALESCE(excluded.min_seq, t.min_seq), "
            "max_seq = COALESCE(excluded.max_seq, t.max_seq), "
            "epoch = COALESCE(excluded.epoch, t.epoch)",
            cols,
        )
        return
    ins = sqlite_insert(DeliveryAccount)
    t = DeliveryAccount
    added = ("received", "duplicates", "readings", "rejected", "span", "restarts", "conflicts")
    set_: dict[str, Any] = {c: getattr(t, c) + getattr(ins.excluded, c) for c in added}
    for c in ("min_seq", "max_seq", "epoch"):
        set_[c] = func.coalesce(getattr(ins.excluded, c), getattr(t, c))
    stmt = ins.on_conflict_do_update(index_elements=["device_id"], set_=set_)
    s.execute(stmt, [dict(zip(_ACCOUNT, row, strict=True)) for row in rows])


def _literal(numbers: Sequence[int] | Sequence[float]) -> str:
    """A PostgreSQL array literal of numbers (repr of a finite float round-trips exactly)."""
    return "{" + ",".join(map(repr, numbers)) + "}"
