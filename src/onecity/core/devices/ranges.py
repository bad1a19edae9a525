"""What each device type can report: a range per value key, from the city profile's
`[device_types.<type>]` tables. Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# What a value measures, so pages can show it: a share 0..1 as a percent, °C, kg, a count.
UNITS = frozenset({"share", "celsius", "kg", "count"})


@dataclass(frozen=True)
class ValueRange:
    low: float
    high: float
    whole: bool = False  # only whole numbers (a count, a state)
    unit: str | None = None  # one of UNITS


@dataclass(frozen=True)
class ValueRanges:
    """What a device type can report: a range per key it declares, and one bound on the
    magnitude of any other key (and of every key of undeclared types)."""

    keys: Mapping[str, ValueRange] = field(default_factory=dict)
    other_abs_max: float = 1e15

    def unit(self, key: str) -> str | None:
        spec = self.keys.get(key)
        return spec.unit if spec else None

    def check(self, values: Iterable[tuple[str, float]]) -> tuple[str, str] | None:
        for k, v in values:
            spec = self.keys.get(k)
            if not math.isfinite(v):
                return k, f"{k} must be a finite number"
            if spec is None:
                if abs(v) > self.other_abs_max:
                    return (
                        k,
                        f"{k} = {v:g} is beyond any sensor (|value| <= {self.other_abs_max:g})",
                    )
            elif not spec.low <= v <= spec.high or (spec.whole and not v.is_integer()):
                what = "a whole number" if spec.whole else "a number"
                return k, f"{k} must be {what} from {spec.low:g} to {spec.high:g}, got {v:g}"
        return None


def ranges_from_profile(raw: Mapping[str, Any]) -> dict[str, ValueRanges]:
    """The `[device_types.<type>]` tables of a city profile: `key = { min, max, whole, unit }`."""
    out: dict[str, ValueRanges] = {}
    for dtype, keys in raw.items():
        specs: dict[str, ValueRange] = {}
        for key, spec in keys.items():
            low, high = float(spec["min"]), float(spec["max"])
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise ValueError(f"device type {dtype}: {key} needs finite min <= max")
            unit = spec.get("unit")
            if unit is not None and unit not in UNITS:
                raise ValueError(
                    f"device type {dtype}: {key}.unit must be one of {', '.join(sorted(UNITS))}"
                )
            specs[key] = ValueRange(low, high, bool(spec.get("whole", False)), unit)
        out[dtype] = ValueRanges(specs)
    return out
