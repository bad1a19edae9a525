"""The money path of one visit: the intent committed before the card is touched, the card
write (retried with the same number when the citizen pulls the card), the transaction
committed right after, then the receipt. machine.py's docstring tells why in this order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from onecity.waste.kiosk.cards import CardAdapter, CardError, CardState, CardWrite
from onecity.waste.kiosk.hardware import Hardware, HardwareFault, local_iso
from onecity.waste.kiosk.journal import Journal
from onecity.waste.kiosk.records import Intent
from onecity.waste.kiosk.screen import Screen, SessionResult, reason_text
from onecity.waste.kiosk.states import Kind, Outcome, State, Stop, Timeouts
from onecity.waste.rules.linkcode import LINK_CODE_VALID
from onecity.waste.rules.money import RuleError

BuildTxn = Callable[[CardWrite, Intent], dict[str, Any]]


@dataclass(frozen=True)
class Write:
    """What a visit is about to write on the card."""

    kind: Kind
    amount: int  # signed NT$: a charge is negative
    points_after: int | None
    occurred: datetime
    build: BuildTxn  # the protocol's Txn from what the card answered
    detail: dict[str, Any]


class CardWriter:
    def __init__(
        self,
        station: str,
        journal: Journal,
        hardware: Hardware,
        display: Screen,
        timeouts: Timeouts,
        max_retries: int,
        link_codes: Callable[[], str],
    ) -> None:
        self.station = station
        self.journal = journal
        self.hw = hardware
        self.display = display
        self.timeouts = timeouts
        self.max_retries = max_retries
        self.link_codes = link_codes  # a fresh one-time code per transaction (linkcode.py)

    def payload(
        self,
        w: CardWrite,
        it: Intent,
        *,
        grams: int | None = None,
        tariff_from: str | None = None,
        items: list[dict[str, str]] | None = None,
        rejected: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """The protocol's Txn, from what the card answered."""
        return {
            "terminal_seq": it.terminal_seq,
            "batch_no": it.batch_no,
            "kind": it.kind,
            "occurred_at": it.occurred_at,
            "card_id": w.card_id,
            "card_counter": w.counter,
            "amount": w.amount,
            "balance_before": w.balance_before,
            "balance_after": w.balance_after,
            "points_before": w.points_before,
            "points_after": w.points_after,
            "grams": grams,
            "tariff_from": tariff_from,
            "items": items or [],
            "rejected": rejected or [],
            "link_code": self.link_codes(),
        }

    def write(self, card: CardAdapter, st: CardState, req: Write) -> tuple[CardWrite, Intent]:
        """Intent, card write, transaction; Stop when the card refuses or never comes back."""
        it = self.journal.open_intent(
            req.kind.value,
            st.card_id,
            req.amount,
            req.points_after,
            local_iso(req.occurred),
            req.detail,
        )
        self.display.state = State.SETTLED
        current: CardAdapter | None = card
        prompts = 0
        while True:
            if current is not None:
                w = self._attempt(current, it, req)
                if w is not None:
                    self.journal.record_transaction(it.terminal_seq, req.build(w, it))
                    return w, it
                current = None
            if prompts >= self.max_retries:
                raise self._give_up(it, req, prompts)
            prompts += 1
            current = self._card_back(st, it.terminal_seq, prompts)

    def _attempt(self, card: CardAdapter, it: Intent, req: Write) -> CardWrite | None:
        """One write with the intent's number; None when the citizen pulled the card."""
        seq = it.terminal_seq
        try:
            if req.amount < 0:
                return card.debit(-req.amount, self.station, seq)
            return card.credit(req.amount, self.station, seq, points_after=req.points_after)
        except CardError as e:
            if e.code != "card_removed":
                self._card_refused(it, e.code, str(e))
            return None
        except RuleError as e:
            self._card_refused(it, "card_rule", str(e))
            return None  # not reached: _card_refused raises

    def _card_back(self, st: CardState, seq: int, attempt: int) -> CardAdapter | None:
        """Ask for the pulled card; the card if the same one came back in time."""
        self.display.show(
            State.SETTLED, "reinsert", txn_seq=seq, attempt=attempt, max=self.max_retries
        )
        back = self.hw.reader.wait_for_card(self.timeouts.reinsert_s)
        if back is None:
            return None
        try:
            back_id = back.read().card_id
        except CardError:
            return None
        if back_id != st.card_id:
            self.display.show(State.SETTLED, "wrong_card", txn_seq=seq, card=st.card_id)
            self.hw.reader.eject()
            return None
        return back

    def _give_up(self, it: Intent, req: Write, prompts: int) -> Stop:
        seq = it.terminal_seq
        self.journal.resolve_intent(
            seq, "unknown", f"the card was not returned after {prompts} requests"
        )
        self.display.show(
            State.SETTLED,
            "unknown_outcome",
            txn_seq=seq,
            data={
                "kind": req.kind.value,
                "amount": req.amount,
                "points_after": req.points_after,
                "batch_no": it.batch_no,
                "occurred_at": it.occurred_at,
                "detail": req.detail,
                "cause": "card_not_returned",
            },
            station=self.station,
            seq=seq,
        )
        return Stop(Outcome.UNKNOWN_OUTCOME)

    def _card_refused(self, it: Intent, code: str, message: str) -> None:
        """The card said no: nothing was written. The number stays used."""
        self.journal.resolve_intent(it.terminal_seq, "refused", f"{code}: {message}")
        outcome = {
            "insufficient_value": Outcome.INSUFFICIENT_VALUE,
            "over_card_limit": Outcome.OVER_CARD_LIMIT,
            "card_blocked": Outcome.CARD_BLOCKED,
        }.get(code, Outcome.CARD_REFUSED)
        self.display.show(
            State.SETTLED,
            "card_refused",
            seq=it.terminal_seq,
            data={"code": code, "message": message, "amount": it.amount},
            reason=reason_text(code, message),
        )
        raise Stop(outcome)

    def settled(
        self,
        result: SessionResult,
        it: Intent,
        code: str,
        *,
        receipt: list[str],
        **kw: Any,
    ) -> None:
        """Say what was written and print the receipt (an empty roll is a flag, never a lost
        transaction)."""
        seq, batch = it.terminal_seq, it.batch_no
        txn = self.journal.transaction(seq)
        result.terminal_seq, result.batch_no, result.txn = seq, batch, txn
        result.outcome = Outcome.CHARGED if it.kind == Kind.GARBAGE else Outcome.CREDITED
        ref = {"station": self.station, "batch": batch, "seq": seq}
        self.display.show(State.SETTLED, code, txn_seq=seq, data=txn, **ref, **kw)
        occurred = datetime.fromisoformat(it.occurred_at)
        local = occurred.strftime("%Y-%m-%d %H:%M:%S")
        lines = [
            "OneCity iTrash 臺北市智慧垃圾站",
            f"Station 站號 {self.station}  Batch 批次 {batch}  Seq 序號 {seq}",
            f"{local}  Card 卡號 {it.card_id}",
            *receipt,
        ]
        link = txn.get("link_code") if txn else None
        if link:
            # On the screen too: a citizen without a receipt (paper out, or none wanted).
            until = (occurred + LINK_CODE_VALID).strftime("%Y-%m-%d %H:%M")
            self.display.show(State.SETTLED, "link_code", txn_seq=seq, link=link, until=until)
            lines.append(f"Link code 綁定碼 {link}  (until 至 {until}, once 限用一次)")
        try:
            self.hw.printer.print_receipt(lines)
        except HardwareFault as e:
            self.journal.put("paper_out", True)
            self.display.show(
                State.RECEIPT, "paper_out", txn_seq=seq, data={"error": str(e)}, **ref
            )
            return
        if self.journal.get("paper_out"):
            self.journal.put("paper_out", False)
        result.receipt_printed = True
        self.display.show(State.RECEIPT, "receipt", txn_seq=seq)
