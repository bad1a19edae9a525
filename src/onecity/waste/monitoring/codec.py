"""monitoring.StationState to and from JSON, for the `waste_station_state` table.

Times are ISO 8601 with their offset; alerts are a list (their keys are not strings). `v` is
the layout's version: a state of an unknown version is refused rather than misread."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onecity.waste.monitoring.readings import AlertKind, MonitoringError, Reading
from onecity.waste.monitoring.rules import AlertKey, CompartmentState, OpenAlert, StationState

VERSION = 1

Points = tuple[tuple[datetime, float], ...]


def _t(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _at(raw: Any) -> datetime | None:
    return None if raw is None else datetime.fromisoformat(str(raw))


def _points(points: Points) -> list[list[Any]]:
    return [[t.isoformat(), v] for t, v in points]


def _from_points(raw: list[list[Any]]) -> Points:
    return tuple((datetime.fromisoformat(str(t)), float(v)) for t, v in raw)


def _reading(r: Reading) -> dict[str, Any]:
    return {
        "compartment": r.compartment,
        "observed_at": r.observed_at.isoformat(),
        "fill": r.fill,
        "weight_kg": r.weight_kg,
        "temperature_c": r.temperature_c,
        "door": r.door.value,
        "compactor": r.compactor.value,
        "smoke": r.smoke,
        "faults": sorted(f.value for f in r.faults),
    }


def _from_reading(d: dict[str, Any]) -> Reading:
    return Reading(
        compartment=d["compartment"],
        observed_at=datetime.fromisoformat(d["observed_at"]),
        fill=d["fill"],
        weight_kg=d["weight_kg"],
        temperature_c=d["temperature_c"],
        door=d["door"],
        compactor=d["compactor"],
        smoke=d["smoke"],
        faults=frozenset(d["faults"]),
    )


def to_json(state: StationState) -> dict[str, Any]:
    return {
        "v": VERSION,
        "station_id": state.station_id,
        "last_seen_at": _t(state.last_seen_at),
        "compartments": {
            name: {
                "last": _reading(c.last),
                "fills": _points(c.fills),
                "temps": _points(c.temps),
                "fire_causes": sorted(c.fire_causes),
                "hot_since": _t(c.hot_since),
                "normal_since": _t(c.normal_since),
                "last_emptied_at": _t(c.last_emptied_at),
            }
            for name, c in sorted(state.compartments.items())
        },
        "alerts": [
            {
                "kind": a.key.kind.value,
                "compartment": a.key.compartment,
                "detail": a.key.detail,
                "raised_at": a.raised_at.isoformat(),
                "params": dict(a.params),
            }
            for a in sorted(state.alerts.values(), key=lambda a: str(a.key))
        ],
    }


def from_json(data: dict[str, Any]) -> StationState:
    if data.get("v") != VERSION:
        raise MonitoringError(
            f"station state layout {data.get('v')!r} is not {VERSION}; it cannot be read",
            field="state",
        )
    comps = {
        name: CompartmentState(
            last=_from_reading(c["last"]),
            fills=_from_points(c["fills"]),
            temps=_from_points(c["temps"]),
            fire_causes=frozenset(c["fire_causes"]),
            hot_since=_at(c["hot_since"]),
            normal_since=_at(c["normal_since"]),
            last_emptied_at=_at(c["last_emptied_at"]),
        )
        for name, c in data["compartments"].items()
    }
    alerts: dict[AlertKey, OpenAlert] = {}
    for a in data["alerts"]:
        key = AlertKey(AlertKind(a["kind"]), a["compartment"], a["detail"])
        alerts[key] = OpenAlert(key, datetime.fromisoformat(a["raised_at"]), dict(a["params"]))
    return StationState(data["station_id"], _at(data["last_seen_at"]), comps, alerts)
