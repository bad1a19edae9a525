"""Contractor points: six points within a year bar new permits for six months."""

from __future__ import annotations

from datetime import date

import pytest

from onecity.roadworks.rules.penalties import (
    BREACHES,
    FINE_MAX,
    FINE_MIN,
    BarPolicy,
    PenaltyRecord,
    barred_on,
    bars,
    check_fine,
    points_on,
)

POLICY = BarPolicy()


def rec(at: date, breach: str) -> PenaltyRecord:
    return PenaltyRecord(at, BREACHES[breach].points, breach)


def test_six_points_in_a_year_bar_the_contractor_for_six_months() -> None:
    records = [
        rec(date(2026, 1, 10), "no_permit"),
        rec(date(2026, 3, 1), "poor_restoration"),
        rec(date(2026, 4, 15), "overrun"),
    ]
    assert bars(records, POLICY) == [(date(2026, 4, 15), date(2026, 10, 15))]
    assert barred_on(records, date(2026, 4, 14), POLICY) is None
    assert barred_on(records, date(2026, 10, 14), POLICY) == (date(2026, 4, 15), date(2026, 10, 15))
    assert barred_on(records, date(2026, 10, 15), POLICY) is None


def test_points_older_than_the_window_do_not_count() -> None:
    records = [
        rec(date(2025, 1, 10), "no_permit"),
        rec(date(2025, 6, 1), "poor_restoration"),
        rec(date(2026, 1, 10), "overrun"),  # 365 days after the first: it has dropped off
    ]
    assert bars(records, POLICY) == []
    assert points_on(records, date(2026, 1, 10), POLICY) == 3
    assert points_on(records, date(2026, 1, 9), POLICY) == 5


def test_after_a_bar_the_count_starts_again() -> None:
    records = [
        rec(date(2026, 1, 5), "no_permit"),
        rec(date(2026, 1, 6), "no_permit"),  # bar 6 Jan to 6 Jul
        rec(date(2026, 3, 1), "no_permit"),  # while barred: does not count
        rec(date(2026, 7, 6), "no_permit"),
    ]
    assert bars(records, POLICY) == [(date(2026, 1, 6), date(2026, 7, 6))]
    assert points_on(records, date(2026, 3, 2), POLICY) == 0
    assert points_on(records, date(2026, 7, 6), POLICY) == 3
    records.append(rec(date(2026, 8, 1), "no_permit"))
    assert bars(records, POLICY)[-1] == (date(2026, 8, 1), date(2027, 2, 1))


def test_order_of_the_records_does_not_matter() -> None:
    records = [
        rec(date(2026, 4, 15), "overrun"),
        rec(date(2026, 1, 10), "no_permit"),
        rec(date(2026, 3, 1), "poor_restoration"),
    ]
    assert bars(records, POLICY) == [(date(2026, 4, 15), date(2026, 10, 15))]


def test_a_stricter_policy_bars_sooner() -> None:
    records = [rec(date(2026, 1, 10), "no_permit")]
    assert bars(records, BarPolicy(threshold=3, bar_months=1)) == [
        (date(2026, 1, 10), date(2026, 2, 10))
    ]


def test_fines_must_be_within_the_statutory_range() -> None:
    check_fine(FINE_MIN)
    check_fine(FINE_MAX)
    with pytest.raises(ValueError, match="between NT\\$30,000 and NT\\$150,000"):
        check_fine(FINE_MIN - 1)
    with pytest.raises(ValueError):
        check_fine(FINE_MAX + 1)
