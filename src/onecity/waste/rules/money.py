"""Pure rules of the money path: garbage tariffs by weight, recycling rebates, card limits.

Money is whole NT$ (int) and weight whole grams (int): no floats near money."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

CARD_MAX_BALANCE = 10_000  # NT$ a card may hold
MIN_BALANCE_TO_OPEN = 100  # NT$ needed before the garbage door opens
MAX_DROP_GRAMS = 50_000  # more than 50 kg in one drop is a scale fault or abuse

# Rebates are kept in points so that fractions of a dollar add up exactly across visits:
# NT$1 per 10 PET bottles or per 8 aluminium cans -> 40 points per NT$.
POINTS_PER_NTD = 40


class Material(StrEnum):
    PET = "pet"
    ALUMINIUM = "aluminium"


POINTS_PER_ITEM: dict[Material, int] = {Material.PET: 4, Material.ALUMINIUM: 5}


class RuleError(ValueError):
    """Input that breaks a money rule; the message says what to do."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Tariff:
    """One version of the garbage tariff.

    `steps` are (up to grams, NT$) in rising order; above the last step the charge is
    `per_increment` NT$ for every started `increment_g` grams of the whole weight."""

    effective_from: date
    steps: tuple[tuple[int, int], ...]
    increment_g: int
    per_increment: int
    name: str = ""
    # The name in each of the city's languages ((language, name) pairs); `name` is the default.
    # Words only: two versions that charge the same are the same tariff (a station's shipped
    # table is compared with the profile's).
    names: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.steps or self.increment_g <= 0 or self.per_increment < 0:
            raise RuleError("a tariff needs at least one step and a positive increment")
        limits = [g for g, _ in self.steps]
        prices = [p for _, p in self.steps]
        if limits != sorted(set(limits)) or limits[0] <= 0:
            raise RuleError("tariff steps must have rising, positive weight limits")
        if prices != sorted(prices) or prices[0] < 0:
            raise RuleError("a heavier step must not cost less than a lighter one")

    def charge(self, grams: int) -> int:
        check_weight(grams)
        for limit, price in self.steps:
            if grams <= limit:
                return price
        started = -(-grams // self.increment_g)  # ceiling division
        return max(started * self.per_increment, self.steps[-1][1])


# Taipei's garbage tariffs: the station software's factory default until its first sign-on
# (the server's come from the city profile, city.toml [waste.tariffs], and reach the stations
# at sign-on). From 2026-01-01: NT$5 up to 0.2 kg, then NT$11 per started 0.5 kg.
# Before: NT$1 up to 0.2 kg, NT$4 up to 0.5 kg, NT$8 up to 1 kg (and, we assume, NT$8 per
# started kg above that; the published table stops at 1 kg).
TAIPEI_TARIFFS: tuple[Tariff, ...] = (
    Tariff(date(2019, 1, 1), ((200, 1), (500, 4), (1000, 8)), 1000, 8, "Taipei iTrash 2019"),
    Tariff(date(2026, 1, 1), ((200, 5),), 500, 11, "Taipei iTrash 2026"),
)


@dataclass(frozen=True)
class TariffTable:
    """Versioned tariffs: the one in force on a day is the latest that started by then."""

    versions: tuple[Tariff, ...] = field(default_factory=lambda: TAIPEI_TARIFFS)

    def __post_init__(self) -> None:
        days = [t.effective_from for t in self.versions]
        if len(set(days)) != len(days):
            raise RuleError("two tariff versions start on the same day")

    def on(self, day: date) -> Tariff:
        valid = [t for t in self.versions if t.effective_from <= day]
        if not valid:
            raise RuleError(f"no tariff in force on {day.isoformat()} (a gap in the table)")
        return max(valid, key=lambda t: t.effective_from)


def check_weight(grams: int) -> None:
    if grams <= 0:
        raise RuleError("weight must be more than 0 g", field="grams")
    if grams > MAX_DROP_GRAMS:
        raise RuleError(
            f"{grams / 1000:g} kg in one drop is over the {MAX_DROP_GRAMS // 1000} kg limit; "
            "check the scale",
            field="grams",
        )


@dataclass(frozen=True)
class Rebate:
    ntd: int  # whole NT$ to credit now
    points_left: int  # carried to the card's next visit


def rebate(
    points_before: int,
    items: Sequence[Material],
    points_per_item: Mapping[Material, int] = POINTS_PER_ITEM,
) -> Rebate:
    """Add the items' points to what the card carried and pay out whole NT$.
    `points_per_item`: the city's rebates (city.toml); Taipei's are the stations' default."""
    if points_before < 0 or points_before >= POINTS_PER_NTD:
        raise RuleError("carried points must be below one NT$'s worth")
    total = points_before + sum(points_per_item[m] for m in items)
    return Rebate(total // POINTS_PER_NTD, total % POINTS_PER_NTD)


def can_open_door(balance: int) -> bool:
    return balance >= MIN_BALANCE_TO_OPEN
