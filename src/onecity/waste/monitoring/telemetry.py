"""Station telemetry keys (docs/waste.md) to monitoring readings. Pure: no I/O.

`<compartment>.fill` (0-1), `.weight_kg`, `.temp_c`, `.door` (0 closed, 1 open, 2 jammed),
`.smoke` (0/1); `fault.<name>` (0/1) for the station; a bare `heartbeat`. A message need not
repeat every key: what it leaves out keeps the compartment's last value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from onecity.waste.monitoring.readings import (
    MAX_WEIGHT_KG,
    TEMPERATURE_RANGE_C,
    CompactorState,
    DoorState,
    Fault,
    Reading,
)
from onecity.waste.monitoring.rules import CompartmentState, StationState

COMPARTMENTS = ("garbage", "recycling_pet", "recycling_can")
HEARTBEAT = "heartbeat"
_DOORS = {0: DoorState.CLOSED, 1: DoorState.OPEN, 2: DoorState.JAMMED}
_FAULTS = {f.value for f in Fault}
# First reading of a compartment: what an unreported value is taken to be.
_FIRST = {"fill": 0.0, "weight_kg": 0.0, "temp_c": 5.0}  # 5 °C: the refrigerated set point
_RANGES: Mapping[str, tuple[float, float, str]] = {
    "fill": (0.0, 1.0, "a fill level from 0 (empty) to 1 (full)"),
    "weight_kg": (0.0, MAX_WEIGHT_KG, f"a weight from 0 to {MAX_WEIGHT_KG:g} kg"),
    "temp_c": (*TEMPERATURE_RANGE_C, "a temperature from -40 to 150 °C"),
    "door": (0.0, 2.0, "0 (closed), 1 (open) or 2 (jammed)"),
    "smoke": (0.0, 1.0, "0 or 1"),
}
_WHOLE = {"door", "smoke"}


def validate(values: Mapping[str, float]) -> tuple[str, str] | None:
    """The first value a station cannot report, as (key, sentence); None if all are possible.
    Keys outside the convention are stored as plain telemetry and not checked."""
    for key, v in values.items():
        head, _, tail = key.partition(".")
        if head in COMPARTMENTS:
            spec = _RANGES.get(tail)
            if spec is None:
                known = ", ".join(f"{head}.{k}" for k in _RANGES)
                return key, f"unknown station key '{key}'; one of: {known}"
            low, high, what = spec
            whole = tail not in _WHOLE or float(v).is_integer()
            if not math.isfinite(v) or not low <= v <= high or not whole:
                return key, f"{key} must be {what}, got {v:g}"
        elif head == "fault":
            if tail not in _FAULTS:
                return key, f"unknown fault '{tail}'; one of: {', '.join(sorted(_FAULTS))}"
            if v not in (0, 1):
                return key, f"{key} must be 0 or 1, got {v:g}"
    return None


def readings(
    state: StationState, values: Mapping[str, float], at: datetime
) -> tuple[list[Reading], bool]:
    """The compartment readings one message makes, and whether it carries a heartbeat.

    A fault flag applies to the compartments the message reports, or to every known one
    (the garbage compartment if none is known yet) when it reports only faults."""
    fields: dict[str, dict[str, float]] = {}
    faults: dict[str, bool] = {}
    for key, v in values.items():
        head, _, tail = key.partition(".")
        if head in COMPARTMENTS and tail in _RANGES:
            fields.setdefault(head, {})[tail] = v
        elif head == "fault" and tail in _FAULTS:
            faults[tail] = v == 1
    names = list(fields)
    if faults and not names:
        names = sorted(state.compartments) or [COMPARTMENTS[0]]
    out = [
        _reading(name, state.compartments.get(name), fields.get(name, {}), faults, at)
        for name in names
    ]
    return out, HEARTBEAT in values


def _reading(
    name: str,
    prev: CompartmentState | None,
    got: Mapping[str, float],
    faults: Mapping[str, bool],
    at: datetime,
) -> Reading:
    last = prev.last if prev is not None else None

    def value(tail: str, kept: float | None) -> float:
        if tail in got:
            return got[tail]
        return kept if kept is not None else _FIRST[tail]

    found = {f.value for f in last.faults} if last else set()
    found = (found | {f for f, on in faults.items() if on}) - {
        f for f, on in faults.items() if not on
    }
    door = _DOORS[int(got["door"])] if "door" in got else (last.door if last else DoorState.CLOSED)
    smoke = bool(got["smoke"]) if "smoke" in got else (last.smoke if last else False)
    return Reading(
        compartment=name,
        observed_at=at,
        fill=value("fill", last.fill if last else None),
        weight_kg=value("weight_kg", last.weight_kg if last else None),
        temperature_c=value("temp_c", last.temperature_c if last else None),
        door=door,
        compactor=last.compactor if last else CompactorState.IDLE,
        smoke=smoke,
        faults=frozenset(Fault(f) for f in found),
    )
