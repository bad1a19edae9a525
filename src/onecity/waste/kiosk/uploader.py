"""The station's link to the server: sign-on, blocklist, transaction upload, settlements and
a small status as core telemetry — whenever the server answers, however long it was away.

Nothing leaves the journal until the server answered it. A permanent refusal (a 4xx other
than 401, 403, 408, 413 and 429) of a batch is isolated by resending its transactions one by
one: the bad one is marked refused with the server's error and the rest go on. A temporary
failure (5xx, 401/403, 429, a network error, a timeout, an answer that is not JSON) leaves
everything pending and the loop backs off exponentially, with jitter, up to a minute."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from onecity.waste.kiosk import SOFTWARE
from onecity.waste.kiosk.hardware import Clock, local_iso
from onecity.waste.kiosk.journal import Journal
from onecity.waste.kiosk.records import Answer
from onecity.waste.rules.money import RuleError

SIGN_ON = "/api/v1/waste/terminal/sign-on"
BLOCKLIST = "/api/v1/waste/terminal/blocklist"
TRANSACTIONS = "/api/v1/waste/terminal/transactions"
SETTLEMENTS = "/api/v1/waste/terminal/settlements"
TELEMETRY = "/api/v1/telemetry"
UNCONFIRMED = "/api/v1/waste/terminal/unconfirmed"

TEMPORARY_4XX = frozenset({401, 403, 408, 429})


class TemporaryFailure(Exception):
    """Try again later; nothing was lost."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Refused(Exception):
    """The server refused what was sent, for good (the same request gets the same answer)."""

    def __init__(self, status: int, error: str, detail: str, field: str | None) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.field = field


class TooLarge(Exception):
    """413: send less at once."""


@dataclass
class SyncReport:
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    settlements: int = 0
    first_seq: int | None = None
    last_seq: int | None = None

    def add_seq(self, seq: int) -> None:
        self.first_seq = seq if self.first_seq is None else min(self.first_seq, seq)
        self.last_seq = seq if self.last_seq is None else max(self.last_seq, seq)


def _retry_after(r: httpx.Response) -> float | None:
    try:
        return float(r.headers.get("retry-after", ""))
    except ValueError:
        return None


def _error_of(r: httpx.Response) -> tuple[str, str, str | None]:
    try:
        body = r.json()
    except ValueError:
        return f"http_{r.status_code}", r.text[:200], None
    if not isinstance(body, dict):
        return f"http_{r.status_code}", str(body)[:200], None
    field = body.get("field")
    return (
        str(body.get("error") or f"http_{r.status_code}"),
        str(body.get("detail") or ""),
        None if field is None else str(field),
    )


class Uploader:
    """Give it its own `Journal` (connection) when it runs in its own thread."""

    def __init__(
        self,
        journal: Journal,
        server: str,
        key: str,
        *,
        clock: Clock,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
        batch_size: int = 100,
        software: str = SOFTWARE,
        poll_s: float = 2.0,
        telemetry_every_s: float = 30.0,
        blocklist_every_s: float = 300.0,
        sign_on_every_s: float = 6 * 3600.0,
        first_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        timeout_s: float = 15.0,
        report: Callable[[str], None] | None = None,
    ) -> None:
        if not 1 <= batch_size <= 200:
            raise ValueError("a batch holds 1 to 200 transactions")
        self.journal = journal
        self.server = server.rstrip("/")
        self.key = key
        self.clock = clock
        self._own_client = client is None
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)), transport=transport
        )
        self.rng = rng or random.Random()
        self.batch_size = batch_size
        self.software = software
        self.poll_s = poll_s
        self.telemetry_every = timedelta(seconds=telemetry_every_s)
        self.blocklist_every = timedelta(seconds=blocklist_every_s)
        self.sign_on_every = timedelta(seconds=sign_on_every_s)
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.report = report or (lambda _msg: None)
        self.failures = 0
        self._signed_on_at: datetime | None = None
        self._signed_on_batch: int | None = None
        self._blocklist_at: datetime | None = None
        self._telemetry_at: datetime | None = None
        self._contact_noted: datetime | None = None
        self._last_error: str | None = None

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    # --- HTTP -------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        try:
            r = self.client.request(
                method,
                self.server + path,
                json=body,
                params=params,
                headers={"X-Device-Key": self.key},
            )
        except httpx.TransportError as e:
            raise TemporaryFailure(f"{type(e).__name__}: {e}".rstrip(": ")) from e
        code = r.status_code
        if code == 413:
            raise TooLarge()
        if code >= 500 or code in TEMPORARY_4XX:
            error, detail, _ = _error_of(r)
            raise TemporaryFailure(f"HTTP {code} {error} {detail}".strip(), _retry_after(r))
        if code >= 400:
            raise Refused(code, *_error_of(r))
        if code >= 300:
            raise TemporaryFailure(f"HTTP {code}: unexpected redirect")
        try:
            return r.json()
        except ValueError as e:
            raise TemporaryFailure(f"HTTP {code}: the answer is not JSON") from e

    # --- the protocol -----------------------------------------------------------------

    def sign_on(self) -> dict[str, Any]:
        batch = self.journal.batch().batch_no
        answer = self._call("POST", SIGN_ON, body={"software": self.software, "batch_no": batch})
        if not isinstance(answer, dict):
            raise TemporaryFailure("sign-on: unexpected answer")
        now = self.clock.now()
        values: dict[str, Any] = {
            "signed_on_at": local_iso(now),
            "server_terminal_id": answer.get("terminal_id"),
        }
        try:
            server_time = datetime.fromisoformat(str(answer.get("server_time")))
            values["clock_skew_s"] = round((server_time - now).total_seconds(), 1)
            if abs(values["clock_skew_s"]) > 120:
                self.report(f"sign-on · the station clock is {values['clock_skew_s']:+.0f} s off")
        except (TypeError, ValueError):
            pass
        self.journal.put_many(values)
        tid = answer.get("terminal_id")
        if tid is not None and tid != self.journal.station:
            self.report(f"sign-on · the server knows this key as {tid}, not {self.journal.station}")
        tariffs = answer.get("tariffs")
        if tariffs:
            try:
                self.journal.save_tariffs(tariffs)
            except (RuleError, KeyError, TypeError, ValueError) as e:
                self.report(f"sign-on · tariffs not usable, keeping the cached ones: {e}")
        self._signed_on_at = now
        self._signed_on_batch = batch
        version = answer.get("blocklist_version")
        if version is not None and version != self.journal.blocklist_version():
            self._blocklist_at = None  # refresh now
        self.report(f"sign-on · {tid} · batch {batch} · blocklist v{version}")
        return answer

    def refresh_blocklist(self) -> int:
        """Fetch what changed since our version (everything the first time); the version."""
        since = self.journal.blocklist_version()
        answer = self._call("GET", BLOCKLIST, params=None if since is None else {"since": since})
        version = int(answer["version"])
        entries = [(str(c["card_id"]), bool(c.get("blocked", True))) for c in answer["cards"]]
        self.journal.apply_blocklist(version, bool(answer.get("full")), entries)
        self._blocklist_at = self.clock.now()
        if entries or since is None:
            self.report(f"blocklist · v{version} · {len(self.journal.blocked_cards())} blocked")
        return version

    def upload_pending(self, rep: SyncReport | None = None) -> SyncReport:
        """Send every pending transaction, in number order, up to `batch_size` at once."""
        rep = rep or SyncReport()
        size = self.batch_size
        while True:
            batch = self.journal.pending_transactions(size)
            if not batch:
                return rep
            try:
                answer = self._call("POST", TRANSACTIONS, body={"transactions": batch})
            except TooLarge:
                if size > 1:
                    size = max(1, size // 2)
                    continue
                self._refuse(batch[0], "too_large", "the server says this is too large", rep)
                continue
            except Refused as e:
                self._isolate(batch, e, rep)
                continue
            if self._apply(batch, answer, rep) == 0:
                raise TemporaryFailure("the server's answer names none of the transactions sent")

    def _isolate(self, batch: Sequence[dict[str, Any]], first: Refused, rep: SyncReport) -> None:
        """One bad transaction refuses its whole batch: find it by sending them one by one."""
        self.report(
            f"upload · batch of {len(batch)} refused ({first.error} at {first.field}); "
            "sending one by one"
        )
        for txn in batch:
            try:
                answer = self._call("POST", TRANSACTIONS, body={"transactions": [txn]})
            except Refused as e:
                self._refuse(txn, e.error, e.detail, rep)
            except TooLarge:
                self._refuse(txn, "too_large", "the server says this is too large", rep)
            else:
                self._apply([txn], answer, rep)

    def _refuse(self, txn: dict[str, Any], error: str, detail: str, rep: SyncReport) -> None:
        seq = int(txn["terminal_seq"])
        self.journal.mark_refused(seq, error, detail)
        rep.refused += 1
        self.report(f"upload · seq {seq} ({txn['card_id']}) REFUSED: {error}: {detail}")

    def _apply(self, sent: Sequence[dict[str, Any]], answer: Any, rep: SyncReport) -> int:
        wanted = {int(t["terminal_seq"]) for t in sent}
        answers: list[Answer] = []
        try:
            for r in answer["results"]:
                seq = int(r["terminal_seq"])
                if seq in wanted and r.get("status") in ("stored", "duplicate"):
                    answers.append(
                        Answer(seq, str(r["status"]), r.get("txn_id"), bool(r.get("card_flagged")))
                    )
        except (KeyError, TypeError, ValueError) as e:
            raise TemporaryFailure(f"an answer the station does not understand: {e}") from e
        n = self.journal.mark_answered(answers)
        for a in answers:
            rep.add_seq(a.terminal_seq)
            if a.status == "duplicate":
                rep.duplicates += 1
            else:
                rep.stored += 1
            if a.card_flagged:
                card = next(t["card_id"] for t in sent if t["terminal_seq"] == a.terminal_seq)
                self.report(f"upload · seq {a.terminal_seq}: the server flagged card {card}")
        return n

    def report_unconfirmed(self) -> int:
        """Tell the server about card writes whose outcome the station never learnt, so the
        money can be recovered from the card's own chain. Returns how many were recovered."""
        todo = self.journal.unreported_unknown()[:200]
        if not todo:
            return 0
        table = self.journal.tariff_table()
        writes = []
        for it in todo:
            w: dict[str, Any] = {
                "terminal_seq": it.terminal_seq,
                "batch_no": it.batch_no,
                "kind": it.kind,
                "occurred_at": it.occurred_at,
                "card_id": it.card_id,
                "amount": it.amount,
                "points_after": it.points_after,
            }
            if it.kind == "garbage":
                day = datetime.fromisoformat(it.occurred_at).date()
                w["grams"] = it.detail.get("grams")
                w["tariff_from"] = table.on(day).effective_from.isoformat()
            writes.append(w)
        try:
            answer = self._call("POST", UNCONFIRMED, body={"writes": writes})
        except Refused as e:
            # Final for these numbers: keep the refusal in the journal, do not ask again.
            self.journal.mark_unknown_reported([(it.terminal_seq, "refused", None) for it in todo])
            self.report(f"unconfirmed writes · refused: {e}")
            return 0
        results = answer.get("results", []) if isinstance(answer, dict) else []
        self.journal.mark_unknown_reported(
            [(int(r["terminal_seq"]), str(r["status"]), r.get("txn_id")) for r in results]
        )
        recovered = sum(1 for r in results if r.get("status") == "recovered")
        self.report(f"unconfirmed writes · {len(results)} reported · {recovered} recovered")
        return recovered

    def send_settlements(self, rep: SyncReport | None = None) -> SyncReport:
        """Settle every closed batch whose transactions the server has all answered."""
        rep = rep or SyncReport()
        for s in self.journal.settlements_ready():
            try:
                answer = self._call("POST", SETTLEMENTS, body=s.payload())
            except Refused as e:
                self.journal.mark_settlement(s.batch_no, "refused", error=f"{e.error}: {e.detail}")
                self.report(f"settlement · batch {s.batch_no} REFUSED: {e.error}: {e.detail}")
                continue
            except TooLarge as e:
                raise TemporaryFailure("settlement: 413") from e
            status = answer.get("status") if isinstance(answer, dict) else None
            if status not in ("matched", "mismatch"):
                raise TemporaryFailure(f"settlement: unexpected answer {answer!r:.200}")
            self.journal.mark_settlement(s.batch_no, str(status), answer=answer)
            rep.settlements += 1
            diffs = "; ".join(str(d) for d in answer.get("differences") or [])
            self.report(
                f"settlement · batch {s.batch_no} · {s.count} txns · "
                f"NT${s.debit_total} charged · NT${s.credit_total} rebated · {status}"
                + (f" ({diffs})" if diffs else "")
            )
        return rep

    def status_values(self) -> dict[str, float | bool]:
        c = self.journal.counts()
        return {
            "pending_uploads": c["pending"],
            "sessions": int(self.journal.get("sessions", 0)),
            "out_of_service": self.journal.out_of_service() is not None,
            "paper_out": bool(self.journal.get("paper_out", False)),
            "refused_uploads": c["refused"],
            "unknown_outcomes": c["unknown_outcomes"],
        }

    def send_telemetry(self) -> bool:
        """Post the station's status as core telemetry; a lost status is not retried."""
        seq = self.journal.next_telemetry_seq()
        msg = {"seq": seq, "ts": local_iso(self.clock.now()), "values": self.status_values()}
        self._telemetry_at = self.clock.now()
        try:
            self._call("POST", TELEMETRY, body={"messages": [msg]})
        except (TemporaryFailure, Refused, TooLarge) as e:
            self.report(f"telemetry · not sent: {e}")
            return False
        return True

    # --- the loop ---------------------------------------------------------------------

    def sync_once(self) -> SyncReport:
        """Everything due, once. TemporaryFailure when the server is out of reach."""
        now = self.clock.now()
        batch = self.journal.batch().batch_no
        if (
            self._signed_on_at is None
            or now - self._signed_on_at >= self.sign_on_every
            or batch != self._signed_on_batch
        ):
            try:
                self.sign_on()
            except Refused as e:
                self._signed_on_at, self._signed_on_batch = now, batch
                self.report(f"sign-on · refused: {e}")
        if self._blocklist_at is None or now - self._blocklist_at >= self.blocklist_every:
            try:
                self.refresh_blocklist()
            except Refused as e:
                self._blocklist_at = now
                self.report(f"blocklist · refused: {e}")
            except (KeyError, TypeError, ValueError) as e:
                raise TemporaryFailure(
                    f"blocklist: an answer the station does not understand: {e}"
                ) from e
        rep = self.upload_pending()
        self.report_unconfirmed()
        self.send_settlements(rep)
        if (
            self._contact_noted is None
            or now - self._contact_noted >= timedelta(minutes=1)
            or self._last_error is not None
            or rep.stored + rep.duplicates + rep.refused + rep.settlements
        ):  # not a disk write every poll
            self.journal.put_many({"last_contact_at": local_iso(now), "last_upload_error": None})
            self._contact_noted, self._last_error = now, None
        if rep.stored or rep.duplicates or rep.refused:
            left = self.journal.counts()["pending"]
            seqs = (
                f" (seq {rep.first_seq}–{rep.last_seq})"
                if rep.first_seq != rep.last_seq
                else f" (seq {rep.first_seq})"
            )
            self.report(
                f"upload · {rep.stored} stored · {rep.duplicates} duplicate · "
                f"{rep.refused} refused{seqs} · {left} pending"
            )
        return rep

    def backoff_s(self, failures: int) -> float:
        """Exponential, with jitter (half to all of the step), never over the cap."""
        step = min(self.max_backoff_s, self.first_backoff_s * 2.0 ** min(30, max(0, failures - 1)))
        return min(self.max_backoff_s, step / 2 + self.rng.uniform(0, step / 2))

    def run(
        self,
        stop: threading.Event,
        *,
        until_drained: bool = False,
        deadline_s: float | None = None,
    ) -> bool:
        """Keep the server up to date until `stop` (or, with `until_drained`, until nothing
        waits for it). Survives the server being away for any length of time. Returns
        whether everything was answered."""
        started = self.clock.now()
        while not stop.is_set():
            try:
                self.sync_once()
            except TemporaryFailure as e:
                self.failures += 1
                delay = self.backoff_s(self.failures)
                if e.retry_after_s is not None:
                    delay = max(delay, min(e.retry_after_s, self.max_backoff_s))
                pending = self.journal.counts()["pending"]
                if str(e) != self._last_error:
                    self.journal.put("last_upload_error", str(e))
                    self._last_error = str(e)
                self.report(
                    f"upload · server unreachable ({e}) · {pending} pending · "
                    f"retry in {delay:.0f} s"
                )
            else:
                if self.failures:
                    self.report(f"upload · server reachable again after {self.failures} tries")
                self.failures = 0
                delay = self.poll_s
                if (
                    self._telemetry_at is None
                    or self.clock.now() - self._telemetry_at >= self.telemetry_every
                ):
                    self.send_telemetry()
                if until_drained and self.journal.drained():
                    return True
            if deadline_s is not None:
                elapsed = (self.clock.now() - started).total_seconds()
                if elapsed + delay > deadline_s:
                    return self.journal.drained()
            if self.clock.wait(stop, delay):
                break
        return self.journal.drained()
