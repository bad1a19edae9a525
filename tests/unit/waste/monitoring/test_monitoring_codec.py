"""The station state survives its JSON form unchanged, whatever the rules put in it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from onecity.waste.monitoring.codec import from_json, to_json
from onecity.waste.monitoring.readings import DoorState, Fault, MonitoringError, Reading
from onecity.waste.monitoring.rules import apply_reading, check_offline, new_station

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _busy_state():  # type: ignore[no-untyped-def]
    state = new_station("IT125-1")
    for i in range(8):
        at = T0 + timedelta(minutes=10 * i)
        r = Reading(
            "garbage",
            at,
            fill=0.1 * i,
            weight_kg=5.0 * i,
            temperature_c=8.0 + 2 * i,
            door=DoorState.JAMMED if i == 5 else DoorState.CLOSED,
            smoke=i == 7,
            faults=frozenset({Fault.PRINTER_PAPER}) if i > 3 else frozenset(),
        )
        state, _ = apply_reading(state, r, at)
    state, _ = check_offline(state, T0 + timedelta(hours=3))
    return state


def test_round_trip_keeps_everything() -> None:
    state = _busy_state()
    assert state.alerts, "the sample should carry open alerts"
    data = json.loads(json.dumps(to_json(state)))  # through real JSON text
    back = from_json(data)
    assert back == state
    assert to_json(back) == to_json(state)


def test_round_trip_continues_the_same_way() -> None:
    state = _busy_state()
    at = T0 + timedelta(hours=3, minutes=1)
    r = Reading("garbage", at, fill=0.1, weight_kg=1.0, temperature_c=7.0)
    assert apply_reading(from_json(to_json(state)), r, at) == apply_reading(state, r, at)


def test_empty_station_and_unknown_version() -> None:
    s = new_station("IT1")
    assert from_json(to_json(s)) == s
    with pytest.raises(MonitoringError):
        from_json({**to_json(s), "v": 99})
