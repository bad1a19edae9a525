"""The station's SQLite journal: durable settings, numbering, intents, transactions, batches,
and that a killed process loses nothing it committed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from onecity.waste.kiosk.hardware import TAIPEI, ManualClock
from onecity.waste.kiosk.journal import Journal
from onecity.waste.kiosk.records import (
    Answer,
    BatchBusy,
    JournalError,
    tariffs_from_json,
    tariffs_to_json,
)
from onecity.waste.kiosk.store import JournalLock
from onecity.waste.rules.money import RuleError

STATION = "IT125"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 26, 8, 0, tzinfo=TAIPEI))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "kiosk.sqlite"


def txn(seq: int, batch: int = 1, amount: int = -11, card: str = "EC-1") -> dict[str, Any]:
    return {
        "terminal_seq": seq,
        "batch_no": batch,
        "kind": "garbage" if amount < 0 else "recycle",
        "occurred_at": "2026-11-26T08:00:00+08:00",
        "card_id": card,
        "card_counter": seq,
        "amount": amount,
        "balance_before": 1000,
        "balance_after": 1000 + amount,
        "points_before": 0,
        "points_after": 0,
        "grams": 430 if amount < 0 else None,
        "tariff_from": "2026-01-01" if amount < 0 else None,
        "items": [],
        "rejected": [],
    }


def write(j: Journal, amount: int = -11, card: str = "EC-1") -> int:
    it = j.open_intent("garbage", card, amount, None, "2026-11-26T08:00:00+08:00", {})
    j.record_transaction(it.terminal_seq, txn(it.terminal_seq, it.batch_no, amount, card))
    return it.terminal_seq


def test_a_new_journal_starts_at_one_and_is_durable(path: Path, clock: ManualClock) -> None:
    with Journal(path, STATION, clock) as j:
        assert (j.station, j.next_seq, j.batch().batch_no) == (STATION, 1, 1)
        assert j.batch().opened_at == clock.now()
        assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert j.tariff_table().on(clock.now().date()).effective_from.year == 2026


def test_a_journal_belongs_to_one_station(path: Path, clock: ManualClock) -> None:
    Journal(path, STATION, clock).close()
    with pytest.raises(JournalError, match="IT125"):
        Journal(path, "IT999", clock)
    with Journal(path, None, clock) as j:  # opening without naming the station
        assert j.station == STATION
    with pytest.raises(JournalError):
        Journal(path.with_name("missing.sqlite"), None, clock)


def test_everything_survives_reopening(path: Path, clock: ManualClock) -> None:
    with Journal(path, STATION, clock) as j:
        write(j)
        write(j, amount=3)
        j.apply_blocklist(7, True, [("EC-BAD", True)])
        j.save_tariffs(tariffs_to_json(j.tariff_table().versions))
        j.event("idle", "repaired", "維修完成", "repaired")
        j.set_out_of_service("door jam")
        j.put("paper_out", True)
        assert j.next_telemetry_seq() == 1
        j.close_batch()
    with Journal(path, STATION, clock) as j:
        assert [t["terminal_seq"] for t in j.transactions()] == [1, 2]
        assert j.transaction(2) == txn(2, 1, 3)
        assert j.is_blocked("EC-BAD") and j.blocklist_version() == 7
        assert j.get("tariffs") is not None
        assert j.events()[-1]["zh"] == "維修完成"
        assert j.out_of_service() == "door jam" and j.get("paper_out") is True
        assert j.next_telemetry_seq() == 2
        assert (j.next_seq, j.batch().batch_no) == (3, 2)
        assert [s.batch_no for s in j.settlements()] == [1]


def test_numbers_rise_and_are_never_handed_out_twice(path: Path, clock: ManualClock) -> None:
    with Journal(path, STATION, clock) as j:
        a = j.open_intent("garbage", "EC-1", -11, None, "t", {})
        j.resolve_intent(a.terminal_seq, "refused", "insufficient_value")
        b = j.open_intent("garbage", "EC-1", -11, None, "t", {})
        j.resolve_intent(b.terminal_seq, "unknown", "card gone")
        j.put("next_seq", 1)  # a damaged counter
        c = j.open_intent("recycle", "EC-1", 1, 4, "t", {})
        assert [a.terminal_seq, b.terminal_seq, c.terminal_seq] == [1, 2, 3]
        assert j.counts()["intents_refused"] == 1 and j.counts()["unknown_outcomes"] == 1


def test_a_transaction_needs_its_open_intent(path: Path, clock: ManualClock) -> None:
    with Journal(path, STATION, clock) as j:
        with pytest.raises(JournalError):
            j.record_transaction(1, txn(1))
        seq = write(j)
        with pytest.raises((JournalError, sqlite3.IntegrityError)):
            j.record_transaction(seq, txn(seq))
        it = j.open_intent("garbage", "EC-1", -11, None, "t", {})
        with pytest.raises(JournalError, match="match"):
            j.record_transaction(it.terminal_seq, txn(it.terminal_seq, batch=9))
        j.resolve_intent(it.terminal_seq, "unknown", "gone")
        with pytest.raises(JournalError):
            j.record_transaction(it.terminal_seq, txn(it.terminal_seq))


def test_open_intents_are_what_a_restart_must_resolve(path: Path, clock: ManualClock) -> None:
    with Journal(path, STATION, clock) as j:
        write(j)
        j.open_intent("garbage", "EC-2", -22, None, "t", {"grams": 900})
    with Journal(path, STATION, clock) as j:
        (left,) = j.open_intents()
        assert (left.terminal_seq, left.card_id, left.amount, left.detail) == (
            2,
            "EC-2",
            -22,
            {"grams": 900},
        )


def test_closing_a_batch_totals_it_from_the_journal(path: Path, clock: ManualClock) -> None:
    with Journal(path, STATION, clock) as j:
        write(j, -11)
        write(j, -33)
        write(j, 2)
        write(j, 0)
        clock.advance(3600)
        s = j.close_batch()
        assert s.payload() == {
            "batch_no": 1,
            "opened_at": "2026-11-26T08:00:00+08:00",
            "closed_at": "2026-11-26T09:00:00+08:00",
            "count": 4,
            "debit_total": 44,
            "credit_total": 2,
            "first_seq": 1,
            "last_seq": 4,
        }
        assert j.batch().batch_no == 2 and j.batch().opened_at == clock.now()
        empty = j.close_batch()
        assert (empty.count, empty.first_seq, empty.last_seq) == (0, None, None)
        j.open_intent("garbage", "EC-1", -11, None, "t", {})
        with pytest.raises(BatchBusy):
            j.close_batch()


def test_a_settlement_is_ready_once_its_transactions_are_answered(
    path: Path, clock: ManualClock
) -> None:
    with Journal(path, STATION, clock) as j:
        write(j)
        write(j)
        j.close_batch()
        write(j)  # batch 2, still open
        assert j.settlements_ready() == []
        assert [t["terminal_seq"] for t in j.pending_transactions()] == [1, 2, 3]
        j.mark_answered([Answer(1, "stored", 10)])
        assert j.settlements_ready() == []
        j.mark_refused(2, "tariff_mismatch", "the server computes NT$22")
        assert [s.batch_no for s in j.settlements_ready()] == [1]
        j.mark_settlement(1, "matched", {"status": "matched"})
        assert j.settlements_ready() == [] and j.counts()["settlements_pending"] == 0
        assert not j.drained()
        j.mark_answered([Answer(3, "duplicate", 12)])
        assert j.drained()
        c = j.counts()
        assert (c["stored"], c["duplicate"], c["refused"], c["pending"]) == (2, 1, 1, 0)
        (refused,) = [t for t in j.transactions() if t["_upload"]["status"] == "refused"]
        assert refused["_upload"]["error"] == "tariff_mismatch"


def test_the_blocklist_takes_full_lists_and_changes(path: Path, clock: ManualClock) -> None:
    with Journal(path, STATION, clock) as j:
        j.apply_blocklist(3, True, [("A", True), ("B", True)])
        j.apply_blocklist(5, False, [("A", False), ("C", True)])
        assert j.blocked_cards() == ["B", "C"] and j.blocklist_version() == 5
        j.apply_blocklist(9, True, [("D", True)])
        assert j.blocked_cards() == ["D"]


def test_tariffs_from_the_server_are_checked_before_they_are_cached(
    path: Path, clock: ManualClock
) -> None:
    raw = [
        {
            "effective_from": "2026-01-01",
            "name": "Taipei iTrash 2026",
            "steps": [[200, 5]],
            "increment_g": 500,
            "per_increment": 11,
        }
    ]
    assert tariffs_to_json(tariffs_from_json(raw)) == raw
    with Journal(path, STATION, clock) as j:
        j.save_tariffs(raw)
        assert [t.name for t in j.tariff_table().versions] == ["Taipei iTrash 2026"]
        with pytest.raises(RuleError):
            j.save_tariffs([{**raw[0], "steps": [[500, 5], [200, 9]]}])
        with pytest.raises(RuleError):
            j.save_tariffs([])
        assert len(j.tariff_table().versions) == 1


def test_the_lock_tells_whether_a_kiosk_runs_on_the_journal(path: Path) -> None:
    first, second = JournalLock(path), JournalLock(path)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


KILLED = """
import os, signal, sys
from onecity.waste.kiosk.hardware import SystemClock
from onecity.waste.kiosk.journal import Journal
j = Journal(sys.argv[1], "IT125", SystemClock())
for n in range(20):
    it = j.open_intent("garbage", "EC-1", -11, None, "2026-11-26T08:00:00+08:00", {})
    t = {"terminal_seq": it.terminal_seq, "batch_no": 1, "kind": "garbage", "card_id": "EC-1",
         "amount": -11}
    j.record_transaction(it.terminal_seq, t)
j.open_intent("garbage", "EC-1", -11, None, "2026-11-26T08:00:00+08:00", {})
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_sigkill_loses_nothing_committed(path: Path, clock: ManualClock) -> None:
    p = subprocess.run(
        [sys.executable, "-c", KILLED, str(path)], capture_output=True, timeout=60, check=False
    )
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()
    assert os.path.exists(str(path) + "-wal")  # the WAL was never checkpointed into the file
    with Journal(path, STATION, clock) as j:
        assert len(j.transactions()) == 20
        assert [i.terminal_seq for i in j.open_intents()] == [21]
        assert j.next_seq == 22
