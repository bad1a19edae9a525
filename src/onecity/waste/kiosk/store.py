"""The station's own journal: one SQLite file, written before anything else happens.

This file holds its plumbing (the file, its schema, the key-value terminal state) and the
lock a running kiosk holds on it; batches.py the batches and settlements; journal.py the
rest (blocklist, tariffs, intents, transactions, events, uploads).

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
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Self

from onecity.waste.kiosk.hardware import Clock, local_iso
from onecity.waste.kiosk.records import JournalError

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


class JournalFile:
    """One connection to the station's journal file: the schema, one committed transaction
    per change, and the terminal state's key-value pairs. Thread-safe, but give each thread its
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

    def __enter__(self) -> Self:
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
