"""Station compartments as FIWARE `WasteContainer` entities on the core's NGSI-LD read API
(`GET /ngsi-ld/v1/entities?type=WasteContainer`), so FIWARE tools and other cities' software
read iTrash fill levels in the Smart Data Models shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core.models import Device
from onecity.core.ngsi_entities import EntityType
from onecity.waste.monitoring.codec import from_json
from onecity.waste.monitoring.container import to_waste_container
from onecity.waste.monitoring.models import WasteStationState
from onecity.waste.monitoring.readings import MonitoringError
from onecity.waste.monitoring.rules import StationState
from onecity.waste.monitoring.telemetry import COMPARTMENTS
from onecity.waste.rules.stations import STATION_TYPE

PREFIX = "urn:ngsi-ld:WasteContainer:"


def containers(s: Session, stations: Sequence[Device]) -> list[dict[str, Any]]:
    """One entity per compartment of each station that has a location."""
    ids = [d.id for d in stations]
    states = {
        r.station_id: r.state
        for r in s.execute(
            select(WasteStationState).where(WasteStationState.station_id.in_(ids))
        ).scalars()
    }
    out: list[dict[str, Any]] = []
    for d in stations:
        if d.lon is None or d.lat is None:
            continue
        raw = states.get(d.id)
        state = from_json(raw) if raw is not None else StationState(d.id)
        for compartment in COMPARTMENTS:
            try:
                out.append(to_waste_container(d.id, compartment, state, d.lon, d.lat))
            except MonitoringError:  # an id the entity URN cannot carry
                break
    return out


def station_of(entity_id: str) -> str | None:
    """`urn:ngsi-ld:WasteContainer:<station>:<compartment>` -> the station's device id."""
    if not entity_id.startswith(PREFIX):
        return None
    station, sep, compartment = entity_id[len(PREFIX) :].rpartition(":")
    return station if sep and station and compartment in COMPARTMENTS else None


WASTE_CONTAINERS = EntityType(
    type="WasteContainer", device_type=STATION_TYPE, entities=containers, device_of=station_of
)
