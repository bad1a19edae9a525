"""The station's journal as the machine and the uploader use it: the blocklist and cached
tariffs, the money path (intents before a card write, transactions after), the events the
station showed, and the upload bookkeeping. Its file and schema are in store.py, its batches
and settlements in batches.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from onecity.waste.kiosk.batches import BatchJournal
from onecity.waste.kiosk.hardware import local_iso
from onecity.waste.kiosk.records import Answer, Intent, JournalError, OpenBatch, tariffs_from_json
from onecity.waste.rules.money import TariffTable


class Journal(BatchJournal):
    """One connection to the station's journal file. Thread-safe, but give each thread its
    own instance: writers then wait on SQLite's lock, not on each other's Python code."""

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
