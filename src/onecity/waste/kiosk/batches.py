"""The journal's batches: closing the open batch with totals computed from the journal, and
the settlements waiting for (or holding) the server's answer."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from onecity.waste.kiosk.records import BatchBusy, Settlement
from onecity.waste.kiosk.store import JournalFile


class BatchJournal(JournalFile):
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
