"""Contractor penalty points, fines and bars from applying for new permits.

Each breach earns points; enough points within a rolling window bar the contractor for some
months, after which the count starts again from zero."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from onecity.core.workdays import add_months

# 市區道路條例 §33: the fine for digging a city road against the rules.
FINE_MIN = 30_000
FINE_MAX = 150_000


@dataclass(frozen=True)
class Breach:
    """A kind of breach and the points it earns."""

    points: int
    name: dict[str, str]


# Points per breach are configurable defaults; New Taipei bars a contractor at 6 points for
# 6 months, which BarPolicy's defaults follow.
BREACHES: dict[str, Breach] = {
    "no_permit": Breach(3, {"zh-TW": "未經許可挖掘", "en": "Digging without a permit"}),
    "overrun": Breach(1, {"zh-TW": "逾期施工", "en": "Working past the permitted end date"}),
    "poor_restoration": Breach(2, {"zh-TW": "路面修復不良", "en": "Poor road restoration"}),
    "traffic_control": Breach(1, {"zh-TW": "交通維持措施不當", "en": "Inadequate traffic control"}),
    "outside_hours": Breach(
        1, {"zh-TW": "未依核准時段施工", "en": "Working outside the permitted hours"}
    ),
}


def check_fine(amount: int) -> None:
    """Refuse a fine outside the range the law allows."""
    if not FINE_MIN <= amount <= FINE_MAX:
        raise ValueError(
            f"a fine must be between NT${FINE_MIN:,} and NT${FINE_MAX:,}, got NT${amount:,}"
        )


@dataclass(frozen=True)
class PenaltyRecord:
    """Points given to a contractor on a day for one breach."""

    at: date
    points: int
    breach: str


@dataclass(frozen=True)
class BarPolicy:
    """How many points within how many days bar a contractor, and for how long."""

    threshold: int = 6
    window_days: int = 365
    bar_months: int = 6


def _in_window(r: PenaltyRecord, on: date, since: date | None, policy: BarPolicy) -> bool:
    # The window is the `window_days` days ending on `on`; records dated before the end of the
    # previous bar were already paid for by that bar.
    return on - timedelta(days=policy.window_days) < r.at <= on and (since is None or r.at >= since)


def bars(records: Iterable[PenaltyRecord], policy: BarPolicy) -> list[tuple[date, date]]:
    """Every bar the records earn, as (first day, day the bar is lifted), oldest first."""
    ordered = sorted(records, key=lambda r: r.at)
    out: list[tuple[date, date]] = []
    since: date | None = None
    for i, r in enumerate(ordered):
        if since is not None and r.at < since:
            continue  # points earned while barred do not count toward the next bar
        total = sum(x.points for x in ordered[: i + 1] if _in_window(x, r.at, since, policy))
        if total >= policy.threshold:
            since = add_months(r.at, policy.bar_months)
            out.append((r.at, since))
    return out


def barred_on(
    records: Iterable[PenaltyRecord], on: date, policy: BarPolicy
) -> tuple[date, date] | None:
    """The bar in force on `on`, if any."""
    for start, end in bars(records, policy):
        if start <= on < end:
            return (start, end)
    return None


def points_on(records: Iterable[PenaltyRecord], on: date, policy: BarPolicy) -> int:
    """The points that count toward the next bar on `on` (0 while barred)."""
    past = [r for r in records if r.at <= on]
    since: date | None = None
    for start, end in bars(past, policy):
        if start <= on < end:
            return 0
        since = end
    return sum(r.points for r in past if _in_window(r, on, since, policy))
