"""The reports' definitions and pure helpers: ranges and periods in the city's time zone,
interval merging, quantiles, units, and the rows a report reads (`Rows`). No database."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from onecity.core.dates import DateRange
from onecity.core.errors import Invalid
from onecity.core.models import Device
from onecity.waste.jobs.models import WasteJob
from onecity.waste.monitoring.models import WasteOverflow
from onecity.waste.monitoring.readings import AlertKind
from onecity.waste.monitoring.targets import DEFAULT_TARGETS

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
MAX_DAYS = 366
# Estimated weight of one accepted item (empty, crushed): a 600 ml PET bottle ~25 g, a 330 ml
# aluminium can ~15 g. The stations count items, they do not weigh them.
ITEM_GRAMS: Mapping[str, int] = {"pet": 25, "aluminium": 15}
MATERIALS = tuple(ITEM_GRAMS)
AVAILABILITY_TARGET = 0.98  # the share of time a station should take waste (our own goal)
SERVICE_KINDS = (AlertKind.FULL, AlertKind.FULL_SOON)
REPAIR_KINDS = (AlertKind.FAULT, AlertKind.OFFLINE, AlertKind.FIRE)
OUT_OF_ORDER = frozenset(k.value for k in REPAIR_KINDS)
Span = tuple[datetime, datetime]
PeriodOf = Callable[[datetime], str]


@dataclass(frozen=True)
class Range:
    """Whole days `first`..`last` (both included) in the city's zone, grouped by `period`."""

    first: date
    last: date
    period: Period

    def bounds(self, tz: ZoneInfo) -> Span:
        """The range as UTC instants: midnight of `first` to midnight after `last`."""
        return midnight(self.first, tz), midnight(self.last + timedelta(days=1), tz)


def midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def parse_range(first: date | None, last: date | None, period: str | None) -> Range:
    """Check a report's query; a bad one is Invalid naming the field (422, never a 500)."""
    days = DateRange.of(first, last, max_days=MAX_DAYS)
    p = period or "day"
    if p not in PERIODS:
        raise Invalid(f"'period' must be one of {', '.join(PERIODS)}", field="period")
    return Range(days.first, days.last, p)


def period_key(d: date, period: Period) -> str:
    """day 2026-11-26, ISO week 2026-W48, month 2026-11."""
    if period == "day":
        return d.isoformat()
    if period == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    return f"{d.year}-{d.month:02d}"


def period_spans(r: Range) -> list[tuple[str, date, date]]:
    """Each period's key with its first and last day, clipped to the range, in order."""
    out: list[tuple[str, date, date]] = []
    d = r.first
    while d <= r.last:
        key = period_key(d, r.period)
        end = d
        while end < r.last and period_key(end + timedelta(days=1), r.period) == key:
            end += timedelta(days=1)
        out.append((key, d, end))
        d = end + timedelta(days=1)
    return out


def merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching windows as one: an hour is counted once however many jobs."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def covered(spans: Iterable[Span], lo: datetime, hi: datetime) -> timedelta:
    """How much of [lo, hi) the merged windows cover."""
    total = timedelta(0)
    for start, end in merge(spans):
        total += max(min(end, hi) - max(start, lo), timedelta(0))
    return total


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (Excel PERCENTILE.INC, numpy's default)."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def kg(grams: float) -> float:
    return round(grams / 1000, 3)


def hours(t: timedelta) -> float:
    return round(t.total_seconds() / 3600, 3)


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def job_end(job: WasteJob, now: datetime) -> datetime:
    """When a job's condition ended: the earlier of cleared and closed; now while neither."""
    ends = [t for t in (job.condition_cleared_at, job.closed_at) if t is not None]
    return min(ends) if ends else now


def response_stats(durations: Sequence[tuple[str, timedelta]], still_open: int) -> dict[str, Any]:
    """Median, p90 (hours) and the share within the kind's target, of closed jobs."""
    hs = [d.total_seconds() / 3600 for _, d in durations]
    within = sum(1 for kind, d in durations if d <= DEFAULT_TARGETS[AlertKind(kind)])
    med, p90 = quantile(hs, 0.5), quantile(hs, 0.9)
    return {
        "closed": len(hs),
        "open": still_open,
        "median_h": None if med is None else round(med, 3),
        "p90_h": None if p90 is None else round(p90, 3),
        "within_target": ratio(within, len(hs)),
    }


@dataclass
class Rows:
    stations: list[Device]
    txns: list[tuple[str, str, int | None, list[Any], datetime]]
    money: list[tuple[str, int, str, datetime]]
    jobs: list[WasteJob]
    overflows: list[WasteOverflow]
    # (station, kg, at): what the station's scales saw taken out (`emptyings`)
    emptied: list[tuple[str, float, datetime]] = field(default_factory=list)
