"""The station's session state machine over simulated hardware: every path and every fault,
the card retry, crash safety, and the simulated cards' wallet. No network, no real waits."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from onecity.waste.kiosk.cards import (
    CardAdapter,
    CardError,
    CardState,
    CardWrite,
    SimulatedEasyCard,
)
from onecity.waste.kiosk.cli import _status as kiosk_status
from onecity.waste.kiosk.hardware import TAIPEI, Item, ManualClock, RejectReason, SimStation
from onecity.waste.kiosk.journal import Journal
from onecity.waste.kiosk.machine import KioskMachine, batch_due
from onecity.waste.kiosk.screen import ScreenLine
from onecity.waste.kiosk.sim import Citizens, FaultRates, Wallet, WalletCard, wallet_cards
from onecity.waste.kiosk.states import Kind, Outcome, State
from onecity.waste.ledger.schemas import TxnIn
from onecity.waste.rules.money import MIN_BALANCE_TO_OPEN, Material, rebate

STATION = "IT125"
TXN_KEYS = {
    "terminal_seq",
    "batch_no",
    "kind",
    "occurred_at",
    "card_id",
    "card_counter",
    "amount",
    "balance_before",
    "balance_after",
    "points_before",
    "points_after",
    "grams",
    "tariff_from",
    "items",
    "rejected",
    "link_code",
}


@dataclass
class Rig:
    path: Path
    clock: ManualClock
    journal: Journal
    sim: SimStation
    machine: KioskMachine
    screen: list[ScreenLine]

    def restart(self) -> Rig:
        """The station process stops and starts again on the same journal."""
        self.journal.close()
        return make_rig(self.path, self.clock)

    def garbage(
        self, card: SimulatedEasyCard, grams: int = 430, after_s: float = 3.0
    ) -> tuple[Outcome, dict[str, object] | None]:
        self.sim.reader.insert(card)
        if grams:
            self.sim.door.expect_deposit(grams, after_s)
        r = self.machine.session(Kind.GARBAGE)
        self.sim.after_visit()
        return r.outcome, r.txn

    def recycle(self, card: SimulatedEasyCard, items: list[Item]) -> tuple[Outcome, dict | None]:
        self.sim.reader.insert(card)
        self.sim.recogniser.feed([(1.5, i) for i in items])
        r = self.machine.session(Kind.RECYCLE)
        self.sim.after_visit()
        return r.outcome, r.txn

    def codes(self) -> list[str]:
        return [e["code"] for e in self.journal.events(limit=1000)]


def make_rig(path: Path, clock: ManualClock | None = None) -> Rig:
    clock = clock or ManualClock(datetime(2026, 11, 26, 19, 3, 11, tzinfo=TAIPEI))
    journal = Journal(path, STATION, clock)
    if journal.blocklist_version() is None:
        journal.apply_blocklist(0, True, [])  # as after its first sign-on
    sim = SimStation(clock)
    screen: list[ScreenLine] = []
    codes = (f"K{n:03d}-TEST" for n in itertools.count(1))
    machine = KioskMachine(
        STATION, journal, sim.hardware(), clock, screen=screen.append, link_codes=codes.__next__
    )
    return Rig(path, clock, journal, sim, machine, screen)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path / "kiosk.sqlite")
    yield r
    r.journal.close()


def card(balance: int = 1000, **kw: object) -> SimulatedEasyCard:
    return SimulatedEasyCard("EC-0000123", balance, **kw)  # type: ignore[arg-type]


PET = Item("4710000118013", Material.PET)
CAN = Item("4711000109206", Material.ALUMINIUM)


# --- garbage --------------------------------------------------------------------------


def test_a_garbage_visit_goes_through_every_state_and_journals_the_protocol_txn(rig: Rig) -> None:
    c = card()
    outcome, txn = rig.garbage(c, grams=430)
    assert outcome is Outcome.CHARGED
    assert txn is not None and set(txn) == TXN_KEYS
    assert txn == {
        "terminal_seq": 1,
        "batch_no": 1,
        "kind": "garbage",
        "occurred_at": "2026-11-26T19:03:14+08:00",  # after the 3 s deposit
        "card_id": "EC-0000123",
        "card_counter": 1,
        "amount": -11,
        "balance_before": 1000,
        "balance_after": 989,
        "points_before": 0,
        "points_after": 0,
        "grams": 430,
        "tariff_from": "2026-01-01",
        "items": [],
        "rejected": [],
        "link_code": "K001-TEST",
    }
    assert (c.balance, c.counter) == (989, 1)
    states = [line.state for line in rig.screen]
    assert states == [
        State.CARD_READ,
        State.DOOR_OPEN,
        State.DOOR_OPEN,
        State.WEIGHING,
        State.SETTLED,
        State.SETTLED,
        State.RECEIPT,
        State.IDLE,
    ]
    texts = [line.text() for line in rig.screen]
    assert texts[1] == "EC-0000123 · door open · deposit within 15 s"
    assert texts[4] == (
        "EC-0000123 · 0.43 kg · NT$11 · balance 1000 → 989 · receipt IT125/batch 1/seq 1"
    )
    assert rig.screen[4].zh.startswith("0.43 kg · NT$11 · 餘額 1000 → 989")
    receipt = rig.sim.printer.printed[-1]
    assert any("IT125" in ln and "Batch 批次 1" in ln and "Seq 序號 1" in ln for ln in receipt)
    assert any("NT$1000 -> NT$989" in ln for ln in receipt)
    assert any("K001-TEST" in ln and "2026-11-28 19:03" in ln for ln in receipt)
    events = rig.journal.events()
    assert all(e["zh"] and e["en"] for e in events)
    assert rig.machine.state is State.IDLE
    assert rig.journal.get("sessions") == 1


def test_the_tariff_is_the_one_in_force_on_the_taipei_day(tmp_path: Path) -> None:
    # 16:30 UTC on 31 December is already 00:30 on 1 January in Taipei: the 2026 tariff.
    r = make_rig(tmp_path / "a.sqlite", ManualClock(datetime(2025, 12, 31, 16, 30, tzinfo=UTC)))
    _, txn = r.garbage(card(), grams=450)
    assert txn is not None
    assert (txn["tariff_from"], txn["amount"]) == ("2026-01-01", -11)
    assert str(txn["occurred_at"]).startswith("2026-01-01T00:30:03+08:00")
    r = make_rig(tmp_path / "b.sqlite", ManualClock(datetime(2025, 12, 31, 15, 0, tzinfo=UTC)))
    _, txn = r.garbage(card(), grams=450)
    assert txn is not None
    assert (txn["tariff_from"], txn["amount"]) == ("2019-01-01", -4)


def test_cached_tariffs_from_sign_on_are_used(rig: Rig) -> None:
    rig.journal.save_tariffs(
        [
            {
                "effective_from": "2026-01-01",
                "name": "x",
                "steps": [[200, 5]],
                "increment_g": 500,
                "per_increment": 11,
            },
            {
                "effective_from": "2026-11-01",
                "name": "new",
                "steps": [[1000, 20]],
                "increment_g": 1000,
                "per_increment": 20,
            },
        ]
    )
    _, txn = rig.garbage(card(), grams=430)
    assert txn is not None and (txn["amount"], txn["tariff_from"]) == (-20, "2026-11-01")


def test_a_card_on_the_blocklist_is_refused_before_any_write(rig: Rig) -> None:
    rig.journal.apply_blocklist(4, True, [("EC-0000123", True)])
    c = card()
    assert rig.garbage(c)[0] is Outcome.CARD_BLOCKED
    assert (c.balance, c.counter) == (1000, 0)
    assert rig.sim.door.opened == 0
    assert rig.journal.next_seq == 1  # no number taken for a refusal
    assert "card_blocked" in rig.codes()
    assert rig.screen[-2].text() == "EC-0000123 · card blocked; please contact the city"


def test_a_station_that_never_signed_on_takes_no_card(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 11, 26, 19, 3, 11, tzinfo=TAIPEI))
    journal = Journal(tmp_path / "new.sqlite", STATION, clock)
    sim = SimStation(clock)
    machine = KioskMachine(STATION, journal, sim.hardware(), clock)
    c = card()
    sim.reader.insert(c)
    sim.door.expect_deposit(430, 3.0)
    assert machine.session(Kind.GARBAGE).outcome is Outcome.NOT_SIGNED_ON
    assert (c.balance, c.counter) == (1000, 0)  # nothing written on the card
    journal.apply_blocklist(0, True, [])  # the first sign-on
    sim.reader.insert(c)
    sim.door.expect_deposit(430, 3.0)
    assert machine.session(Kind.GARBAGE).outcome is Outcome.CHARGED
    journal.close()


def test_a_card_blocked_by_its_issuer_is_refused(rig: Rig) -> None:
    c = card(blocked=True)
    assert rig.recycle(c, [PET])[0] is Outcome.CARD_BLOCKED
    assert c.counter == 0


def test_the_door_opens_only_from_nt100(rig: Rig) -> None:
    poor = card(MIN_BALANCE_TO_OPEN - 1)
    assert rig.garbage(poor)[0] is Outcome.LOW_BALANCE
    assert rig.sim.door.opened == 0
    assert "balance NT$99 is below NT$100" in rig.screen[-2].en
    assert rig.garbage(card(MIN_BALANCE_TO_OPEN))[0] is Outcome.CHARGED


def test_a_full_compartment_refuses_garbage_but_not_recycling(rig: Rig) -> None:
    rig.sim.fill.force_garbage_full = True
    assert rig.garbage(card())[0] is Outcome.COMPARTMENT_FULL
    assert rig.sim.door.opened == 0
    assert rig.recycle(card(), [PET])[0] is Outcome.CREDITED


def test_nothing_deposited_within_15_s_closes_the_door_without_charge(rig: Rig) -> None:
    c = card()
    before = rig.clock.now()
    assert rig.garbage(c, grams=0)[0] is Outcome.NO_DEPOSIT
    assert (rig.clock.now() - before).total_seconds() == pytest.approx(15.0)
    assert not rig.sim.door.is_open
    assert c.counter == 0
    codes = rig.codes()
    assert codes.index("door_auto_close") < codes.index("weighing") < codes.index("no_deposit")
    assert rig.screen[-2].en == "nothing deposited within 15 s; door closed, no charge"
    assert rig.journal.next_seq == 1


def test_a_bag_left_without_closing_the_door_is_still_weighed_and_charged(rig: Rig) -> None:
    rig.sim.reader.insert(card())
    rig.sim.door.expect_deposit(900, 5, closes=False)
    r = rig.machine.session(Kind.GARBAGE)
    assert r.outcome is Outcome.CHARGED and r.amount == -22
    assert "door_auto_close" in rig.codes()


def test_a_door_that_jams_on_opening_takes_the_station_out_of_service(rig: Rig) -> None:
    rig.sim.door.jam_on_open = True
    c = card()
    assert rig.garbage(c)[0] is Outcome.DOOR_JAM
    assert c.counter == 0
    assert rig.machine.state is State.OUT_OF_SERVICE
    assert rig.journal.out_of_service() is not None
    # the next citizen is refused, even by the bottle intake, even after a restart
    assert rig.recycle(card(), [PET])[0] is Outcome.OUT_OF_SERVICE
    rig = rig.restart()
    assert rig.machine.state is State.OUT_OF_SERVICE
    assert rig.garbage(card())[0] is Outcome.OUT_OF_SERVICE
    rig.sim.repair()
    rig.machine.repair()
    assert rig.machine.state is State.IDLE
    assert rig.garbage(card())[0] is Outcome.CHARGED


def test_a_door_that_jams_after_the_deposit_charges_nothing(rig: Rig) -> None:
    rig.sim.door.jam_on_close = True
    c = card()
    assert rig.garbage(c)[0] is Outcome.DOOR_JAM
    assert c.counter == 0 and c.balance == 1000
    assert "weighing" not in rig.codes()
    assert rig.machine.out_of_service


def test_a_scale_error_charges_nothing_and_says_so(rig: Rig) -> None:
    rig.sim.scale.fail_next_read = True
    c = card()
    assert rig.garbage(c)[0] is Outcome.SCALE_ERROR
    assert c.counter == 0
    assert rig.screen[-2].en == "scale error; no charge"
    assert rig.screen[-2].zh == "秤重異常，本次不收費"
    assert not rig.machine.out_of_service
    rig.sim.scale.fail_next_tare = True
    assert rig.garbage(c)[0] is Outcome.SCALE_ERROR
    assert rig.sim.door.opened == 1  # a scale that does not tare keeps the door shut
    assert rig.garbage(c)[0] is Outcome.CHARGED


def test_a_reading_over_50_kg_is_a_scale_fault_not_a_charge(rig: Rig) -> None:
    c = card()
    assert rig.garbage(c, grams=50_001)[0] is Outcome.SCALE_ERROR
    assert c.counter == 0
    assert "weight_out_of_range" in rig.codes()


def test_a_drop_costing_more_than_the_card_holds_is_not_written(rig: Rig) -> None:
    c = card(MIN_BALANCE_TO_OPEN)
    assert rig.garbage(c, grams=45_000)[0] is Outcome.INSUFFICIENT_VALUE  # NT$990
    assert (c.balance, c.counter) == (100, 0)
    ev = rig.journal.events(code="insufficient_value")[-1]
    assert ev["data"] == {"grams": 45_000, "charge": 990, "balance": 100, "kept": True}
    assert rig.journal.next_seq == 1


def test_paper_out_neither_loses_nor_blocks_the_transaction(rig: Rig) -> None:
    rig.sim.printer.paper_out = True
    rig.sim.reader.insert(card())
    rig.sim.door.expect_deposit(430, 2)
    r = rig.machine.session(Kind.GARBAGE)
    assert r.outcome is Outcome.CHARGED and not r.receipt_printed
    assert rig.journal.transaction(1) is not None
    assert rig.journal.get("paper_out") is True
    assert (
        "receipt paper out; the transaction is recorded: IT125/batch 1/seq 1" in rig.screen[-2].en
    )
    rig.sim.printer.refill(None)
    assert rig.garbage(card())[0] is Outcome.CHARGED
    assert rig.journal.get("paper_out") is False


# --- the card leaves mid-write ----------------------------------------------------------


def test_a_card_pulled_mid_write_and_put_back_is_charged_exactly_once(rig: Rig) -> None:
    c = card(pull_after_write=True)
    outcome, txn = rig.garbage(c)
    assert outcome is Outcome.CHARGED
    assert (c.balance, c.counter) == (989, 1)
    assert txn is not None and (txn["terminal_seq"], txn["card_counter"]) == (1, 1)
    assert txn["balance_before"] == 1000 and txn["balance_after"] == 989
    assert rig.codes().count("reinsert") == 1
    assert len(rig.journal.transactions()) == 1
    assert rig.journal.next_seq == 2


def test_a_card_pulled_before_the_write_is_written_once_it_is_back(rig: Rig) -> None:
    c = card()

    class PullsBeforeWrite:
        """The citizen pulls the card after the door closed, before the charge."""

        def __init__(self, inner: SimulatedEasyCard) -> None:
            self.inner = inner
            self.pulled = False

        def read(self) -> CardState:
            return self.inner.read()

        def debit(self, amount: int, terminal_id: str, terminal_seq: int) -> CardWrite:
            if not self.pulled:
                self.pulled = True
                self.inner.present = False
            return self.inner.debit(amount, terminal_id, terminal_seq)

        def credit(
            self, amount: int, terminal_id: str, terminal_seq: int, points_after: int | None = None
        ) -> CardWrite:
            return self.inner.credit(amount, terminal_id, terminal_seq, points_after)

    wrapped: CardAdapter = PullsBeforeWrite(c)
    rig.sim.reader.insert(c)  # the citizen's real card, for when they put it back
    rig.sim.reader.wait_for_card(0)
    rig.sim.door.expect_deposit(430, 2)

    class Slot:
        def __init__(self) -> None:
            self.first = True

        def wait_for_card(self, timeout_s: float) -> CardAdapter | None:
            if self.first:
                self.first = False
                return wrapped
            return rig.sim.reader.wait_for_card(timeout_s)

        def eject(self) -> None:
            rig.sim.reader.eject()

    rig.machine.hw.reader = Slot()
    r = rig.machine.session(Kind.GARBAGE)
    assert r.outcome is Outcome.CHARGED
    assert (c.balance, c.counter) == (989, 1)


def test_a_card_that_never_comes_back_is_an_unknown_outcome_not_a_transaction(rig: Rig) -> None:
    c = card(pull_after_write=True)
    rig.sim.reader.insert(c, reinserts=0)
    rig.sim.door.expect_deposit(430, 2)
    before = rig.clock.now()
    r = rig.machine.session(Kind.GARBAGE)
    assert r.outcome is Outcome.UNKNOWN_OUTCOME
    assert c.counter == 1  # the card was written; the station cannot know
    assert rig.journal.transactions() == []
    assert [i.terminal_seq for i in rig.journal.unknown_intents()] == [1]
    assert rig.codes().count("reinsert") == 3
    waited = (rig.clock.now() - before).total_seconds()
    assert waited >= 3 * rig.machine.timeouts.reinsert_s
    ev = rig.journal.events(code="unknown_outcome")[-1]
    assert ev["terminal_seq"] == 1 and ev["data"]["cause"] == "card_not_returned"
    # the number is gone for good
    assert rig.garbage(card())[1]["terminal_seq"] == 2  # type: ignore[index]


def test_another_card_put_back_is_not_written(rig: Rig) -> None:
    c = card(pull_after_write=True)
    other = SimulatedEasyCard("EC-9999999", 1000)
    rig.sim.reader.insert(c, reinserts=0)
    rig.sim.reader.insert(other)  # someone else's card comes in when asked
    rig.sim.door.expect_deposit(430, 2)
    r = rig.machine.session(Kind.GARBAGE)
    assert r.outcome is Outcome.UNKNOWN_OUTCOME
    assert other.counter == 0
    assert "wrong_card" in rig.codes()


def test_a_card_refusing_the_write_uses_up_the_number_but_is_no_transaction(rig: Rig) -> None:
    class Refuses(SimulatedEasyCard):
        def debit(self, amount: int, terminal_id: str, terminal_seq: int) -> CardWrite:
            raise CardError("insufficient_value", "not enough value")

    c = Refuses("EC-0000123", 500)
    assert rig.garbage(c)[0] is Outcome.INSUFFICIENT_VALUE
    assert rig.journal.transactions() == []
    assert rig.journal.counts()["intents_refused"] == 1
    assert rig.garbage(card())[1]["terminal_seq"] == 2  # type: ignore[index]


# --- crash safety -----------------------------------------------------------------------


class Crash(BaseException):
    """The power goes between the card write and the journal."""


def test_a_crash_between_card_write_and_journal_is_an_unknown_outcome_on_restart(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = card()
    assert rig.garbage(c)[0] is Outcome.CHARGED

    def crash(*_a: object) -> None:
        raise Crash

    monkeypatch.setattr(rig.journal, "record_transaction", crash)
    with pytest.raises(Crash):
        rig.garbage(c, grams=900)
    assert (c.balance, c.counter) == (967, 2)  # the card was charged
    monkeypatch.undo()
    rig = rig.restart()
    assert [i.terminal_seq for i in rig.machine.recovered] == [2]
    assert [i.terminal_seq for i in rig.journal.unknown_intents()] == [2]
    assert rig.journal.open_intents() == []
    ev = rig.journal.events(code="unknown_outcome")[-1]
    assert ev["data"]["cause"] == "restart" and ev["data"]["amount"] == -22
    assert [t["terminal_seq"] for t in rig.journal.transactions()] == [1]
    _, txn = rig.garbage(c)
    assert txn is not None and txn["terminal_seq"] == 3 and txn["card_counter"] == 3


def test_transaction_numbers_are_never_reused_across_restarts(rig: Rig) -> None:
    seqs = []
    for _ in range(3):
        seqs.append(rig.garbage(card())[1]["terminal_seq"])  # type: ignore[index]
    for _ in range(3):
        rig = rig.restart()
        seqs.append(rig.recycle(card(), [PET] * 3)[1]["terminal_seq"])  # type: ignore[index]
        rig.journal.put("next_seq", 1)  # even a damaged counter does not hand one out twice
    rig = rig.restart()
    seqs.append(rig.garbage(card())[1]["terminal_seq"])  # type: ignore[index]
    assert seqs == [1, 2, 3, 4, 5, 6, 7]


# --- recycling --------------------------------------------------------------------------


def test_recycling_credits_whole_dollars_carries_points_and_says_why_items_came_back(
    rig: Rig,
) -> None:
    c = card(points=30)
    items = [
        PET,
        CAN,
        Item("4710000224059", Material.PET, RejectReason.NOT_EMPTY),
        Item("", None, RejectReason.CRUSHED),
        Item("4712000033105", None, RejectReason.WRONG_MATERIAL),
        Item("4900000000001", None),
        PET,
    ]
    outcome, txn = rig.recycle(c, items)
    assert outcome is Outcome.CREDITED
    expected = rebate(30, [Material.PET, Material.ALUMINIUM, Material.PET])  # 43 points
    assert txn is not None and set(txn) == TXN_KEYS
    assert (txn["amount"], txn["points_before"], txn["points_after"]) == (
        expected.ntd,
        30,
        expected.points_left,
    )
    assert txn["grams"] is None and txn["tariff_from"] is None
    assert txn["items"] == [
        {"barcode": PET.barcode, "material": "pet"},
        {"barcode": CAN.barcode, "material": "aluminium"},
        {"barcode": PET.barcode, "material": "pet"},
    ]
    assert txn["rejected"] == [
        {"barcode": "4710000224059", "reason": "not_empty"},
        {"barcode": "", "reason": "crushed"},
        {"barcode": "4712000033105", "reason": "wrong_material"},
        {"barcode": "4900000000001", "reason": "wrong_material"},
    ]
    assert (c.balance, c.points) == (1001, 3)
    said = [line.en for line in rig.screen if line.code == "item_rejected"]
    assert said[0] == "✗ 4710000224059 handed back: not empty"
    assert any(line.state is State.RECYCLING for line in rig.screen)


def test_a_visit_earning_less_than_a_dollar_still_writes_the_points(rig: Rig) -> None:
    c = card()
    _, txn = rig.recycle(c, [PET, PET, PET])
    assert txn is not None and (txn["amount"], txn["points_after"], txn["card_counter"]) == (
        0,
        12,
        1,
    )
    assert (c.balance, c.points, c.counter) == (1000, 12, 1)


def test_nothing_accepted_is_no_card_write(rig: Rig) -> None:
    c = card()
    outcome, txn = rig.recycle(c, [Item("x", None, RejectReason.UNKNOWN_BARCODE)])
    assert (outcome, txn, c.counter) == (Outcome.NOTHING_ACCEPTED, None, 0)
    assert rig.journal.next_seq == 1


def test_a_full_bin_refuses_or_stops_the_intake(rig: Rig) -> None:
    rig.sim.fill.force_recycle_full = True
    assert rig.recycle(card(), [PET])[0] is Outcome.BIN_FULL
    rig.sim.fill.force_recycle_full = False
    rig.sim.fill.recycle_capacity = rig.sim.fill.recycle_items + 2
    _, txn = rig.recycle(card(), [PET] * 5)
    assert txn is not None and len(txn["items"]) == 2  # type: ignore[arg-type]
    assert "bin_full_now" in rig.codes()


def test_a_rebate_over_the_card_limit_is_not_written(rig: Rig) -> None:
    c = card(10_000, points=39)
    assert rig.recycle(c, [PET])[0] is Outcome.OVER_CARD_LIMIT
    assert c.counter == 0


# --- batches ----------------------------------------------------------------------------


def test_closing_a_batch_totals_the_journal_and_opens_the_next(rig: Rig) -> None:
    rig.garbage(card(), grams=430)  # -11
    rig.garbage(card(), grams=1200)  # -33
    rig.recycle(card(), [PET] * 10)  # +1
    s = rig.machine.close_batch()
    assert s is not None
    assert (s.batch_no, s.count, s.debit_total, s.credit_total, s.first_seq, s.last_seq) == (
        1,
        3,
        44,
        1,
        1,
        3,
    )
    assert "batch 1 closed: 3 transactions, charged NT$44, rebated NT$1" in rig.screen[-1].en
    _, txn = rig.garbage(card())
    assert txn is not None and (txn["batch_no"], txn["terminal_seq"]) == (2, 4)


def test_batches_close_at_taipei_midnight_or_every_m_minutes() -> None:
    opened = datetime(2026, 11, 26, 23, 0, tzinfo=TAIPEI)
    assert not batch_due(opened, datetime(2026, 11, 26, 23, 59, tzinfo=TAIPEI), None)
    assert batch_due(opened, datetime(2026, 11, 27, 0, 0, 1, tzinfo=TAIPEI), None)
    assert batch_due(opened, datetime(2026, 11, 26, 23, 10, tzinfo=TAIPEI), 10)
    assert not batch_due(opened, datetime(2026, 11, 26, 23, 9, tzinfo=TAIPEI), 10)


# --- simulated cards and citizens --------------------------------------------------------


def test_wallet_cards_are_what_the_server_should_register() -> None:
    assert wallet_cards("IT125", 2, 1000) == [
        ("EC-IT125-0001", 1000, 0),
        ("EC-IT125-0002", 1000, 0),
    ]
    long = wallet_cards("taipei:station_0000000000000042", 1, 500)[0][0]
    assert len(long) <= 32 and all(ch.isalnum() or ch == "-" for ch in long)


def test_the_wallet_keeps_each_card_and_its_retry_memory_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "wallet.sqlite"
    w = Wallet(path, STATION, 3, 1000)
    assert [c.card_id for c in w.cards] == [c for c, _, _ in wallet_cards(STATION, 3, 1000)]
    c = w.card("EC-IT125-0002")
    c.present = True
    c.pull_after_write = True
    with pytest.raises(CardError):
        c.debit(11, STATION, 7)  # written, then pulled
    w.close()
    w = Wallet(path, STATION, 3, 1000)
    again = w.card("EC-IT125-0002")
    assert (again.balance, again.counter) == (989, 1)
    again.present = True
    first = again.debit(11, STATION, 7)  # the retry after a restart: the first result
    assert (first.balance_after, first.counter, again.balance) == (989, 1, 989)
    w.close()


def test_simulated_citizens_bring_realistic_garbage_and_bottles(tmp_path: Path) -> None:
    import random

    w = Wallet(tmp_path / "w.sqlite", STATION, 5, 1000)
    people = Citizens(w, STATION, random.Random(1), FaultRates())
    grams = sorted(people.garbage_grams() for _ in range(2000))
    assert grams[len(grams) // 10] >= 100 and grams[len(grams) * 9 // 10] <= 5000
    visits = [people.next_visit() for _ in range(500)]
    recycle = [v for v in visits if v.kind is Kind.RECYCLE]
    assert 0.2 < len(recycle) / len(visits) < 0.4
    assert all(1 <= len(v.items) <= 30 for v in recycle)
    reasons = {i.reject_reason for v in recycle for _, i in v.items} - {None}
    assert {"not_empty", "crushed", "unknown_barcode", "wrong_material"} <= reasons
    assert all(isinstance(v.card, WalletCard) or v.card.blocked for v in visits)
    w.close()


def test_any_other_device_fault_takes_the_station_out_of_service(rig: Rig) -> None:
    from onecity.waste.kiosk.hardware import HardwareFault

    class Broken:
        def next_item(self, timeout_s: float) -> Item | None:
            raise HardwareFault("the intake motor stalled")

    rig.machine.hw.recogniser = Broken()
    c = card()
    assert rig.recycle(c, [PET])[0] is Outcome.OUT_OF_SERVICE
    assert c.counter == 0 and rig.machine.out_of_service
    assert "intake motor stalled" in (rig.journal.out_of_service() or "")


def test_each_visit_shows_and_prints_its_own_link_code_and_uploads_it(tmp_path: Path) -> None:
    """The proof a citizen links a card with (issue 14): a fresh random code per transaction,
    on the screen (paper or not), on the receipt and in the protocol transaction."""
    clock = ManualClock(datetime(2026, 11, 26, 19, 3, 11, tzinfo=TAIPEI))
    journal = Journal(tmp_path / "k.sqlite", STATION, clock)
    journal.apply_blocklist(0, True, [])
    sim = SimStation(clock, paper_roll=1)
    screen: list[ScreenLine] = []
    machine = KioskMachine(STATION, journal, sim.hardware(), clock, screen=screen.append)
    c = card()
    seen = []
    for _ in range(2):  # the second visit finds the paper roll empty
        sim.reader.insert(c)
        sim.door.expect_deposit(300, 2.0)
        r = machine.session(Kind.GARBAGE)
        sim.after_visit()
        assert r.txn is not None
        code = str(r.txn["link_code"])
        assert TxnIn.model_validate(r.txn).link_code == code  # what the server accepts
        shown = [
            ln for ln in screen if ln.code == "link_code" and ln.terminal_seq == r.terminal_seq
        ]
        assert len(shown) == 1 and code in shown[0].en and code in shown[0].zh
        seen.append(code)
    assert seen[0] != seen[1]
    [receipt] = sim.printer.printed
    assert any(seen[0] in ln for ln in receipt)
    journal.close()
    # The station's status tool and journal keep it masked: a copy of the journal links no card.
    [last] = kiosk_status(tmp_path / "k.sqlite")["last_link_code"]
    assert last["card_id"] == c.card_id and "****-****" in last["en"]
    status = json.dumps(kiosk_status(tmp_path / "k.sqlite"))
    assert not any(code in status for code in seen)
    events = Journal(tmp_path / "k.sqlite", STATION, clock)
    kept = json.dumps(events.events(limit=1000))
    events.close()
    assert not any(code in kept for code in seen)


def test_a_demo_station_keeps_its_link_codes_for_the_status_tool(tmp_path: Path) -> None:
    """The README's walk-through links a card with the code `onecity kiosk status` shows."""
    clock = ManualClock(datetime(2026, 11, 26, 19, 3, 11, tzinfo=TAIPEI))
    journal = Journal(tmp_path / "k.sqlite", STATION, clock)
    journal.apply_blocklist(0, True, [])
    sim = SimStation(clock)
    machine = KioskMachine(STATION, journal, sim.hardware(), clock, journal_link_codes=True)
    c = card()
    sim.reader.insert(c)
    sim.door.expect_deposit(300, 2.0)
    r = machine.session(Kind.GARBAGE)
    assert r.txn is not None
    journal.close()
    [last] = kiosk_status(tmp_path / "k.sqlite")["last_link_code"]
    assert last["card_id"] == c.card_id and str(r.txn["link_code"]) in last["en"]
