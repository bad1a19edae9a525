"""Telemetry ingest: each reading stored exactly once, delivery accounts kept per device.

Both entry points (HTTP batches and MQTT) end in `Ingester.write`, one transaction per batch:
readings inserted with the (device, seq, key) key deciding what is new, accounts incremented,
liveness refreshed, rules evaluated and events emitted. A batch that fails writes nothing, so
an MQTT message is acknowledged to the broker only after its batch committed.

A domain module may hook a device type (`TelemetryHook`): its `validate` screens each message
of such a device before anything is written, and its `apply` sees the batch's new messages of
that type inside the same transaction, after the readings are inserted. Devices of types
without a hook never reach either.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from onecity.core import alerts, clock, events
from onecity.core.db import Database, utcnow
from onecity.core.devices.schemas import TelemetryMessage
from onecity.core.errors import Invalid
from onecity.core.models import DeliveryAccount, Device, Reading
from onecity.settings import Settings

_RULE_TTL_S = 10.0
_NO_SEQ = 2**63  # above any valid sequence number
# The limits of TelemetryMessage (schemas.py), for the plain-message fast path.
_FIELDS = frozenset(("seq", "ts", "values"))
_MAX_SEQ, _MAX_TS = 2**63 - 1, 2**53
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_good_keys: set[str] = set()  # keys already matched against _KEY (devices repeat theirs)
_ACCOUNT = ("device_id", "received", "duplicates", "readings", "rejected", "min_seq", "max_seq")


@dataclass(frozen=True)
class Msg:
    device_id: str
    seq: int
    ts_ms: int
    values: tuple[tuple[str, float], ...]


@dataclass
class Outcome:
    accepted: int = 0
    duplicates: int = 0
    readings: int = 0
    unknown_devices: set[str] = field(default_factory=set)
    rejected: int = 0  # refused by a device type's hook (counted on the device's account)


@dataclass(frozen=True)
class HookItem:
    """One new message of a hooked device, as its module sees it."""

    device_id: str
    department: str
    seq: int
    ts: datetime  # aware, UTC
    values: dict[str, float]


@dataclass(frozen=True)
class TelemetryHook:
    """What a module does with the telemetry of one device type.

    `validate(values)` names what cannot be true in one message: (value key, sentence), or
    None. `apply(session, items)` runs in the ingest's transaction with the batch's new
    messages of the type, oldest first; raising rolls the whole batch back."""

    apply: Callable[[Session, list[HookItem]], None]
    validate: Callable[[Mapping[str, float]], tuple[str, str] | None] | None = None


def to_ms(ts: datetime | int) -> int:
    if isinstance(ts, int):
        return ts
    if ts.tzinfo is None:
        raise Invalid("timestamp needs a time zone (e.g. 'Z' or '+08:00')", field="ts")
    return int(ts.timestamp() * 1000)


def check_time(ts_ms: int, now_ms: int, settings: Settings, where: str) -> None:
    if ts_ms > now_ms + settings.telemetry_future_skew_s * 1000:
        raise Invalid(
            f"timestamp is in the future (more than {settings.telemetry_future_skew_s} s "
            "ahead of the server clock); check the device clock",
            field=where,
            code="future_timestamp",
        )
    if ts_ms < now_ms - settings.telemetry_max_age_days * 86_400_000:
        raise Invalid(
            f"timestamp is older than {settings.telemetry_max_age_days} days",
            field=where,
            code="ancient_timestamp",
        )


def _pairs(values: dict[str, float | bool]) -> tuple[tuple[str, float], ...]:
    # zip/map run in C: this is per message on the hot path (bools become 0.0/1.0).
    return tuple(zip(values, map(float, values.values()), strict=True))


def _plain(raw: bytes | bytearray) -> tuple[int, int, tuple[tuple[str, float], ...]] | None:
    """(seq, ts_ms, values) of a message in the plain form almost every device sends (integer
    seq and epoch-ms ts, finite number or boolean values), checked against the same limits as
    TelemetryMessage at a third of pydantic's cost. None means: let pydantic decide."""
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(d) is not dict or d.keys() != _FIELDS:
        return None
    seq, ts, values = d["seq"], d["ts"], d["values"]
    if type(seq) is not int or type(ts) is not int or type(values) is not dict:
        return None
    if not (0 <= seq <= _MAX_SEQ and 0 <= ts <= _MAX_TS and 1 <= len(values) <= 100):
        return None
    for k, v in values.items():
        if k not in _good_keys:
            if not _KEY.fullmatch(k):
                return None
            if len(_good_keys) < 10_000:
                _good_keys.add(k)
        t = type(v)
        if not (t is bool or t is int or (t is float and math.isfinite(v))):
            return None
    return seq, ts, _pairs(values)


def msg_from_json(device_id: str, raw: bytes | bytearray, now_ms: int, settings: Settings) -> Msg:
    """One MQTT payload. Raises pydantic's ValidationError or Invalid if it cannot be stored."""
    plain = _plain(raw)
    if plain is None:
        m = TelemetryMessage.model_validate_json(raw)
        plain = (m.seq, to_ms(m.ts), _pairs(m.values))
    check_time(plain[1], now_ms, settings, "ts")
    return Msg(device_id, *plain)


def to_msgs(device_id: str, messages: list[TelemetryMessage], settings: Settings) -> list[Msg]:
    """Validate a device's batch as a whole; raise on the first bad message (nothing stored)."""
    if len(messages) > settings.telemetry_max_batch:
        raise Invalid(
            f"batch has {len(messages)} messages; the limit is {settings.telemetry_max_batch}",
            field="messages",
            code="batch_too_large",
        )
    now_ms = clock.time_ms()
    seen: dict[int, int] = {}
    out: list[Msg] = []
    for i, m in enumerate(messages):
        if m.seq in seen:
            raise Invalid(
                f"sequence number {m.seq} appears twice in this batch "
                f"(messages[{seen[m.seq]}] and messages[{i}])",
                field=f"messages[{i}].seq",
                code="duplicate_seq",
            )
        seen[m.seq] = i
        ts_ms = to_ms(m.ts)
        check_time(ts_ms, now_ms, settings, f"messages[{i}].ts")
        out.append(Msg(device_id, m.seq, ts_ms, _pairs(m.values)))
    return out


def _first_copies(msgs: list[Msg]) -> tuple[list[Msg], dict[str, int]]:
    """The batch without repeats of a (device, seq), sorted so that concurrent writers take row
    locks in one order; and how many repeats each device sent (they count as duplicates)."""
    seen: dict[tuple[str, int], Msg] = {}
    repeats: dict[str, int] = {}
    for m in msgs:
        k = (m.device_id, m.seq)
        if k in seen:
            repeats[m.device_id] = repeats.get(m.device_id, 0) + 1
        else:
            seen[k] = m
    return [seen[k] for k in sorted(seen)], repeats


class Ingester:
    def __init__(
        self, db: Database, settings: Settings, hooks: Mapping[str, TelemetryHook] | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.hooks: dict[str, TelemetryHook] = dict(hooks or {})  # device type -> hook
        self._pg = db.dialect == "postgresql"
        self._rules: list[alerts.Rule] = []
        self._rules_at = 0.0

    def rules_changed(self) -> None:
        """This process changed a rule: load them afresh on the next batch (other processes
        pick the change up within the cache's lifetime)."""
        self._rules_at = 0.0

    def _rules_now(self, s: Session) -> list[alerts.Rule]:
        # Rules are configuration: a short cache is safe across processes (10 s to apply).
        if time.monotonic() - self._rules_at > _RULE_TTL_S:
            self._rules = alerts.load_rules(s)
            self._rules_at = time.monotonic()
        return self._rules

    def write(
        self, msgs: list[Msg], rejected: Mapping[str, int] | None = None, *, strict: bool = False
    ) -> Outcome:
        """Store a batch in one transaction. `rejected` counts, per device, messages that
        arrived but could not be parsed (MQTT), so they are accounted in the same commit.

        A message a hook's `validate` refuses is counted as rejected and not stored; with
        `strict` (HTTP) it raises Invalid instead, naming the message and key, and nothing of
        the batch is written."""
        out = Outcome()
        bad = {d: n for d, n in (rejected or {}).items() if n > 0}
        if not msgs and not bad:
            return out
        uniq, repeats = _first_copies(msgs)
        ids = {m.device_id for m in uniq}
        with self.db.session() as s:
            # Known devices are touched (last seen, online) whether or not the data is new.
            known = self._touch_devices(s, ids) if ids else {}
            out.unknown_devices = ids - known.keys()
            if out.unknown_devices:
                uniq = [m for m in uniq if m.device_id in known]
                repeats = {d: n for d, n in repeats.items() if d in known}
            if bad:
                bad = self._existing(s, bad)
            if self.hooks and uniq:
                uniq = self._screen(uniq, known, bad, msgs if strict else None, out)
            new_keys = self._insert_readings(s, uniq) if uniq else set()
            self._update_accounts(s, uniq, repeats, bad, new_keys, out)
            if self.hooks and new_keys:
                self._run_hooks(s, uniq, new_keys, known)
            rules = self._rules_now(s) if new_keys else []
            if rules:
                alerts.evaluate(s, rules, self._current(s, rules, _latest(uniq, new_keys, known)))
        return out

    def _screen(
        self,
        uniq: list[Msg],
        known: dict[str, tuple[str, str]],
        bad: dict[str, int],
        strict_order: list[Msg] | None,
        out: Outcome,
    ) -> list[Msg]:
        """The messages their type's hook accepts; the others are counted in `bad`. Given the
        batch as sent (`strict_order`), the first refusal raises, named by its position."""
        kept: list[Msg] = []
        for m in uniq:
            hook = self.hooks.get(known[m.device_id][0])
            err = hook.validate(dict(m.values)) if hook and hook.validate else None
            if err is None:
                kept.append(m)
                continue
            key, why = err
            if strict_order is not None:
                i = next(
                    j
                    for j, x in enumerate(strict_order)
                    if (x.device_id, x.seq) == (m.device_id, m.seq)
                )
                raise Invalid(
                    f"messages[{i}] (seq {m.seq}): {why}",
                    field=f"messages[{i}].values.{key}",
                    code="impossible_value",
                )
            bad[m.device_id] = bad.get(m.device_id, 0) + 1
            out.rejected += 1
        return kept

    def _run_hooks(
        self,
        s: Session,
        uniq: list[Msg],
        new_keys: set[tuple[str, int]],
        known: dict[str, tuple[str, str]],
    ) -> None:
        by_type: dict[str, list[HookItem]] = defaultdict(list)
        for m in uniq:
            dtype, dept = known[m.device_id]
            if dtype in self.hooks and (m.device_id, m.seq) in new_keys:
                ts = datetime.fromtimestamp(m.ts_ms / 1000, UTC)
                by_type[dtype].append(HookItem(m.device_id, dept, m.seq, ts, dict(m.values)))
        for dtype, items in by_type.items():
            items.sort(key=lambda it: (it.device_id, it.ts, it.seq))
            self.hooks[dtype].apply(s, items)

    @staticmethod
    def _current(
        s: Session,
        rules: list[alerts.Rule],
        latest: list[tuple[str, str, str | None, str, int, float]],
    ) -> list[tuple[str, str, str | None, str, float]]:
        """Keep only values that are now the newest stored for their (device, key): a late
        message that fills an old gap must not raise or clear an alert about the present."""
        keys = {r.key for r in rules}
        wanted = [x for x in latest if x[3] in keys]
        if not wanted:
            return []
        newest = {
            (d, k): ts
            for d, k, ts in s.execute(
                select(Reading.device_id, Reading.key, func.max(Reading.ts_ms))
                .where(tuple_(Reading.device_id, Reading.key).in_({(x[0], x[3]) for x in wanted}))
                .group_by(Reading.device_id, Reading.key)
            ).tuples()
        }
        return [(d, t, dep, k, v) for d, t, dep, k, ts, v in wanted if ts >= newest.get((d, k), ts)]

    # --- the writes ----------------------------------------------------------------------------
    def _touch_devices(self, s: Session, ids: set[str]) -> dict[str, tuple[str, str]]:
        """Mark known devices seen (and online); return {id: (type, department)} of those."""
        now = utcnow()
        grace = self.settings.heartbeat_grace_factor
        if self._pg:
            # One statement: lock the rows in id order, refresh them, and say which were not
            # online before (PostgreSQL's RETURNING sees only the new row, hence the CTE).
            rows = (
                s.connection()
                .exec_driver_sql(
                    "WITH prev AS (SELECT id, connectivity FROM devices "
                    "  WHERE id = ANY(%s) AND status <> 'retired' ORDER BY id FOR UPDATE) "
                    "UPDATE devices d SET connectivity = 'online', last_seen_at = %s, "
                    "  offline_after = %s + make_interval(secs => d.heartbeat_s * %s) "
                    "FROM prev WHERE d.id = prev.id "
                    "RETURNING d.id, d.type, d.department_code, prev.connectivity",
                    (list(ids), now, now, grace),
                )
                .all()
            )
            known = {r[0]: (r[1], r[2]) for r in rows}
            back = sorted(r[0] for r in rows if r[3] != "online")
        else:
            d = Device
            cols = (d.id, d.type, d.department_code, d.heartbeat_s, d.connectivity)
            rows = s.execute(select(*cols).where(d.id.in_(ids), d.status != "retired")).all()
            known = {r[0]: (r[1], r[2]) for r in rows}
            back = sorted(r[0] for r in rows if r[4] != "online")
            if rows:
                # ORM bulk UPDATE by primary key: one executemany, rows in id order.
                s.execute(
                    update(Device),
                    [
                        {
                            "id": r[0],
                            "connectivity": "online",
                            "last_seen_at": now,
                            "offline_after": now + timedelta(seconds=r[3] * grace),
                        }
                        for r in sorted(rows)
                    ],
                )
        for dev in back:
            alerts.auto_resolve(s, dev, "offline", known[dev][1], "device reporting again")
            events.emit(s, "device.online", {"device_id": dev}, known[dev][1])
        return known

    def _existing(self, s: Session, counts: dict[str, int]) -> dict[str, int]:
        found = s.execute(select(Device.id).where(Device.id.in_(counts))).scalars()
        return {d: counts[d] for d in found}

    def _insert_readings(self, s: Session, msgs: list[Msg]) -> set[tuple[str, int]]:
        """Insert what is new; return the (device, seq) of messages that were new."""
        if self._pg:
            # One row per message and one per reading (pointing at its message): fewer values
            # to send than one full row per reading. Numbers go as array literals, which
            # PostgreSQL parses in C, instead of element-by-element binary dumping in Python.
            devs: dict[str, int] = {}
            m_dev = [devs.setdefault(m.device_id, len(devs) + 1) for m in msgs]
            r_msg = [i for i, m in enumerate(msgs, 1) for _ in m.values]
            rows = s.connection().exec_driver_sql(
                "WITH d AS (SELECT * FROM unnest(%b::text[]) WITH ORDINALITY AS d(id, i)), "
                "m AS (SELECT * FROM unnest(%s::int[], %s::bigint[], %s::bigint[]) "
                "  WITH ORDINALITY AS m(d, seq, ts, i)), "
                # A message is new only if no reading of its (device, seq) is stored yet, as
                # on SQLite: a resend with extra keys is a duplicate, not a second message.
                "f AS (SELECT d.id, m.seq, m.ts, m.i FROM m JOIN d ON d.i = m.d "
                "  WHERE NOT EXISTS (SELECT 1 FROM readings x "
                "    WHERE x.device_id = d.id AND x.seq = m.seq)), "
                "ins AS (INSERT INTO readings (device_id, seq, key, ts_ms, value) "
                "  SELECT f.id, f.seq, r.key, f.ts, r.value "
                "  FROM unnest(%s::int[], %b::text[], %s::float8[]) AS r(m, key, value) "
                "  JOIN f ON f.i = r.m "
                "  ON CONFLICT DO NOTHING RETURNING device_id, seq) "
                "SELECT DISTINCT device_id, seq FROM ins",
                (
                    list(devs),
                    _literal(m_dev),
                    _literal([m.seq for m in msgs]),
                    _literal([m.ts_ms for m in msgs]),
                    _literal(r_msg),
                    [k for m in msgs for k, _ in m.values],
                    _literal([v for m in msgs for _, v in m.values]),
                ),
            )
            return {(r[0], r[1]) for r in rows}
        # SQLite: the unit of work holds the write lock (BEGIN IMMEDIATE), so look-then-insert
        # cannot race another writer.
        by_dev: dict[str, list[int]] = defaultdict(list)
        for m in msgs:
            by_dev[m.device_id].append(m.seq)
        existing: set[tuple[str, int]] = set()
        for d, seqs in by_dev.items():
            for i in range(0, len(seqs), 500):
                existing.update(
                    s.execute(
                        select(Reading.device_id, Reading.seq)
                        .where(Reading.device_id == d, Reading.seq.in_(seqs[i : i + 500]))
                        .distinct()
                    ).tuples()
                )
        fresh = [m for m in msgs if (m.device_id, m.seq) not in existing]
        rows_in = [
            {"device_id": m.device_id, "seq": m.seq, "key": k, "ts_ms": m.ts_ms, "value": v}
            for m in fresh
            for k, v in m.values
        ]
        if rows_in:
            s.execute(sqlite_insert(Reading).on_conflict_do_nothing(), rows_in)
        return {(m.device_id, m.seq) for m in fresh}

    def _update_accounts(
        self,
        s: Session,
        msgs: list[Msg],
        repeats: dict[str, int],
        bad: dict[str, int],
        new_keys: set[tuple[str, int]],
        out: Outcome,
    ) -> None:
        # device -> [received, duplicates, readings, rejected, min_seq, max_seq]
        acc: dict[str, list[int]] = {}
        for m in msgs:
            a = acc.get(m.device_id)
            if a is None:
                a = acc[m.device_id] = [0, 0, 0, 0, _NO_SEQ, -1]
            if (m.device_id, m.seq) in new_keys:
                a[0] += 1
                a[2] += len(m.values)
                a[4] = min(a[4], m.seq)
                a[5] = max(a[5], m.seq)
            else:
                a[1] += 1
        for d, n in repeats.items():
            acc.setdefault(d, [0, 0, 0, 0, _NO_SEQ, -1])[1] += n
        for d, n in bad.items():
            acc.setdefault(d, [0, 0, 0, 0, _NO_SEQ, -1])[3] += n
        if not acc:
            return
        cols: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
        # Sorted so two concurrent batches lock account rows in the same order (no deadlock).
        for d in sorted(acc):
            rec, dup, rd, rej, lo, hi = acc[d]
            out.accepted += rec
            out.duplicates += dup
            out.readings += rd
            for col, v in zip(
                cols, (d, rec, dup, rd, rej, lo if rec else None, hi if rec else None), strict=True
            ):
                col.append(v)
        if self._pg:
            # LEAST/GREATEST skip NULLs in PostgreSQL, so an empty side keeps the other.
            s.connection().exec_driver_sql(
                "INSERT INTO delivery_accounts AS t (device_id, received, duplicates, readings, "
                "rejected, min_seq, max_seq) SELECT * FROM unnest(%b::text[], %b::bigint[], "
                "%b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[]) "
                "ON CONFLICT (device_id) DO UPDATE SET "
                "received = t.received + excluded.received, "
                "duplicates = t.duplicates + excluded.duplicates, "
                "readings = t.readings + excluded.readings, "
                "rejected = t.rejected + excluded.rejected, "
                "min_seq = LEAST(t.min_seq, excluded.min_seq), "
                "max_seq = GREATEST(t.max_seq, excluded.max_seq)",
                cols,
            )
            return
        ins = sqlite_insert(DeliveryAccount)
        t = DeliveryAccount
        stmt = ins.on_conflict_do_update(
            index_elements=["device_id"],
            set_={
                "received": t.received + ins.excluded.received,
                "duplicates": t.duplicates + ins.excluded.duplicates,
                "readings": t.readings + ins.excluded.readings,
                "rejected": t.rejected + ins.excluded.rejected,
                # SQLite's two-argument min/max return NULL if either side is NULL.
                "min_seq": func.coalesce(
                    func.min(t.min_seq, ins.excluded.min_seq), t.min_seq, ins.excluded.min_seq
                ),
                "max_seq": func.coalesce(
                    func.max(t.max_seq, ins.excluded.max_seq), t.max_seq, ins.excluded.max_seq
                ),
            },
        )
        s.execute(stmt, [dict(zip(_ACCOUNT, row, strict=True)) for row in zip(*cols, strict=True)])


def _literal(numbers: list[int] | list[float]) -> str:
    """A PostgreSQL array literal of numbers (repr of a finite float round-trips exactly)."""
    return "{" + ",".join(map(repr, numbers)) + "}"


def _latest(
    msgs: list[Msg], new_keys: set[tuple[str, int]], known: dict[str, tuple[str, str]]
) -> list[tuple[str, str, str | None, str, int, float]]:
    """The newest new value of each (device, key) in the batch, with its time."""
    latest: dict[tuple[str, str], tuple[int, float]] = {}
    for m in msgs:
        if (m.device_id, m.seq) not in new_keys:
            continue
        for k, v in m.values:
            cur = latest.get((m.device_id, k))
            if cur is None or m.ts_ms >= cur[0]:
                latest[(m.device_id, k)] = (m.ts_ms, v)
    return [(d, known[d][0], known[d][1], k, ts, v) for (d, k), (ts, v) in latest.items()]
