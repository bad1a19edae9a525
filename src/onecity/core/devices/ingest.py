"""Telemetry ingest: each reading stored exactly once, delivery accounts kept per device.

Both entry points (HTTP batches and MQTT) end in `Ingester.write`, one transaction per batch:
each message placed in its device's epoch (epochs.py: a true retry is a duplicate, a restart
that reuses sequence numbers opens a new epoch), readings inserted under (device, seq, epoch,
key), accounts incremented, liveness refreshed, rules evaluated and events emitted. A batch
that fails writes nothing, so an MQTT message is acknowledged to the broker only after its
batch committed.

Every message is first checked against its device type's value ranges (`ValueRanges`, from the
city profile; NaN and infinities never pass). A domain module may hook a device type
(`TelemetryHook`): its `validate` screens each message of such a device before anything is
written, and its `apply` sees the batch's new messages of
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

import orjson
from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session

from onecity.core import alerts, clock, events
from onecity.core.db import Database, utcnow
from onecity.core.devices import store
from onecity.core.devices.epochs import Epoch, place
from onecity.core.devices.ranges import ValueRanges
from onecity.core.devices.schemas import TelemetryMessage
from onecity.core.devices.store import AccountDelta
from onecity.core.errors import Invalid
from onecity.core.models import Device, Reading
from onecity.settings import Settings

_RULE_TTL_S = 10.0
# The limits of TelemetryMessage (schemas.py), for the plain-message fast path.
_FIELDS = frozenset(("seq", "ts", "values"))
_FIELDS_BOOT = frozenset(("boot", "seq", "ts", "values"))
_MAX_SEQ, _MAX_TS = 2**63 - 1, 2**53
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_good_keys: set[str] = set()  # keys already matched against _KEY (devices repeat theirs)


@dataclass(frozen=True)
class Msg:
    device_id: str
    seq: int
    ts_ms: int
    values: tuple[tuple[str, float], ...]
    boot: int | None = None  # the device's boot number, when it sends one


@dataclass
class Outcome:
    accepted: int = 0
    duplicates: int = 0
    readings: int = 0
    unknown_devices: set[str] = field(default_factory=set)
    rejected: int = 0  # refused by ranges or a hook (counted on the device's account)
    restarts: int = 0  # epochs opened
    conflicts: int = 0  # messages that reused a seq of their epoch with other content


class Refused(Invalid):
    """A batch refused whole (HTTP): the first problem, and how many messages were bad."""

    def __init__(self, first: Invalid, count: int) -> None:
        super().__init__(first.detail, field=first.field, code=first.code)
        self.count = count


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


def to_ms(ts: datetime | int, where: str = "ts") -> int:
    if isinstance(ts, int):
        return ts
    if ts.tzinfo is None:
        raise Invalid("timestamp needs a time zone (e.g. 'Z' or '+08:00')", field=where)
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


def _plain(
    raw: bytes | bytearray,
) -> tuple[int, int, tuple[tuple[str, float], ...], int | None] | None:
    """(seq, ts_ms, values, boot) of a message in the plain form almost every device sends
    (integer seq, boot and epoch-ms ts, finite number or boolean values), checked against the
    same limits as TelemetryMessage at a third of pydantic's cost. None: let pydantic decide."""
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(d) is not dict or (d.keys() != _FIELDS and d.keys() != _FIELDS_BOOT):
        return None
    seq, ts, values, boot = d["seq"], d["ts"], d["values"], d.get("boot")
    if type(seq) is not int or type(ts) is not int or type(values) is not dict:
        return None
    if boot is not None and (type(boot) is not int or not 0 <= boot <= _MAX_SEQ):
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
    return seq, ts, _pairs(values), boot


def msg_from_json(device_id: str, raw: bytes | bytearray, now_ms: int, settings: Settings) -> Msg:
    """One MQTT payload. Raises pydantic's ValidationError or Invalid if it cannot be stored."""
    plain = _plain(raw)
    if plain is None:
        m = TelemetryMessage.model_validate_json(raw)
        plain = (m.seq, to_ms(m.ts), _pairs(m.values), m.boot)
    seq, ts_ms, values, boot = plain
    check_time(ts_ms, now_ms, settings, "ts")
    return Msg(device_id, seq, ts_ms, values, boot)


def to_msgs(
    device_id: str,
    messages: list[TelemetryMessage],
    settings: Settings,
    boot: int | None = None,
) -> list[Msg]:
    """Validate a device's batch as a whole (`boot`: for messages that name none). Raises
    Refused for the first bad message, counting them all; nothing is stored then."""
    if len(messages) > settings.telemetry_max_batch:
        raise Invalid(
            f"batch has {len(messages)} messages; the limit is {settings.telemetry_max_batch}",
            field="messages",
            code="batch_too_large",
        )
    now_ms = clock.time_ms()
    seen: dict[tuple[int | None, int], int] = {}
    out: list[Msg] = []
    errors: list[Invalid] = []
    for i, m in enumerate(messages):
        b = m.boot if m.boot is not None else boot
        if (b, m.seq) in seen:
            errors.append(
                Invalid(
                    f"sequence number {m.seq} appears twice in this batch "
                    f"(messages[{seen[(b, m.seq)]}] and messages[{i}]); a device that "
                    "restarted says so with 'boot'",
                    field=f"messages[{i}].seq",
                    code="duplicate_seq",
                )
            )
            continue
        seen[(b, m.seq)] = i
        try:
            ts_ms = to_ms(m.ts, f"messages[{i}].ts")
            check_time(ts_ms, now_ms, settings, f"messages[{i}].ts")
        except Invalid as e:
            errors.append(e)
            continue
        out.append(Msg(device_id, m.seq, ts_ms, _pairs(m.values), b))
    if errors:
        raise Refused(errors[0], len(errors))
    return out


class Ingester:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        hooks: Mapping[str, TelemetryHook] | None = None,
        ranges: Mapping[str, ValueRanges] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.hooks: dict[str, TelemetryHook] = dict(hooks or {})  # device type -> hook
        self.ranges: dict[str, ValueRanges] = dict(ranges or {})  # device type -> its ranges
        self._any_type = ValueRanges()  # for types that declare none
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
        """Store a batch (messages in the order they arrived) in one transaction. `rejected`
        counts, per device, messages that arrived but could not be parsed (MQTT), so they are
        accounted in the same commit.

        A message outside its type's ranges, or that a hook's `validate` refuses, is counted as
        rejected and not stored; with `strict` (HTTP) it raises Refused instead, naming the
        first such message and key, and nothing of the batch is written."""
        out = Outcome()
        bad = {d: n for d, n in (rejected or {}).items() if n > 0}
        if not msgs and not bad:
            return out
        ids = {m.device_id for m in msgs}
        with self.db.session() as s:
            # Known devices are touched (last seen, online) whether or not the data is new.
            known = self._touch_devices(s, ids) if ids else {}
            out.unknown_devices = ids - known.keys()
            if out.unknown_devices:
                msgs = [m for m in msgs if m.device_id in known]
            if bad:
                bad = self._existing(s, bad)
            if msgs:
                msgs = self._screen(msgs, known, bad, strict, out)
            new = self._store(s, msgs, bad, out)
            if self.hooks and new:
                self._run_hooks(s, new, known)
            rules = self._rules_now(s) if new else []
            if rules:
                alerts.evaluate(
                    s, rules, self._current(s, rules, _latest(new, known)), self._unit_of
                )
        return out

    def _unit_of(self, device_type: str, key: str) -> str | None:
        return self.ranges.get(device_type, self._any_type).unit(key)

    def count_rejected(self, device_id: str, n: int) -> None:
        """Account messages of a batch refused whole (HTTP), in a transaction of their own."""
        if n > 0:
            with self.db.session() as s:
                store.update_accounts(s, self._pg, {device_id: AccountDelta(rejected=n)})

    def _screen(
        self,
        msgs: list[Msg],
        known: dict[str, tuple[str, str]],
        bad: dict[str, int],
        strict: bool,
        out: Outcome,
    ) -> list[Msg]:
        """The messages their type's ranges and hook accept; the others are counted in `bad`.
        With `strict`, the first refusal raises, named by its position in the batch."""
        kept: list[Msg] = []
        first: Invalid | None = None
        for i, m in enumerate(msgs):
            dtype = known[m.device_id][0]
            err = self.ranges.get(dtype, self._any_type).check(m.values)
            hook = self.hooks.get(dtype)
            if err is None and hook is not None and hook.validate is not None:
                err = hook.validate(dict(m.values))
            if err is None:
                kept.append(m)
                continue
            key, why = err
            if first is None:
                first = Invalid(
                    f"messages[{i}] (seq {m.seq}): {why}",
                    field=f"messages[{i}].values.{key}",
                    code="impossible_value",
                )
            bad[m.device_id] = bad.get(m.device_id, 0) + 1
            out.rejected += 1
        if strict and first is not None:
            raise Refused(first, out.rejected)
        return kept

    def _store(
        self, s: Session, msgs: list[Msg], bad: dict[str, int], out: Outcome
    ) -> list[tuple[Msg, int]]:
        """Place the messages in their devices' epochs, insert the new ones and keep the
        accounts; return the new messages with their epochs."""
        by_dev: dict[str, list[Msg]] = defaultdict(list)
        for m in msgs:
            by_dev[m.device_id].append(m)
        epochs = store.recent_epochs(s, by_dev) if by_dev else {}
        stored = (
            store.stored_messages(s, self._pg, {d: [m.seq for m in ms] for d, ms in by_dev.items()})
            if by_dev
            else {}
        )
        deltas: dict[str, AccountDelta] = {d: AccountDelta(rejected=n) for d, n in bad.items()}
        new: list[tuple[Msg, int]] = []
        touched: dict[str, list[Epoch]] = {}
        opened: dict[str, int] = {}  # devices that opened an epoch: their newest
        for dev, ms in by_dev.items():
            eps = epochs.get(dev, {})
            p = place(
                [(m.boot, m.seq, m.ts_ms, m.values) for m in ms],
                eps,
                stored.get(dev, {}),
                self.settings.telemetry_max_seq_jump,
            )
            a = deltas.setdefault(dev, AccountDelta())
            a.duplicates, a.restarts, a.conflicts = p.duplicates, p.restarts, p.conflicts
            for m, n in zip(ms, p.placed, strict=True):
                if n >= 0:
                    new.append((m, n))
                    a.received += 1
                    a.readings += len(m.values)
            changed = [e for e in eps.values() if e.dirty]
            touched[dev] = changed
            a.span = sum(e.span - e.old_span for e in changed)
            if p.current is not None:
                cur = eps[p.current]
                a.min_seq, a.max_seq, a.epoch = cur.min_seq, cur.max_seq, cur.n
            if any(e.new for e in changed):
                opened[dev] = max(eps)
            out.duplicates += p.duplicates
            out.restarts += p.restarts
            out.conflicts += p.conflicts
        if new:
            # In key order, so that concurrent writers would take index locks in one order.
            new.sort(key=lambda x: (x[0].device_id, x[0].seq, x[1]))
            store.insert_readings(
                s, self._pg, [(m.device_id, m.seq, n, m.ts_ms, m.values) for m, n in new]
            )
            store.save_epochs(s, touched)
            store.drop_old_epochs(s, opened)
        store.update_accounts(s, self._pg, deltas)
        out.accepted = len(new)
        out.readings = sum(len(m.values) for m, _ in new)
        return new

    def _run_hooks(
        self, s: Session, new: list[tuple[Msg, int]], known: dict[str, tuple[str, str]]
    ) -> None:
        by_type: dict[str, list[HookItem]] = defaultdict(list)
        for m, _ in new:
            dtype, dept = known[m.device_id]
            if dtype in self.hooks:
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


def _latest(
    new: list[tuple[Msg, int]], known: dict[str, tuple[str, str]]
) -> list[tuple[str, str, str | None, str, int, float]]:
    """The newest new value of each (device, key) in the batch, with its time."""
    latest: dict[tuple[str, str], tuple[int, float]] = {}
    for m, _ in new:
        for k, v in m.values:
            cur = latest.get((m.device_id, k))
            if cur is None or m.ts_ms >= cur[0]:
                latest[(m.device_id, k)] = (m.ts_ms, v)
    return [(d, known[d][0], known[d][1], k, ts, v) for (d, k), (ts, v) in latest.items()]
