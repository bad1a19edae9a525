"""Working-day calendar for notice periods and answer deadlines, plus safe month/year arithmetic.

Notice periods and the city's time to answer are counted in working days: Monday to Friday,
minus public holidays, plus the make-up Saturdays the government sometimes declares."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta


def _days(*spans: tuple[date, date]) -> frozenset[date]:
    out: set[date] = set()
    for first, last in spans:
        d = first
        while d <= last:
            out.add(d)
            d += timedelta(days=1)
    return frozenset(out)


# Taiwan's 2026 days off: the 中華民國115年政府行政機關辦公日曆表 approved by the Executive Yuan
# in June 2025 (as relayed in its 人事室 notices: 120 days off in all, a 9-day Lunar New Year
# 2/14-2/22, observed days 2/27, 4/3, 4/6, 10/9 and 10/26, and since the 2025 amendment of the
# 補假 rules no make-up working Saturday). Checked against that list on 2026-11-27. Each year's
# list is published by the DGPA (行政院人事行政總處) around June; the dates move with the lunar
# calendar, and each city configures its own list (a city may add local days off).
TAIWAN_2026_HOLIDAYS: frozenset[date] = _days(
    (date(2026, 1, 1), date(2026, 1, 1)),  # 開國紀念日 Founding Day
    (date(2026, 2, 14), date(2026, 2, 22)),  # 春節 Lunar New Year period
    (date(2026, 2, 27), date(2026, 3, 1)),  # 和平紀念日 Peace Memorial Day, observed Fri 2/27
    (date(2026, 4, 3), date(2026, 4, 6)),  # 兒童節、清明節 Children's Day, Tomb Sweeping
    (date(2026, 5, 1), date(2026, 5, 1)),  # 勞動節 Labour Day
    (date(2026, 6, 19), date(2026, 6, 19)),  # 端午節 Dragon Boat Festival
    (date(2026, 9, 25), date(2026, 9, 25)),  # 中秋節 Mid-Autumn Festival
    (date(2026, 9, 28), date(2026, 9, 28)),  # 教師節 Teachers' Day
    (date(2026, 10, 9), date(2026, 10, 10)),  # 國慶日 National Day, observed Fri 10/9
    (date(2026, 10, 25), date(2026, 10, 26)),  # 臺灣光復暨金門古寧頭大捷紀念日, observed 10/26
    (date(2026, 12, 25), date(2026, 12, 25)),  # 行憲紀念日 Constitution Day
)


def add_months(d: date, months: int) -> date:
    """The same day `months` later; a day the target month lacks rolls to the 1st of the next.

    Rolling forward (31 Aug + 6 months -> 1 Mar) keeps a ban or bar at least as long as the
    number of months it names, instead of ending it a day or more early."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if d.day <= calendar.monthrange(year, month)[1]:
        return date(year, month, d.day)
    return date(year + month // 12, month % 12 + 1, 1)


def add_years(d: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 1 March in a common year."""
    return add_months(d, 12 * years)


@dataclass(frozen=True)
class WorkCalendar:
    """The days a city office works, to count notice periods and answer deadlines."""

    holidays: frozenset[date]
    workdays_off_weekend: frozenset[date] = frozenset()  # make-up working Saturdays (補行上班)

    def is_working(self, d: date) -> bool:
        """Whether the office is open on `d`."""
        if d in self.workdays_off_weekend:
            return True
        return d.weekday() < 5 and d not in self.holidays

    def add_working_days(self, start: datetime | date, n: int) -> date:
        """The n-th working day after `start`'s date; n=0: `start` if working, else the next."""
        if n < 0:
            raise ValueError(f"n must be 0 or more working days, got {n}")
        d = start.date() if isinstance(start, datetime) else start
        if n == 0:
            while not self.is_working(d):
                d += timedelta(days=1)
            return d
        counted = 0
        while counted < n:
            d += timedelta(days=1)
            if self.is_working(d):
                counted += 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: the day something is filed does not count, the last day does."""
        # A day-by-day walk: notice periods span weeks, so this is microseconds, and it stays
        # obviously right with holidays and make-up days mixed in.
        count = 0
        d = a + timedelta(days=1)
        while d <= b:
            if self.is_working(d):
                count += 1
            d += timedelta(days=1)
        return count
