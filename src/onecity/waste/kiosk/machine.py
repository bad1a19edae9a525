"""One citizen's visit to the station, as an explicit state machine.

Garbage:   IDLE → CARD_READ → DOOR_OPEN → WEIGHING → SETTLED → RECEIPT → IDLE
Recycling: IDLE → CARD_READ → RECYCLING → SETTLED → RECEIPT → IDLE
A door jam sends the station to OUT_OF_SERVICE until a technician calls `repair`.

Every transition and every refusal is an event in the journal, with what the screen shows in
zh-TW and English.

The money path's order is what makes the station crash-safe:

1. take a transaction number and commit an *intent* (what is about to be written) — before
   the card is touched;
2. write the card; if the citizen pulls it mid-write, ask for it again and retry with the
   SAME number (the card answers a retry with its first result), at most `max_retries`
   times; if it never comes back, the intent ends `unknown` (an event, not a transaction);
3. commit the transaction right after the card write returns — before printing;
4. print; an empty paper roll is an event and a flag, never a lost transaction.

On restart, an intent with no transaction (the station stopped between 2 and 3) becomes an
"unknown outcome" event. A number is never handed out twice.

A drop that costs more than the card holds (possible only near NT$100 with a heavy drop: the
door opens at NT$100 and 50 kg costs up to NT$1,100): the card cannot go below zero and the
server recomputes the charge from the tariff, so a partial charge would be refused. The
station does not write the card at all: it keeps the garbage (it cannot hand it back),
charges nothing and journals an `insufficient_value` refusal with card, weight and charge so
the city can follow up. Likewise a rebate that would take a card over NT$10,000.

The states and outcomes are in states.py, the screen's texts and the screen in screen.py, the
money path (intent, card write, transaction, receipt) in cardwrite.py, and the garbage and
recycling visits in visits.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from onecity.waste.kiosk.cards import CardAdapter, CardError
from onecity.waste.kiosk.cardwrite import CardWriter
from onecity.waste.kiosk.hardware import TAIPEI, Clock, Hardware, HardwareFault
from onecity.waste.kiosk.journal import Journal
from onecity.waste.kiosk.records import BatchBusy, Intent, Settlement
from onecity.waste.kiosk.screen import Screen, ScreenLine, SessionResult, render
from onecity.waste.kiosk.states import Kind, Outcome, State, Stop, Timeouts
from onecity.waste.kiosk.visits import Visits
from onecity.waste.rules.linkcode import new_code


def recover_open_intents(journal: Journal) -> list[Intent]:
    """After a restart: an intent with no transaction is an unknown outcome. The card may
    or may not have been written; the server's reconciliation will tell (a counter gap)."""
    found = journal.open_intents()
    for it in found:
        journal.resolve_intent(
            it.terminal_seq, "unknown", "the station stopped between the card write and the journal"
        )
        text = render(
            "recovered_unknown", station=journal.station, seq=it.terminal_seq, card=it.card_id
        )
        journal.event(
            State.IDLE,
            "unknown_outcome",
            text.zh,
            text.en,
            card_id=it.card_id,
            terminal_seq=it.terminal_seq,
            data={
                "kind": it.kind,
                "amount": it.amount,
                "points_after": it.points_after,
                "batch_no": it.batch_no,
                "occurred_at": it.occurred_at,
                "detail": it.detail,
                "cause": "restart",
            },
        )
    return found


def batch_due(opened_at: datetime, now: datetime, batch_minutes: float | None) -> bool:
    """Is the open batch due to close: after `batch_minutes`, or else at local midnight."""
    if batch_minutes is not None:
        return now - opened_at >= timedelta(minutes=batch_minutes)
    return now.astimezone(TAIPEI).date() > opened_at.astimezone(TAIPEI).date()


def close_batch_now(journal: Journal, state: State = State.IDLE) -> Settlement:
    """Close the open batch (totals from the journal), open the next, and say so.
    BatchBusy while a card write of the batch is in flight."""
    s = journal.close_batch()
    text = render(
        "batch_closed",
        batch=s.batch_no,
        count=s.count,
        debit=s.debit_total,
        credit=s.credit_total,
    )
    journal.event(state, "batch_closed", text.zh, text.en, data=s.payload())
    return s


class KioskMachine:
    """The station's session logic over its hardware and its journal.

    `session(kind)` serves one citizen: it waits for a card on the reader and runs the
    visit to the end (the card is always handed back). `screen` is called with every line
    the screen shows."""

    def __init__(
        self,
        station: str,
        journal: Journal,
        hardware: Hardware,
        clock: Clock,
        *,
        screen: Callable[[ScreenLine], None] | None = None,
        timeouts: Timeouts | None = None,
        max_retries: int = 3,
        link_codes: Callable[[], str] = new_code,
        journal_link_codes: bool = False,
    ) -> None:
        if journal.station != station:
            raise ValueError(f"the journal belongs to station {journal.station}")
        self.station = station
        self.journal = journal
        self.hw = hardware
        self.clock = clock
        self.screen = screen
        self.timeouts = timeouts or Timeouts()
        self.recovered = recover_open_intents(journal)
        self.display = Screen(
            journal,
            clock,
            screen,
            journal_link_codes=journal_link_codes,
            state=State.OUT_OF_SERVICE if journal.out_of_service() else State.IDLE,
        )
        self.writer = CardWriter(
            station, journal, hardware, self.display, self.timeouts, max_retries, link_codes
        )
        self.visits = Visits(journal, hardware, clock, self.display, self.timeouts, self.writer)

    @property
    def state(self) -> State:
        return self.display.state

    # --- operations -------------------------------------------------------------------

    @property
    def out_of_service(self) -> bool:
        return self.state is State.OUT_OF_SERVICE

    def take_out_of_service(self, reason: str) -> None:
        self.journal.set_out_of_service(reason)
        self.display.card_id = None
        self.display.show(State.OUT_OF_SERVICE, "out_of_service", reason=reason)

    def repair(self) -> None:
        """A technician fixed the station."""
        self.journal.set_out_of_service(None)
        self.display.card_id = None
        self.display.show(State.IDLE, "repaired")

    def close_batch(self) -> Settlement | None:
        """Close the open batch now (None while a card write is in flight)."""
        try:
            s = self.journal.close_batch()
        except BatchBusy:
            return None
        self.display.card_id = None
        self.display.show(
            self.state,
            "batch_closed",
            data=s.payload(),
            batch=s.batch_no,
            count=s.count,
            debit=s.debit_total,
            credit=s.credit_total,
        )
        return s

    # --- a visit ----------------------------------------------------------------------

    def session(self, kind: Kind, card_timeout_s: float = 1.0) -> SessionResult:
        """Serve one citizen at the garbage door or the bottle/can intake."""
        show = self.display.show
        self.display.lines = []
        self.display.card_id = None
        result = SessionResult(kind, Outcome.NO_CARD, lines=self.display.lines)
        card = self.hw.reader.wait_for_card(card_timeout_s)
        if card is None:
            return result
        self.journal.add("sessions")
        try:
            self._serve(kind, card, result)
        except Stop as stop:
            result.outcome = stop.outcome
        except HardwareFault as e:  # a device failed in a way the visit does not handle
            self.journal.set_out_of_service(f"{e.code}: {e}")
            show(State.OUT_OF_SERVICE, "out_of_service", reason=f"{e.code}: {e}")
            result.outcome = Outcome.OUT_OF_SERVICE
        finally:
            self.hw.reader.eject()
            after = State.OUT_OF_SERVICE if self.journal.out_of_service() else State.IDLE
            show(after, "take_card")
            self.display.card_id = None
        return result

    def _serve(self, kind: Kind, card: CardAdapter, result: SessionResult) -> None:
        refuse = self.display.refuse
        oos = self.journal.out_of_service()
        if oos is not None:
            raise refuse(Outcome.OUT_OF_SERVICE, reason=oos)
        try:
            st = card.read()
        except CardError as e:
            raise refuse(Outcome.CARD_PULLED, "card_pulled", data={"code": e.code}) from e
        self.display.card_id = result.card_id = st.card_id
        self.display.show(
            State.CARD_READ, "card_read", data={"kind": kind.value}, balance=st.balance
        )
        if self.journal.blocklist_version() is None:
            # Never signed on: without the blocklist it could take value from a blocked card
            # that the city would then refuse to record. After one sign-on it works offline.
            raise refuse(Outcome.NOT_SIGNED_ON)
        if st.blocked or self.journal.is_blocked(st.card_id):
            raise refuse(Outcome.CARD_BLOCKED)
        if kind is Kind.GARBAGE:
            self.visits.garbage(card, st, result)
        else:
            self.visits.recycle(card, st, result)
