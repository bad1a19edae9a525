"""What a station reports and what the rules call it: one compartment's `Reading`, checked as
it is built (the field named when wrong), the alert kinds with their priorities (1 most urgent:
fire 1; offline, fault and temperature_high 2; full 3; full_soon 4), and the checks the rules,
the job targets and the NGSI-LD view share. Pure."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from onecity.waste.rules.money import RuleError

MAX_WEIGHT_KG = 5000.0  # more than a compartment can hold: a scale fault, not a load
TEMPERATURE_RANGE_C = (-40.0, 150.0)  # what the stations' sensors can report at all
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # ids end up inside NGSI-LD URNs


class MonitoringError(RuleError):
    """Telemetry or a job record that cannot be true; `field` names the culprit."""


class AlertKind(StrEnum):
    FIRE = "fire"
    OFFLINE = "offline"
    FAULT = "fault"
    TEMPERATURE_HIGH = "temperature_high"
    FULL = "full"
    FULL_SOON = "full_soon"


PRIORITY: Mapping[AlertKind, int] = {
    AlertKind.FIRE: 1,
    AlertKind.OFFLINE: 2,
    AlertKind.FAULT: 2,
    AlertKind.TEMPERATURE_HIGH: 2,
    AlertKind.FULL: 3,
    AlertKind.FULL_SOON: 4,
}


class Action(StrEnum):
    RAISED = "raised"
    UPDATED = "updated"
    CLEARED = "cleared"


class DoorState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    JAMMED = "jammed"


class CompactorState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    OFF = "off"


class Fault(StrEnum):
    SCALE = "scale"
    DOOR = "door"
    CARD_READER = "card_reader"
    PRINTER_PAPER = "printer_paper"
    NETWORK = "network"


# Faults of the station as a whole: whichever compartment reports one, it is one alert.
STATION_FAULTS = frozenset({Fault.CARD_READER, Fault.PRINTER_PAPER, Fault.NETWORK})

Param = str | int | float
Params = Mapping[str, Param]


def aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise MonitoringError(f"{name} must be a datetime", field=name)
    if value.tzinfo is None or value.utcoffset() is None:
        raise MonitoringError(f"{name} must carry a time zone (e.g. +08:00 or Z)", field=name)
    return value


def number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MonitoringError(f"{name} must be a number", field=name)
    if not math.isfinite(value) or not low <= value <= high:
        raise MonitoringError(
            f"{name} must be between {low:g} and {high:g}, got {value}", field=name
        )
    return float(value)


def choice(enum: type[StrEnum], value: object, name: str) -> Any:
    if isinstance(value, str) and value in enum._value2member_map_:
        return enum(value)
    known = ", ".join(m.value for m in enum)
    raise MonitoringError(f"unknown {name} {value!r}; one of: {known}", field=name)


def check_id(value: object, name: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise MonitoringError(f"{name} must be 1-64 letters, digits, '_', '.' or '-'", field=name)
    return value


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Reading:
    """One compartment's telemetry. Built from raw values it checks them, naming the field."""

    compartment: str
    observed_at: datetime
    fill: float  # 0 empty .. 1 full
    weight_kg: float
    temperature_c: float
    door: DoorState = DoorState.CLOSED
    compactor: CompactorState = CompactorState.IDLE
    smoke: bool = False
    faults: frozenset[Fault] = frozenset()

    def __post_init__(self) -> None:
        check_id(self.compartment, "compartment")
        aware(self.observed_at, "observed_at")
        low, high = TEMPERATURE_RANGE_C
        fix = object.__setattr__  # frozen: normalise once, here, the way the wire sends it
        fix(self, "fill", number(self.fill, "fill", 0.0, 1.0))
        fix(self, "weight_kg", number(self.weight_kg, "weight_kg", 0.0, MAX_WEIGHT_KG))
        fix(self, "temperature_c", number(self.temperature_c, "temperature_c", low, high))
        fix(self, "door", choice(DoorState, self.door, "door"))
        fix(self, "compactor", choice(CompactorState, self.compactor, "compactor"))
        if not isinstance(self.smoke, bool):
            raise MonitoringError("smoke must be true or false", field="smoke")
        if isinstance(self.faults, str) or not isinstance(self.faults, Iterable):
            raise MonitoringError("faults must be a list of fault names", field="faults")
        fix(self, "faults", frozenset(choice(Fault, f, "faults") for f in self.faults))
