"""Working-day calendar for notice periods and answer deadlines, plus safe month/year arithmetic.

Notice periods and the city's time to answer are counted in working days: the days that are not
the weekend, minus public holidays, plus the make-up Saturdays the government sometimes
declares. Which days those are is the city's: the `[calendar]` section of its city.toml, read
by `calendar_from_profile` at start-up."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


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
    weekend: frozenset[int] = frozenset({5, 6})  # date.weekday() numbers: Saturday, Sunday

    def is_working(self, d: date) -> bool:
        """Whether the office is open on `d`."""
        if d in self.workdays_off_weekend:
            return True
        return d.weekday() not in self.weekend and d not in self.holidays

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


def calendar_from_profile(raw: Mapping[str, Any]) -> WorkCalendar:
    """The WorkCalendar a city profile's `[calendar]` section describes:

        weekend = ["saturday", "sunday"]
        days_off = [2026-01-01, ...]          # public holidays and observed days
        make_up_workdays = [...]              # weekend days the offices open (補行上班)

    ValueError naming the key for a missing section, a wrong type, a bad or repeated date, or
    a day that is both off and a make-up working day."""
    section = raw.get("calendar")
    if not isinstance(section, Mapping):
        raise ValueError("city profile: [calendar] is missing (weekend, days_off)")
    unknown = sorted(set(section) - {"weekend", "days_off", "make_up_workdays"})
    if unknown:
        raise ValueError(f"calendar.{unknown[0]}: not a calendar key")
    weekend = _weekend(section.get("weekend"))
    off = _dates(section, "days_off", required=True)
    make_up = _dates(section, "make_up_workdays", required=False)
    both = sorted(off & make_up)
    if both:
        raise ValueError(f"calendar.make_up_workdays: {both[0]} is also in calendar.days_off")
    not_weekend = sorted(d for d in make_up if d.weekday() not in weekend)
    if not_weekend:
        raise ValueError(f"calendar.make_up_workdays: {not_weekend[0]} is not a weekend day")
    return WorkCalendar(holidays=off, workdays_off_weekend=make_up, weekend=weekend)


def _weekend(value: Any) -> frozenset[int]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('calendar.weekend: a list of day names, e.g. ["saturday", "sunday"]')
    days: set[int] = set()
    for name in value:
        if name.lower() not in WEEKDAYS:
            raise ValueError(f"calendar.weekend: {name!r} is not a day of the week")
        if WEEKDAYS.index(name.lower()) in days:
            raise ValueError(f"calendar.weekend: {name!r} is listed twice")
        days.add(WEEKDAYS.index(name.lower()))
    if len(days) > 6:
        raise ValueError("calendar.weekend: at least one day of the week must be a working day")
    return frozenset(days)


def _dates(section: Mapping[str, Any], key: str, *, required: bool) -> frozenset[date]:
    value = section.get(key)
    if value is None and not required:
        return frozenset()
    if not isinstance(value, list):
        raise ValueError(f"calendar.{key}: a list of dates (2026-01-01, unquoted)")
    out: set[date] = set()
    for i, item in enumerate(value):
        d = _date(item, f"calendar.{key}[{i}]")
        if d in out:
            raise ValueError(f"calendar.{key}[{i}]: {d} is listed twice")
        out.add(d)
    return frozenset(out)


def _date(item: Any, where: str) -> date:
    # TOML gives dates as date; a quoted "2026-01-01" is accepted too, a date-time is not.
    if isinstance(item, datetime):
        raise ValueError(f"{where}: {item} is a date and time; give the day only")
    if isinstance(item, date):
        return item
    if isinstance(item, str):
        try:
            return date.fromisoformat(item)
        except ValueError:
            raise ValueError(f"{where}: {item!r} is not a date (YYYY-MM-DD)") from None
    raise ValueError(f"{where}: {item!r} is not a date (YYYY-MM-DD)")
