"""A compartment as FIWARE Smart Data Models' `WasteContainer`, in NGSI-LD normalized form,
made from the rules' station state. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from onecity.waste.monitoring.readings import AlertKind, DoorState, check_id, iso, number
from onecity.waste.monitoring.rules import AlertKey, StationState
from onecity.waste.monitoring.targets import DEFAULT_TARGETS

SDM_CONTEXT = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.WasteManagement/"
    "master/context.jsonld"
)
NGSI_LD_CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
# storedWasteKind enum values; a compartment not listed has its kind omitted unless given.
WASTE_KIND: Mapping[str, str] = {
    "garbage": "other",  # mixed household garbage: no single kind of the model's enum fits
    "recycling_pet": "plastic",
    "recycling_can": "metal",
}


def container_status(state: StationState, compartment: str) -> str:
    """The model's safety status: burning > unknown (offline, never heard) > lidOpen > ok.
    A jammed door is not in the model's enum; it shows in `doorState` and as a fault."""
    comp = state.compartments.get(compartment)
    if AlertKey(AlertKind.FIRE, compartment) in state.alerts:
        return "burning"
    if comp is None or AlertKey(AlertKind.OFFLINE) in state.alerts:
        return "unknown"
    return "lidOpen" if comp.last.door is DoorState.OPEN else "ok"


def _prop(value: Any, observed_at: datetime | None = None) -> dict[str, Any]:
    if isinstance(value, datetime):
        value = {"@type": "DateTime", "@value": iso(value)}
    prop: dict[str, Any] = {"type": "Property", "value": value}
    if observed_at is not None:
        prop["observedAt"] = iso(observed_at)
    return prop


def to_waste_container(
    station_id: str,
    compartment: str,
    state: StationState,
    lon: float,
    lat: float,
    *,
    stored_waste_kind: str | None = None,
    service_target: timedelta = DEFAULT_TARGETS[AlertKind.FULL],
) -> dict[str, Any]:
    """The compartment as an NGSI-LD `WasteContainer` entity in normalized form."""
    check_id(station_id, "station_id")
    check_id(compartment, "compartment")
    lon = number(lon, "lon", -180.0, 180.0)
    lat = number(lat, "lat", -90.0, 90.0)
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:WasteContainer:{station_id}:{compartment}",
        "type": "WasteContainer",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
        "status": _prop(container_status(state, compartment)),
    }
    kind = stored_waste_kind or WASTE_KIND.get(compartment)
    if kind:
        entity["storedWasteKind"] = _prop(kind)
    comp = state.compartments.get(compartment)
    if comp is not None:
        r = comp.last
        entity["fillingLevel"] = _prop(r.fill, r.observed_at)
        entity["cargoWeight"] = _prop(r.weight_kg, r.observed_at)
        entity["temperature"] = _prop(r.temperature_c, r.observed_at)
        entity["doorState"] = _prop(r.door.value, r.observed_at)
        entity["compactorState"] = _prop(r.compactor.value, r.observed_at)
        entity["dateObserved"] = _prop(r.observed_at)
        if comp.last_emptied_at is not None:
            entity["dateLastEmptying"] = _prop(comp.last_emptied_at)
    full = state.alerts.get(AlertKey(AlertKind.FULL, compartment))
    soon = state.alerts.get(AlertKey(AlertKind.FULL_SOON, compartment))
    if full is not None:
        entity["nextActuationDeadline"] = _prop(full.raised_at + service_target)
    elif soon is not None:
        entity["nextActuationDeadline"] = _prop(datetime.fromisoformat(str(soon.params["eta"])))
    entity["@context"] = [SDM_CONTEXT, NGSI_LD_CORE_CONTEXT]
    return entity
