"""The working-day calendar that notice periods and answer deadlines are counted on."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from onecity.core.geo import CityProfile
from onecity.core.workdays import (
    WorkCalendar,
    add_months,
    add_years,
    calendar_from_profile,
)

# Taipei's 2026 days off, as its city profile lists them.
CAL = calendar_from_profile(CityProfile.load("taipei").raw)


def test_weekdays_work_and_weekends_do_not() -> None:
    assert CAL.is_working(date(2026, 3, 10))  # Tuesday
    assert not CAL.is_working(date(2026, 3, 14))  # Saturday
    assert not CAL.is_working(date(2026, 3, 15))  # Sunday


def test_national_holidays_and_observed_days_are_off() -> None:
    assert not CAL.is_working(date(2026, 1, 1))
    assert not CAL.is_working(date(2026, 2, 17))  # Lunar New Year's Day, a Tuesday
    assert not CAL.is_working(date(2026, 2, 27))  # Peace Memorial Day observed on the Friday
    assert not CAL.is_working(date(2026, 10, 9))  # National Day observed on the Friday
    assert CAL.is_working(date(2026, 2, 23))  # first Monday back after Lunar New Year


def test_a_make_up_saturday_is_a_working_day() -> None:
    saturday = date(2026, 3, 14)
    cal = WorkCalendar(CAL.holidays, workdays_off_weekend=frozenset({saturday}))
    assert cal.is_working(saturday)
    assert cal.add_working_days(date(2026, 3, 13), 1) == saturday
    assert cal.working_days_between(date(2026, 3, 12), date(2026, 3, 16)) == 3


def test_adding_working_days_skips_weekend_and_holidays() -> None:
    # Thu 2 Apr: Fri 3 and Mon 6 are holidays around the weekend, so the next day open is Tue 7.
    assert CAL.add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)
    assert CAL.add_working_days(datetime(2026, 4, 2, 16, 30), 2) == date(2026, 4, 8)


def test_zero_working_days_is_today_if_open_else_the_next_open_day() -> None:
    assert CAL.add_working_days(date(2026, 3, 10), 0) == date(2026, 3, 10)
    assert CAL.add_working_days(date(2026, 2, 14), 0) == date(2026, 2, 23)


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        CAL.add_working_days(date(2026, 3, 10), -1)


def test_working_days_between_counts_the_last_day_not_the_first() -> None:
    # Mon 9 Mar to Mon 16 Mar: Tue-Fri and the next Monday.
    assert CAL.working_days_between(date(2026, 3, 9), date(2026, 3, 16)) == 5
    assert CAL.working_days_between(date(2026, 3, 16), date(2026, 3, 16)) == 0
    assert CAL.working_days_between(date(2026, 3, 16), date(2026, 3, 9)) == 0


def test_add_working_days_and_working_days_between_agree() -> None:
    for n in (1, 5, 10, 20):
        end = CAL.add_working_days(date(2026, 9, 21), n)
        assert CAL.working_days_between(date(2026, 9, 21), end) == n


def test_month_and_year_arithmetic_never_shortens_a_period() -> None:
    assert add_months(date(2026, 1, 15), 6) == date(2026, 7, 15)
    assert add_months(date(2025, 8, 31), 6) == date(2026, 3, 1)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 3, 1)
    assert add_years(date(2024, 2, 29), 5) == date(2029, 3, 1)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


def test_taipei_2026_lists_the_dgpa_days_off() -> None:
    assert len(CAL.holidays) == 26
    assert {d.year for d in CAL.holidays} == {2026}
    assert CAL.workdays_off_weekend == frozenset()
    assert CAL.weekend == frozenset({5, 6})


GOOD: dict[str, Any] = {
    "weekend": ["saturday", "sunday"],
    "days_off": [date(2026, 1, 1), "2026-05-01"],
    "make_up_workdays": [date(2026, 3, 14)],
}


def test_a_profile_calendar_is_built() -> None:
    cal = calendar_from_profile({"calendar": GOOD})
    assert cal.holidays == {date(2026, 1, 1), date(2026, 5, 1)}
    assert cal.is_working(date(2026, 3, 14))
    assert not cal.is_working(date(2026, 5, 1))


def test_another_weekend() -> None:
    cal = calendar_from_profile({"calendar": {"weekend": ["Friday", "saturday"], "days_off": []}})
    assert not cal.is_working(date(2026, 3, 13))  # Friday
    assert cal.is_working(date(2026, 3, 15))  # Sunday


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"days_off": "2026-01-01"}, "calendar.days_off"),
        ({"days_off": [date(2026, 1, 1), "2026-13-01"]}, r"calendar.days_off\[1\]"),
        ({"days_off": [date(2026, 1, 1), 20260101]}, r"calendar.days_off\[1\]"),
        ({"days_off": [datetime(2026, 1, 1, 9, 0)]}, r"calendar.days_off\[0\]"),
        ({"days_off": [date(2026, 1, 1), "2026-01-01"]}, r"calendar.days_off\[1\].*twice"),
        ({"weekend": "saturday"}, "calendar.weekend"),
        ({"weekend": ["saturday", "caturday"]}, "calendar.weekend"),
        ({"weekend": ["sunday", "Sunday"]}, "calendar.weekend.*twice"),
        ({"make_up_workdays": [date(2026, 1, 1)]}, "calendar.make_up_workdays"),
        ({"make_up_workdays": [date(2026, 3, 13)]}, "calendar.make_up_workdays.*weekend"),
        ({"holidays": []}, "calendar.holidays"),
    ],
)
def test_a_wrong_calendar_names_its_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        calendar_from_profile({"calendar": {**GOOD, **change}})


def test_a_profile_without_a_calendar_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[calendar\]"):
        calendar_from_profile({})
    with pytest.raises(ValueError, match=r"calendar\.days_off"):
        calendar_from_profile({"calendar": {"weekend": ["sunday"]}})
