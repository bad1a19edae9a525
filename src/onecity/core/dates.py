"""Dates a client may send, checked at the edge: one calendar window for every date query and
body field, and an ordered, bounded range for from/to pairs.

Python's `date` runs from year 1 to 9999, so `day + timedelta(days=1)` or a midnight in the
city's zone overflows at either end (a 500). No record of a city platform is dated before
2000 or after 2100, so anything outside that is a 422 naming the field, before any
arithmetic happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from pydantic import AfterValidator

from onecity.core.errors import Invalid

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


def _in_window(d: date) -> date:
    if not FIRST_DAY <= d <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return d


# For query parameters and body fields alike: `day: CityDate | None = None`.
CityDate = Annotated[date, AfterValidator(_in_window)]


@dataclass(frozen=True)
class DateRange:
    """Whole days `first`..`last`, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @classmethod
    def of(
        cls,
        first: date | None,
        last: date | None,
        *,
        max_days: int,
        names: tuple[str, str] = ("from", "to"),
    ) -> DateRange:
        """Both ends given, in the window, in order, and at most `max_days` apart (422 naming
        the field otherwise). The ends normally arrive as CityDate already."""
        for name, d in zip(names, (first, last), strict=True):
            if d is None:
                raise Invalid(f"'{name}' is required, as YYYY-MM-DD", field=name, code="missing")
            try:
                _in_window(d)
            except ValueError as exc:
                raise Invalid(f"'{name}' {exc}", field=name) from None
        assert first is not None and last is not None
        if last < first:
            raise Invalid(f"'{names[1]}' is before '{names[0]}'", field=names[1], code="bad_range")
        r = cls(first, last)
        if r.days > max_days:
            raise Invalid(
                f"a range covers at most {max_days} days", field=names[1], code="bad_range"
            )
        return r
