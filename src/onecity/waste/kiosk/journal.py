"""The station's own journal: one SQLite file, written before anything else happens.

Durability: WAL with synchronous=FULL, so a commit is on disk when it returns and a power cut
or SIGKILL loses nothing committed. Every change is one short `BEGIN IMMEDIATE` transaction;
the machine and the uploader each use their own `Journal` (connection) on the same file.

What it holds:

* terminal state: next transaction number, the open batch, blocklist version, cached
  tariffs, telemetry sequence, out-of-service and paper-out flags, upload status;
* intents: a transaction number and what the station is about to write on a card, committed
  before the card write; an intent ends `done` (a transaction), `refused` (the card said
  no, nothing written) or `unknown` (the card left mid-write and never came back, or the
  station stopped between the card write and the journal);
* transactions: the payload exactly in the protocol's Txn shape, and its upload status
  (`pending`, `stored` — the server answered stored or duplicate — or `refused`, with the
  server's error code and detail);
* events: every screen the station showed, in zh-TW and English;
* settlements: closed batches with their totals, and the server's answer."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from onecity.waste.kiosk.hardware import Clock, local_iso
from onecity.waste.rules.money import RuleError, Tariff, TariffTable

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocklist (card_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS intents (
    terminal_seq INTEGER PRIMARY KEY,
    batch_no INTEGER NOT NULL,
    kind TEXT NOT NULL,
    card_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    points_after INTEGER,
    occurred_at TEXT NOT NULL,
    detail TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'done', 'refused', 'unknown')),
    reason TEXT,
    created_at TEXT NOT NULL,
    resolved_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_intents_status ON intents (status);
CREATE TABLE IF NOT EXISTS transactions (
    terminal_seq INTEGER PRIMARY KEY REFERENCES intents (terminal_seq),
    batch_no INTEGER NOT NULL,
    kind TEXT NOT NULL,
    card_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    payload TEXT NOT NULL,
    upload_status TEXT NOT NULL DEFAULT 'pending'
        CHECK (upload_status IN ('pending', 'stored', 'refused')),
    server_status TEXT,
    txn_id INTEGER,
    card_flagged INTEGER,
    error TEXT,
    error_detail TEXT,
    journaled_at TEXT NOT NULL,
    answered_at TEXT
);
CREATE INDEX IF NOT EXISTS ix_transactions_upload ON transactions (upload_status, terminal_seq);
CREATE INDEX IF NOT EXISTS ix_transactions_batch ON transactions (batch_no);
CREATE TABLE IF NOT EXISTS unconfirmed_reports (
    terminal_seq INTEGER PRIMARY KEY REFERENCES intents (terminal_seq),
    status TEXT NOT NULL,
    txn_id INTEGER,
    reported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    state TEXT NOT NULL,
    code TEXT NOT NULL,
    card_id TEXT,
    terminal_seq INTEGER,
    zh TEXT NOT NULL,
    en TEXT NOT NULL,
    data TEXT
);
CREATE TABLE IF NOT EXISTS settlements (
    batch_no INTEGER PRIMARY KEY,
    opened_at TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    count INTEGER NOT NULL,
    debit_total INTEGER NOT NULL,
    credit_total INTEGER NOT NULL,
    first_seq INTEGER,
    last_seq INTEGER,
    upload_status TEXT NOT NULL DEFAULT 'pending'
        CHECK (upload_status IN ('pending', 'matched', 'mismatch', 'refused')),
    answer TEXT,
    error TEXT,
    answered_at TEXT
);
"""


class JournalError(Exception):
    pass


class BatchBusy(JournalError):
    """The open batch has a card write in flight; close it once the write is journaled."""


@dataclass(frozen=True)
class Intent:
    terminal_seq: int
    batch_no: int
    kind: str
    card_id: str
    amount: int
    points_after: int | None
    occurred_at: str
    detail: dict[str, Any]
    status: str = "open"


@dataclass(frozen=True)
class OpenBatch:
    batch_no: int
    opened_at: datetime


@dataclass(frozen=True)
class Settlement:
    batch_no: int
    opened_at: str
    closed_at: str
    count: int
    debit_total: int
    credit_total: int
    first_seq: int | None
    last_seq: int | None
    upload_status: str = "pending"

    def payload(self) -> dict[str, Any]:
        """The protocol's settlement body."""
        return {
            "batch_no": self.batch_no,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "count": self.count,
            "debit_total": self.debit_total,
            "credit_total": self.credit_total,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
        }


@dataclass(frozen=True)
class Answer:
    """The server's answer for one transaction."""

    terminal_seq: int
    status: str  # "stored" | "duplicate"
    txn_id: int | None = None
    card_flagged: bool = False


def tariffs_from_json(raw: Sequence[dict[str, Any]]) -> tuple[Tariff, ...]:
    """Tariffs as the server sends them (sign-on, GET /tariffs) into domain Tariffs."""
    out = []
    for t in raw:
        out.append(
            Tariff(
                effective_from=date.fromisoformat(str(t["effective_from"])),
                steps=tuple((int(g), int(p)) for g, p in t["steps"]),
                increment_g=int(t["increment_g"]),
                per_increment=int(t["per_increment"]),
                name=str(t.get("name", "")),
            )
        )
    if not out:
        raise RuleError("an empty tariff table")
    TariffTable(tuple(out))  # same-day versions are refused here
    return tuple(out)


def tariffs_to_json(tariffs: Sequence[Tariff]) -> list[dict[str, Any]]:
    return [
        {
            "effective_from": t.effective_from.isoformat(),
            "name": t.name,
            "steps": [[g, p] for g, p in t.steps],
            "increment_g": t.increment_g,
            "per_increment": t.per_increment,
        }
        for t in tariffs
    ]


class Journal:
    """One connection to the station's journal file. Thread-safe, but give each thread its
    own instance: writers then wait on SQLite's lock, not on each other's Python code."""

    def __init__(self, path: Path | str, station: str | None, clock: Clock) -> None:
        self.path = Path(path)
        self.clock = clock
        if station is None and not self.path.exists():
            raise JournalError(f"no journal at {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            str(self.path), isolation_level=None, timeout=30, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        if (
            station is None
            and not self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state'"
            ).fetchone()
        ):
            self._db.close()
            raise JournalError(f"{self.path} is not a kiosk journal")
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                self._db.execute(stmt)
        with self._tx() as c:
            known = self._get(c, "station")
            if known is None:
                if station is None:
                    raise JournalError(f"{self.path} is not a kiosk journal")
                now = local_iso(clock.now())
                for key, value in (
                    ("schema_version", SCHEMA_VERSION),
                    ("station", station),
                    ("next_seq", 1),
                    ("batch_no", 1),
                    ("batch_opened_at", now),
                    ("telemetry_seq", 0),
                    ("sessions", 0),
                    ("created_at", now),
                ):
                    self._put(c, key, value)
            elif station is not None and known != station:
                raise JournalError(f"{self.path} is the journal of station {known}, not {station}")
            self.station: str = str(self._get(c, "station"))

    # --- plumbing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One committed write transaction (durable when the block ends)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @staticmethod
    def _get(c: sqlite3.Connection, key: str, default: Any = None) -> Any:
        row = c.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    @staticmethod
    def _put(c: sqlite3.Connection, key: str, value: Any) -> None:
        c.execute(
            "INSERT INTO state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def _now(self) -> str:
        return local_iso(self.clock.now())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- terminal state ---------------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._get(self._db, key, default)

    def put(self, key: str, value: Any) -> None:
        with self._tx() as c:
            self._put(c, key, value)

    def put_many(self, values: dict[str, Any]) -> None:
        with self._tx() as c:
            for k, v in values.items():
                self._put(c, k, v)

    def add(self, key: str, n: int = 1) -> int:
        """Add to a counter kept in the state; the new value."""
        with self._tx() as c:
            value = int(self._get(c, key, 0)) + n
            self._put(c, key, value)
            return value

    @property
    def next_seq(self) -> int:
        return int(self.get("next_seq", 1))

    def batch(self) -> OpenBatch:
        with self._lock:
            return OpenBatch(
                int(self._get(self._db, "batch_no")),
                datetime.fromisoformat(self._get(self._db, "batch_opened_at")),
            )

    def out_of_service(self) -> str | None:
        reason = self.get("out_of_service")
        return None if reason is None else str(reason)

    def set_out_of_service(self, reason: str | None) -> None:
        self.put("out_of_service", reason)

    def next_telemetry_seq(self) -> int:
        return self.add("telemetry_seq")

    # --- blocklist and tariffs ----------------------------------------------------------

    def is_blocked(self, card_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM blocklist WHERE card_id = ?", (card_id,)
            ).fetchone()
        return row is not None

    def blocklist_version(self) -> int | None:
        v = self.get("blocklist_version")
        return None if v is None else int(v)

    def blocked_cards(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT card_id FROM blocklist ORDER BY card_id").fetchall()
        return [r[0] for r in rows]

    def apply_blocklist(
        self, version: int, full: bool, entries: Sequence[tuple[str, bool]]
    ) -> None:
        with self._tx() as c:
            if full:
                c.execute("DELETE FROM blocklist")
            for card_id, blocked in entries:
                if blocked:
                    c.execute("INSERT OR IGNORE INTO blocklist (card_id) VALUES (?)", (card_id,))
                else:
                    c.execute("DELETE FROM blocklist WHERE card_id = ?", (card_id,))
            self._put(c, "blocklist_version", version)

    def save_tariffs(self, raw: Sequence[dict[str, Any]]) -> None:
        tariffs_from_json(raw)  # refuse a table the station could not use
        self.put("tariffs", list(raw))

    def tariff_table(self) -> TariffTable:
        """The cached tariffs from the last sign-on, or Taipei's built in."""
        raw = self.get("tariffs")
        if not raw:
            return TariffTable()
        return TariffTable(tariffs_from_json(raw))

    # --- the money path ----------------------------------------------------------------

    def open_intent(
        self,
        kind: str,
        card_id: str,
        amount: int,
        points_after: int | None,
        occurred_at: str,
        detail: dict[str, Any],
    ) -> Intent:
        """Take the next transaction number and commit what is about to be written on the
        card. The number is never handed out again, whatever happens to the write."""
        with self._tx() as c:
            top = c.execute("SELECT MAX(terminal_seq) FROM intents").fetchone()[0] or 0
            seq = max(int(self._get(c, "next_seq", 1)), top + 1)
            batch_no = int(self._get(c, "batch_no"))
            c.execute(
                "INSERT INTO intents (terminal_seq, batch_no, kind, card_id, amount, "
                "points_after, occurred_at, detail, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    seq,
                    batch_no,
                    kind,
                    card_id,
                    amount,
                    points_after,
                    occurred_at,
                    json.dumps(detail, ensure_ascii=False),
                    self._now(),
                ),
            )
            self._put(c, "next_seq", seq + 1)
        return Intent(seq, batch_no, kind, card_id, amount, points_after, occurred_at, detail)

    def record_transaction(self, terminal_seq: int, payload: dict[str, Any]) -> None:
        """The card write returned: commit the transaction (and close its intent)."""
        with self._tx() as c:
            intent = c.execute(
                "SELECT status, batch_no FROM intents WHERE terminal_seq = ?", (terminal_seq,)
            ).fetchone()
            if intent is None or intent["status"] != "open":
                raise JournalError(f"no open intent for transaction {terminal_seq}")
            if payload["terminal_seq"] != terminal_seq or payload["batch_no"] != intent[1]:
                raise JournalError("the transaction does not match its intent")
            c.execute(
                "INSERT INTO transactions (terminal_seq, batch_no, kind, card_id, amount, "
                "payload, journaled_at) VALUES (?,?,?,?,?,?,?)",
                (
                    terminal_seq,
                    intent["batch_no"],
                    payload["kind"],
                    payload["card_id"],
                    payload["amount"],
                    json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                    self._now(),
                ),
            )
            c.execute(
                "UPDATE intents SET status = 'done', resolved_at = ? WHERE terminal_seq = ?",
                (self._now(), terminal_seq),
            )

    def resolve_intent(self, terminal_seq: int, status: str, reason: str) -> None:
        """An intent that did not become a transaction: `refused` or `unknown`."""
        if status not in ("refused", "unknown"):
            raise ValueError(status)
        with self._tx() as c:
            c.execute(
                "UPDATE intents SET status = ?, reason = ?, resolved_at = ? "
                "WHERE terminal_seq = ? AND status = 'open'",
                (status, reason, self._now(), terminal_seq),
            )

    def open_intents(self) -> list[Intent]:
        return self._intents("status = 'open'")

    def unknown_intents(self) -> list[Intent]:
        return self._intents("status = 'unknown'")

    def unreported_unknown(self, ask_again_s: float = 600.0) -> list[Intent]:
        """Unknown outcomes to tell the server about: never reported, or reported while the
        card's chain could not show them yet ('open') more than `ask_again_s` ago."""
        cutoff = local_iso(self.clock.now() - timedelta(seconds=ask_again_s))
        with self._lock:
            done = {
                r[0]
                for r in self._db.execute(
                    "SELECT terminal_seq FROM unconfirmed_reports "
                    "WHERE status != 'open' OR reported_at > ?",
                    (cutoff,),
                ).fetchall()
            }
        return [it for it in self._intents("status = 'unknown'") if it.terminal_seq not in done]

    def mark_unknown_reported(self, answers: Sequence[tuple[int, str, int | None]]) -> None:
        """(terminal_seq, server status, txn_id): 'open' is asked again later, when the
        card's later writes may have shown the write; 'recovered' and 'refused' are final."""
        with self._tx() as c:
            for seq, status, txn_id in answers:
                c.execute(
                    "INSERT OR REPLACE INTO unconfirmed_reports (terminal_seq, status, txn_id, "
                    "reported_at) VALUES (?,?,?,?)",
                    (seq, status, txn_id, self._now()),
                )

    def _intents(self, where: str) -> list[Intent]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM intents WHERE {where} ORDER BY terminal_seq"  # noqa: S608
            ).fetchall()
        return [
            Intent(
                r["terminal_seq"],
                r["batch_no"],
                r["kind"],
                r["card_id"],
                r["amount"],
                r["points_after"],
                r["occurred_at"],
                json.loads(r["detail"]),
                r["status"],
            )
            for r in rows
        ]

    def transaction(self, terminal_seq: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT payload FROM transactions WHERE terminal_seq = ?", (terminal_seq,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def transactions(self) -> list[dict[str, Any]]:
        """Every journaled transaction with its upload status, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT payload, upload_status, server_status, error, error_detail "
                "FROM transactions ORDER BY terminal_seq"
            ).fetchall()
        out = []
        for r in rows:
            t = dict(json.loads(r[0]))
            t["_upload"] = {
                "status": r[1],
                "server_status": r[2],
                "error": r[3],
                "detail": r[4],
            }
            out.append(t)
        return out

    # --- events -----------------------------------------------------------------------

    def event(
        self,
        state: str,
        code: str,
        zh: str,
        en: str,
        *,
        card_id: str | None = None,
        terminal_seq: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO events (at, state, code, card_id, terminal_seq, zh, en, data) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    self._now(),
                    state,
                    code,
                    card_id,
                    terminal_seq,
                    zh,
                    en,
                    None if data is None else json.dumps(data, ensure_ascii=False),
                ),
            )
            return int(cur.lastrowid or 0)

    def events(self, limit: int = 50, code: str | None = None) -> list[dict[str, Any]]:
        """The newest events, oldest first."""
        sql = "SELECT * FROM events"
        args: tuple[Any, ...] = ()
        if code is not None:
            sql += " WHERE code = ?"
            args = (code,)
        sql += " ORDER BY id DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        out = []
        for r in reversed(rows):
            e = dict(r)
            e["data"] = None if e["data"] is None else json.loads(e["data"])
            out.append(e)
        return out

    # --- uploads ----------------------------------------------------------------------

    def pending_transactions(self, limit: int = 100) -> list[dict[str, Any]]:
        """Transactions not yet answered by the server, in transaction-number order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT payload FROM transactions WHERE upload_status = 'pending' "
                "ORDER BY terminal_seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def mark_answered(self, answers: Sequence[Answer]) -> int:
        """The server holds these (stored now, or a duplicate of what it had)."""
        n = 0
        with self._tx() as c:
            for a in answers:
                cur = c.execute(
                    "UPDATE transactions SET upload_status = 'stored', server_status = ?, "
                    "txn_id = ?, card_flagged = ?, error = NULL, error_detail = NULL, "
                    "answered_at = ? WHERE terminal_seq = ? AND upload_status = 'pending'",
                    (a.status, a.txn_id, int(a.card_flagged), self._now(), a.terminal_seq),
                )
                n += cur.rowcount
            if n:
                self._put(c, "last_upload_at", self._now())
        return n

    def mark_refused(self, terminal_seq: int, error: str, detail: str) -> None:
        """The server refused this transaction for good; it stays in the journal."""
        with self._tx() as c:
            c.execute(
                "UPDATE transactions SET upload_status = 'refused', error = ?, "
                "error_detail = ?, answered_at = ? WHERE terminal_seq = ?",
                (error, detail, self._now(), terminal_seq),
            )

    def counts(self) -> dict[str, int]:
        with self._lock:
            c = self._db
            out = {"pending": 0, "stored": 0, "refused": 0, "duplicate": 0}
            for status, n in c.execute(
                "SELECT upload_status, COUNT(*) FROM transactions GROUP BY upload_status"
            ):
                out[status] = n
            out["duplicate"] = c.execute(
                "SELECT COUNT(*) FROM transactions WHERE server_status = 'duplicate'"
            ).fetchone()[0]
            for status, n in c.execute("SELECT status, COUNT(*) FROM intents GROUP BY status"):
                out[f"intents_{status}"] = n
            out["unknown_outcomes"] = out.get("intents_unknown", 0)
            out["settlements_pending"] = c.execute(
                "SELECT COUNT(*) FROM settlements WHERE upload_status = 'pending'"
            ).fetchone()[0]
            out["events"] = c.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        return out

    def drained(self) -> bool:
        """Nothing waiting for the server: every transaction and settlement answered."""
        c = self.counts()
        return c["pending"] == 0 and c["settlements_pending"] == 0

    # --- batches ----------------------------------------------------------------------

    def close_batch(self) -> Settlement:
        """Close the open batch with totals computed from the journal, open the next."""
        closed_at = self._now()
        with self._tx() as c:
            batch_no = int(self._get(c, "batch_no"))
            opened_at = str(self._get(c, "batch_opened_at"))
            busy = c.execute(
                "SELECT COUNT(*) FROM intents WHERE batch_no = ? AND status = 'open'",
                (batch_no,),
            ).fetchone()[0]
            if busy:
                raise BatchBusy(f"batch {batch_no} has a card write in flight")
            row = c.execute(
                "SELECT COUNT(*), "
                "COALESCE(SUM(CASE WHEN amount < 0 THEN -amount ELSE 0 END), 0), "
                "COALESCE(SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0), "
                "MIN(terminal_seq), MAX(terminal_seq) FROM transactions WHERE batch_no = ?",
                (batch_no,),
            ).fetchone()
            if datetime.fromisoformat(closed_at) < datetime.fromisoformat(opened_at):
                closed_at = opened_at  # the clock was set back: never close before opening
            s = Settlement(batch_no, opened_at, closed_at, row[0], row[1], row[2], row[3], row[4])
            c.execute(
                "INSERT INTO settlements (batch_no, opened_at, closed_at, count, debit_total, "
                "credit_total, first_seq, last_seq) VALUES (?,?,?,?,?,?,?,?)",
                (
                    s.batch_no,
                    s.opened_at,
                    s.closed_at,
                    s.count,
                    s.debit_total,
                    s.credit_total,
                    s.first_seq,
                    s.last_seq,
                ),
            )
            self._put(c, "batch_no", batch_no + 1)
            self._put(c, "batch_opened_at", closed_at)
            self._put(c, "settle_requested", False)
        return s

    def settlements(self, status: str | None = None) -> list[Settlement]:
        sql = "SELECT * FROM settlements"
        args: tuple[Any, ...] = ()
        if status is not None:
            sql += " WHERE upload_status = ?"
            args = (status,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY batch_no", args).fetchall()
        return [self._settlement(r) for r in rows]

    @staticmethod
    def _settlement(r: sqlite3.Row) -> Settlement:
        return Settlement(
            r["batch_no"],
            r["opened_at"],
            r["closed_at"],
            r["count"],
            r["debit_total"],
            r["credit_total"],
            r["first_seq"],
            r["last_seq"],
            r["upload_status"],
        )

    def settlements_ready(self) -> list[Settlement]:
        """Closed batches not yet settled whose every transaction the server answered."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM settlements s WHERE s.upload_status = 'pending' AND NOT EXISTS "
                "(SELECT 1 FROM transactions t WHERE t.batch_no = s.batch_no "
                "AND t.upload_status = 'pending') ORDER BY s.batch_no"
            ).fetchall()
        return [self._settlement(r) for r in rows]

    def mark_settlement(
        self,
        batch_no: int,
        status: str,
        answer: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE settlements SET upload_status = ?, answer = ?, error = ?, "
                "answered_at = ? WHERE batch_no = ?",
                (
                    status,
                    None if answer is None else json.dumps(answer, ensure_ascii=False),
                    error,
                    self._now(),
                    batch_no,
                ),
            )

    def settlement_answer(self, batch_no: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT answer, error FROM settlements WHERE batch_no = ?", (batch_no,)
            ).fetchone()
        if row is None:
            return None
        return {"answer": None if row[0] is None else json.loads(row[0]), "error": row[1]}


class JournalLock:
    """An exclusive lock on a journal, held by the running kiosk, so that `onecity kiosk
    settle` knows whether it may close the batch itself or must ask the running kiosk."""

    def __init__(self, journal_path: Path | str) -> None:
        self.path = Path(str(journal_path) + ".lock")
        self._fh: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 (held open for as long as the lock)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
