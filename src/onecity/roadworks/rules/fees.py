"""Permit fees from versioned fee tables: a base fee, a daily road-use fee and restoration.

Money is whole NT$. A table is never edited once used: a new schedule is a new version with the
date it takes effect, so a permit's quote can always be reproduced."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

ROAD_CLASSES = ("narrow", "wide", "congested")  # < 8 m wide, >= 8 m wide, on the congested list


def _taipei_daily() -> dict[str, int]:
    return {"narrow": 200, "wide": 400, "congested": 600}


@dataclass(frozen=True)
class FeeTable:
    """One version of the fee schedule, in force from `valid_from` until a newer one."""

    version: str
    valid_from: date
    # base and daily are Taipei's 2026 figures.
    base: int = 1000
    daily: dict[str, int] = field(default_factory=_taipei_daily)
    # (widest trench in metres, NT$ per m²) bands, narrowest first. These restoration rates are
    # illustrative defaults: a city replaces them with its own repaving schedule.
    restoration: tuple[tuple[float, int], ...] = ((1.0, 1800), (2.0, 1500), (math.inf, 1200))


@dataclass(frozen=True)
class FeeQuote:
    """What a permit costs and how the total is made up, as printed on the payment slip."""

    base: int
    daily_rate: int
    days: int
    daily_total: int
    restoration_rate: int
    restoration: int
    total: int
    version: str

    def lines(self) -> list[tuple[str, int]]:
        """The slip's lines; their amounts add up to `total`."""
        return [
            ("base", self.base),
            (f"road use {self.days} d x NT${self.daily_rate}", self.daily_total),
            (f"restoration at NT${self.restoration_rate}/m²", self.restoration),
        ]


def pick_table(tables: Iterable[FeeTable], on: date) -> FeeTable:
    """The table in force on `on`: the newest one whose `valid_from` is not after it."""
    valid = [t for t in tables if t.valid_from <= on]
    if not valid:
        raise ValueError(f"no fee table is in force on {on.isoformat()}; add one valid from then")
    return max(valid, key=lambda t: t.valid_from)


def _restoration_rate(table: FeeTable, width_m: float) -> int:
    for max_width, rate in table.restoration:
        if width_m <= max_width:
            return rate
    raise ValueError(
        f"fee table {table.version} has no restoration rate for a {width_m} m wide trench; "
        "add a band for it"
    )


def quote(
    table: FeeTable, *, road_class: str, days: int, area_m2: float, width_m: float
) -> FeeQuote:
    """The fee for digging `area_m2` of trench `width_m` wide on a road of `road_class`."""
    if road_class not in table.daily:
        known = ", ".join(sorted(table.daily))
        raise ValueError(f"unknown road class {road_class!r}; use one of: {known}")
    if days < 1:
        raise ValueError(f"a permit runs at least 1 day, got {days}")
    if not math.isfinite(area_m2) or area_m2 < 0:
        raise ValueError(f"area_m2 must be 0 or more square metres, got {area_m2}")
    if not math.isfinite(width_m) or width_m <= 0:
        raise ValueError(f"width_m must be more than 0 metres, got {width_m}")
    daily_rate = table.daily[road_class]
    rate = _restoration_rate(table, width_m)
    # Decimal from the float's shortest repr, so 12.5 m² x NT$1 rounds as a person would.
    restoration = int((Decimal(repr(area_m2)) * rate).quantize(Decimal(1), ROUND_HALF_UP))
    daily_total = daily_rate * days
    return FeeQuote(
        base=table.base,
        daily_rate=daily_rate,
        days=days,
        daily_total=daily_total,
        restoration_rate=rate,
        restoration=restoration,
        total=table.base + daily_total + restoration,
        version=table.version,
    )
