"""The city's iTrash tariffs as its profile states them (city.toml, `[waste.tariffs]`): the
garbage tariff versions and the recycling rebate per material. Read and checked once at
start-up; a wrong entry stops start-up with a ValueError that names its key.

Pure: takes the parsed profile, returns rule objects. The station software never reads the
profile: stations get the garbage tariffs from the server at sign-on (and carry Taipei's as
their factory default until then)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from onecity.waste.rules.money import Material, Tariff, TariffTable

SECTION = "waste.tariffs"
_VERSION_KEYS = {"effective_from", "name", "names", "steps", "increment_g", "per_increment"}


@dataclass(frozen=True)
class CityTariffs:
    garbage: TariffTable
    rebate_points: Mapping[Material, int]  # points per accepted item; POINTS_PER_NTD is NT$1


def tariffs_from_profile(profile: Mapping[str, Any]) -> CityTariffs:
    """The tariffs of a parsed city.toml; ValueError naming the key when one is wrong."""
    section = profile.get("waste", {}).get("tariffs")
    if not isinstance(section, Mapping):
        raise ValueError(
            f"city profile: [{SECTION}] is missing: the iTrash garbage tariffs and recycling "
            "rebates are city data (see the Taipei profile for the shape)"
        )
    unknown = sorted(set(section) - {"garbage", "rebate_points"})
    if unknown:
        raise ValueError(f"city profile: {SECTION}.{unknown[0]} is not a known key")
    versions = section.get("garbage")
    if not isinstance(versions, list) or not versions:
        raise ValueError(f"city profile: {SECTION}.garbage is missing: at least one tariff version")
    garbage = tuple(_tariff(f"{SECTION}.garbage[{i}]", v) for i, v in enumerate(versions))
    try:
        table = TariffTable(garbage)
    except ValueError as e:
        raise ValueError(f"city profile: {SECTION}.garbage: {e}") from None
    return CityTariffs(table, _rebates(section.get("rebate_points")))


def _tariff(key: str, raw: Any) -> Tariff:
    if not isinstance(raw, Mapping):
        raise ValueError(f"city profile: {key} must be a table")
    for name in sorted(set(raw) - _VERSION_KEYS):
        raise ValueError(f"city profile: {key}.{name} is not a known key")
    for name in ("effective_from", "steps", "increment_g", "per_increment"):
        if name not in raw:
            raise ValueError(f"city profile: {key}.{name} is missing")
    steps = raw["steps"]
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"city profile: {key}.steps must be a list of [grams, NT$] pairs")
    pairs = []
    for j, step in enumerate(steps):
        if not isinstance(step, list) or len(step) != 2:
            raise ValueError(f"city profile: {key}.steps[{j}] must be a [grams, NT$] pair")
        pairs.append(
            (
                _whole(f"{key}.steps[{j}] (grams)", step[0], positive=True),
                _whole(f"{key}.steps[{j}] (NT$)", step[1]),
            )
        )
    try:
        return Tariff(
            effective_from=_day(f"{key}.effective_from", raw["effective_from"]),
            steps=tuple(pairs),
            increment_g=_whole(f"{key}.increment_g", raw["increment_g"], positive=True),
            per_increment=_whole(f"{key}.per_increment", raw["per_increment"]),
            name=str(raw.get("name", "")),
            names=_names(key, raw.get("names", {})),
        )
    except ValueError as e:
        if str(e).startswith("city profile:"):
            raise
        raise ValueError(f"city profile: {key}: {e}") from None


def _names(key: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """`names = { "zh-TW" = "...", en = "..." }`: the tariff's name per language."""
    if not isinstance(raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in raw.items()
    ):
        raise ValueError(f"city profile: {key}.names must map languages to names")
    return tuple(sorted(raw.items()))


def _rebates(raw: Any) -> dict[Material, int]:
    key = f"{SECTION}.rebate_points"
    if not isinstance(raw, Mapping):
        raise ValueError(f"city profile: {key} is missing: points per item of each material")
    known = {m.value for m in Material}
    for name in sorted(raw):
        if name not in known:
            raise ValueError(
                f"city profile: {key}.{name} is an unknown material "
                f"(the stations take {', '.join(sorted(known))})"
            )
    for m in Material:
        if m.value not in raw:
            raise ValueError(f"city profile: {key}.{m.value} is missing")
    return {m: _whole(f"{key}.{m.value}", raw[m.value]) for m in Material}


def _whole(key: str, value: Any, *, positive: bool = False) -> int:
    """A whole number of grams, NT$ or points: never negative, positive if asked."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"city profile: {key} must be a whole number, not {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(
            f"city profile: {key} is {value}: it must be "
            f"{'more than 0' if positive else 'zero or more (no negative price)'}"
        )
    return value


def _day(key: str, value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"city profile: {key} must be a day (YYYY-MM-DD), not a time")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(
            f"city profile: {key} must be a date (YYYY-MM-DD), not {value!r}"
        ) from None
