"""The iTrash money rules, without a database: tariffs, rebates, the card and reconciliation."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onecity.waste.kiosk.cards import CardError, CardWrite, SimulatedEasyCard, reconcile
from onecity.waste.rules.money import (
    POINTS_PER_NTD,
    Material,
    RuleError,
    Tariff,
    TariffTable,
    can_open_door,
    rebate,
)

TABLE = TariffTable()


@pytest.mark.parametrize(
    ("grams", "ntd"),
    [(1, 5), (200, 5), (201, 11), (500, 11), (501, 22), (1000, 22), (1001, 33), (2400, 55)],
)
def test_2026_tariff(grams: int, ntd: int) -> None:
    assert TABLE.on(date(2026, 3, 1)).charge(grams) == ntd


@pytest.mark.parametrize(("grams", "ntd"), [(150, 1), (200, 1), (450, 4), (900, 8), (1500, 16)])
def test_earlier_tariff_applies_before_2026(grams: int, ntd: int) -> None:
    assert TABLE.on(date(2025, 12, 31)).charge(grams) == ntd


def test_tariff_gap_and_bad_weights_are_refused() -> None:
    with pytest.raises(RuleError, match="no tariff in force"):
        TABLE.on(date(2018, 12, 31))
    tariff = TABLE.on(date(2026, 1, 1))
    for grams in (0, -5, 50_001):
        with pytest.raises(RuleError) as err:
            tariff.charge(grams)
        assert err.value.field == "grams"


def test_a_tariff_that_charges_less_for_more_is_refused() -> None:
    with pytest.raises(RuleError):
        Tariff(date(2030, 1, 1), ((200, 5), (500, 3)), 500, 11)


@given(st.integers(1, 49_999))
def test_heavier_never_costs_less(grams: int) -> None:
    for day in (date(2025, 1, 1), date(2026, 1, 1)):
        t = TABLE.on(day)
        assert t.charge(grams + 1) >= t.charge(grams)


def test_rebates_pay_whole_dollars_and_carry_the_rest() -> None:
    ten_bottles = [Material.PET] * 10
    assert rebate(0, ten_bottles) == rebate(0, ten_bottles)
    assert rebate(0, ten_bottles).ntd == 1
    assert rebate(0, [Material.ALUMINIUM] * 8).ntd == 1
    seven = rebate(0, [Material.PET] * 7)
    assert (seven.ntd, seven.points_left) == (0, 28)
    later = rebate(seven.points_left, [Material.PET] * 3)
    assert (later.ntd, later.points_left) == (1, 0)


@given(st.lists(st.lists(st.sampled_from(list(Material)), max_size=30), max_size=20))
def test_rebates_over_many_visits_equal_one_big_visit(visits: list[list[Material]]) -> None:
    carried, paid = 0, 0
    for items in visits:
        r = rebate(carried, items)
        paid, carried = paid + r.ntd, r.points_left
    everything = [m for items in visits for m in items]
    assert paid * POINTS_PER_NTD + carried == rebate(0, everything).ntd * POINTS_PER_NTD + (
        rebate(0, everything).points_left
    )


def test_door_needs_one_hundred_dollars() -> None:
    assert not can_open_door(99) and can_open_door(100)


def test_retry_after_the_card_was_pulled_does_not_charge_twice() -> None:
    card = SimulatedEasyCard("EC-1", balance=500, pull_after_write=True)
    with pytest.raises(CardError) as err:
        card.debit(11, "T1", 7)
    assert err.value.code == "card_removed"
    card.present = True  # the citizen puts it back; the terminal retries the same number
    w = card.debit(11, "T1", 7)
    assert (w.balance_before, w.balance_after, w.counter) == (500, 489, 1)
    assert card.read().balance == 489


def test_card_limits() -> None:
    card = SimulatedEasyCard("EC-2", balance=9_995)
    with pytest.raises(CardError) as over:
        card.credit(10, "T1", 1)
    assert over.value.code == "over_card_limit"
    with pytest.raises(CardError) as low:
        SimulatedEasyCard("EC-3", balance=3).debit(5, "T1", 1)
    assert low.value.code == "insufficient_value"
    with pytest.raises(CardError) as blocked:
        SimulatedEasyCard("EC-4", balance=300, blocked=True).debit(5, "T1", 1)
    assert blocked.value.code == "card_blocked"
    assert card.read().counter == 0  # refusals write nothing


@settings(max_examples=200)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 60), st.booleans()), max_size=40))
def test_card_history_always_reconciles(ops: list[tuple[bool, int, bool]]) -> None:
    """Random debits and credits, some interrupted and retried: the card's own history is
    always contiguous and balanced, and its balance is the sum of what was written."""
    card = SimulatedEasyCard("EC-5", balance=1_000)
    writes: dict[int, CardWrite] = {}
    for seq, (is_debit, amount, pull) in enumerate(ops, 1):
        card.pull_after_write = pull
        try:
            w = card.debit(amount, "T9", seq) if is_debit else card.credit(amount, "T9", seq)
        except CardError as e:
            if e.code != "card_removed":
                continue
            card.present = True
            w = card.debit(amount, "T9", seq) if is_debit else card.credit(amount, "T9", seq)
        writes[w.counter] = w
    assert reconcile(list(writes.values())) == []
    assert card.balance == 1_000 + sum(w.amount for w in writes.values())


def test_reconcile_finds_a_lost_upload_and_a_clone() -> None:
    a = CardWrite("EC-6", "T1", 1, 1, -5, 100, 95)
    b = CardWrite("EC-6", "T1", 2, 2, -11, 95, 84)
    c = CardWrite("EC-6", "T2", 1, 4, -5, 84, 79)  # counter 3 never reached the server
    clone = CardWrite("EC-6", "T3", 1, 2, -5, 95, 90)  # a second card with the same history
    assert [x.counter for x in reconcile([a, b, c])] == [4]
    assert "same card counter" in reconcile([a, b, clone])[0].problem
