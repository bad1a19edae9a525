"""Telemetry ingest: each reading stored exactly once, delivery accounts kept per device.

Both entry points (HTTP batches and MQTT) end in `Ingester.write`, one transaction per batch:
readings inserted with the (device, seq, key) key deciding what is new, accounts incremented,
liveness refreshed, rules evaluated and events emitted. A batch that fails writes nothing, so
an MQTT message is acknowledged to the broker only after its batch committed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from onecity.core import alerts, events
from onecity.core.db import Database, utcnow
from onecity.core.devices.schemas import TelemetryMessage
from onecity.core.errors import Invalid
from onecity.core.models import DeliveryAccount, Device, Reading
from onecity.settings import Settings

_RULE_TTL_S = 10.0


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
            field=where, code="future_timestamp",
        )
    if ts_ms < now_ms - settings.telemetry_max_age_days * 86_400_000:
        raise Invalid(
            f"timestamp is older than {settings.telemetry_max_age_days} days",
            field=where, code="ancient_timestamp",
        )


def to_msgs(device_id: str, messages: list[TelemetryMessage], settings: Settings) -> list[Msg]:
    """Validate a device's batch as a whole; raise on the first bad message (nothing stored)."""
    if len(messages) > settings.telemetry_max_batch:
        raise Invalid(
            f"batch has {len(messages)} messages; the limit is {settings.telemetry_max_batch}",
            field="messages", code="batch_too_large",
        )
    now_ms = int(time.time() * 1000)
    seen: dict[int, int] = {}
    out: list[Msg] = []
    for i, m in enumerate(messages):
        if m.seq in seen:
            raise Invalid(
                f"sequence number {m.seq} appears twice in this batch "
                f"(messages[{seen[m.seq]}] and messages[{i}])",
                field=f"messages[{i}].seq", code="duplicate_seq",
            )
        seen[m.seq] = i
        ts_ms = to_ms(m.ts)
        check_time(ts_ms, now_ms, settings, f"messages[{i}].ts")
        out.append(Msg(device_id, m.seq, ts_ms, tuple((k, float(v)) for k, v in m.values.items())))
    return out


class Ingester:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._rules: list[alerts.Rule] = []
        self._rules_at = 0.0

    def _rules_now(self, s: Session) -> list[alerts.Rule]:
        # Rules are configuration: a short cache is safe across processes (10 s to apply).
        if time.monotonic() - self._rules_at > _RULE_TTL_S:
            self._rules = alerts.load_rules(s)
            self._rules_at = time.monotonic()
        return self._rules

    def write(self, msgs: list[Msg]) -> Outcome:
        out = Outcome()
        if not msgs:
            return out
        with self.db.session() as s:
            ids = {m.device_id for m in msgs}
            known = {
                r.id: (r.type, r.department_code, r.heartbeat_s)
                for r in s.execute(
                    select(Device.id, Device.type, Device.department_code, Device.heartbeat_s)
                    .where(
                        Device.id.in_(ids), Device.status != "retired"
                    )
                )
            }
            out.unknown_devices = ids - known.keys()
            msgs = [m for m in msgs if m.device_id in known]
            if not msgs:
                return out
            new_keys = self._insert_readings(s, msgs)
            self._update_accounts(s, msgs, new_keys, out)
            self._touch_devices(s, set(known), known)
            latest: dict[tuple[str, str], tuple[int, float]] = {}
            for m in msgs:
                if (m.device_id, m.seq) not in new_keys:
                    continue
                for k, v in m.values:
                    cur = latest.get((m.device_id, k))
                    if cur is None or m.ts_ms >= cur[0]:
                        latest[(m.device_id, k)] = (m.ts_ms, v)
            rules = self._rules_now(s)
            if rules:
                alerts.evaluate(
                    s, rules,
                    ((d, known[d][0], known[d][1], k, v) for (d, k), (_, v) in latest.items()),
                )
        return out

    # --- the three writes ------------------------------------------------------------------
    def _insert_readings(self, s: Session, msgs: list[Msg]) -> set[tuple[str, int]]:
        """Insert what is new; return the (device, seq) of messages that were new."""
        if self.db.dialect == "postgresql":
            cols: tuple[list[Any], ...] = ([], [], [], [], [])
            for m in msgs:
                for k, v in m.values:
                    cols[0].append(m.device_id)
                    cols[1].append(m.seq)
                    cols[2].append(k)
                    cols[3].append(m.ts_ms)
                    cols[4].append(v)
            rows = s.connection().exec_driver_sql(
                "INSERT INTO readings (device_id, seq, key, ts_ms, value) "
                "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bigint[], "
                "%s::float8[]) ON CONFLICT DO NOTHING RETURNING device_id, seq",
                cols,
            )
            return {(r[0], r[1]) for r in rows}
        # SQLite: the unit of work holds the write lock (BEGIN IMMEDIATE), so look-then-insert
        # cannot race another writer.
        by_dev: dict[str, list[int]] = defaultdict(list)
        for m in msgs:
            by_dev[m.device_id].append(m.seq)
        existing: set[tuple[str, int]] = set()
        for dev, seqs in by_dev.items():
            for i in range(0, len(seqs), 500):
                chunk = seqs[i : i + 500]
                existing.update(
                    s.execute(
                        select(Reading.device_id, Reading.seq)
                        .where(Reading.device_id == dev, Reading.seq.in_(chunk))
                        .distinct()
                    ).tuples()
                )
        fresh = [m for m in msgs if (m.device_id, m.seq) not in existing]
        rows = [
            {"device_id": m.device_id, "seq": m.seq, "key": k, "ts_ms": m.ts_ms, "value": v}
            for m in fresh
            for k, v in m.values
        ]
        if rows:
            s.execute(sqlite_insert(Reading).on_conflict_do_nothing(), rows)
        return {(m.device_id, m.seq) for m in fresh}

    def _update_accounts(
        self, s: Session, msgs: list[Msg], new_keys: set[tuple[str, int]], out: Outcome
    ) -> None:
        acc: dict[str, list[int]] = {}
        for m in msgs:
            a = acc.setdefault(m.device_id, [0, 0, 0, m.seq, m.seq])
            if (m.device_id, m.seq) in new_keys:
                a[0] += 1
                a[2] += len(m.values)
                a[3] = min(a[3], m.seq)
                a[4] = max(a[4], m.seq)
            else:
                a[1] += 1
        rows = []
        for dev, (rec, dup, rd, lo, hi) in acc.items():
            out.accepted += rec
            out.duplicates += dup
            out.readings += rd
            rows.append({"device_id": dev, "received": rec, "duplicates": dup, "readings": rd,
                         "rejected": 0, "min_seq": lo if rec else None,
                         "max_seq": hi if rec else None})
        pg = self.db.dialect == "postgresql"
        ins = (pg_insert if pg else sqlite_insert)(DeliveryAccount)
        lo_fn, hi_fn = (func.least, func.greatest) if pg else (func.min, func.max)
        t = DeliveryAccount
        stmt = ins.on_conflict_do_update(
            index_elements=["device_id"],
            set_={
                "received": t.received + ins.excluded.received,
                "duplicates": t.duplicates + ins.excluded.duplicates,
                "readings": t.readings + ins.excluded.readings,
                "min_seq": func.coalesce(lo_fn(t.min_seq, ins.excluded.min_seq),
                                         t.min_seq, ins.excluded.min_seq),
                "max_seq": func.coalesce(hi_fn(t.max_seq, ins.excluded.max_seq),
                                         t.max_seq, ins.excluded.max_seq),
            },
        )
        # Sorted so two concurrent batches lock account rows in the same order (no deadlock).
        s.execute(stmt, sorted(rows, key=lambda r: str(r["device_id"])))

    def _touch_devices(
        self, s: Session, ids: set[str], known: dict[str, tuple[str, str, int]]
    ) -> None:
        now = utcnow()
        grace = self.settings.heartbeat_grace_factor
        back = list(
            s.execute(
                update(Device)
                .where(Device.id.in_(ids), Device.connectivity != "online")
                .values(connectivity="online")
                .returning(Device.id)
            ).scalars()
        )
        for dev in back:
            alerts.auto_resolve(s, dev, "offline", known[dev][1], "device reporting again")
            events.emit(s, "device.online", {"device_id": dev}, known[dev][1])
        t = Device.__table__
        s.connection().execute(
            t.update()
            .where(t.c.id == bindparam("b_id"))
            .values(last_seen_at=bindparam("b_now"), offline_after=bindparam("b_off")),
            [
                {"b_id": d, "b_now": now,
                 "b_off": now + timedelta(seconds=known[d][2] * grace)}
                for d in sorted(ids)
            ],
        )

    def record_rejected(self, device_id: str, n: int = 1) -> None:
        """Count messages that reached us but could not be stored (bad payloads over MQTT)."""
        with self.db.session() as s:
            if s.get(Device, device_id) is None:
                return
            pg = self.db.dialect == "postgresql"
            ins = (pg_insert if pg else sqlite_insert)(DeliveryAccount)
            s.execute(
                ins.values(device_id=device_id, received=0, duplicates=0, readings=0,
                           rejected=n)
                .on_conflict_do_update(
                    index_elements=["device_id"],
                    set_={"rejected": DeliveryAccount.rejected + n},
                )
            )
