"""The citizens' station finder: every iTrash station and whether each compartment takes waste
now (open, full, out of order), without a login.

Only what a passer-by could see at the station goes out: its name and place, and per
compartment what it accepts, its state and when a full one is expected back. No crew names,
notes, job ids, fill history or anything about cards."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select

from onecity.core.db import Database, utcnow
from onecity.core.models import Device
from onecity.waste.jobs.models import WasteJob
from onecity.waste.jobs.status import JobStatus
from onecity.waste.monitoring import telemetry as jobs_telemetry
from onecity.waste.monitoring.codec import from_json
from onecity.waste.monitoring.models import WasteStationState
from onecity.waste.monitoring.readings import AlertKind, Fault
from onecity.waste.monitoring.rules import AlertKey, StationState
from onecity.waste.monitoring.targets import DEFAULT_TARGETS
from onecity.waste.rules.stations import STATION_TYPE

State = Literal["open", "full", "out_of_order", "unknown"]

# What each compartment takes, in the words a citizen looks for.
ACCEPTS: Mapping[str, str] = {
    "garbage": "garbage",
    "recycling_pet": "pet_bottles",
    "recycling_can": "cans",
}
# A fault of the whole station that stops every compartment: nobody can pay without the reader.
BLOCKING_STATION_FAULTS = frozenset({Fault.CARD_READER.value})
OUT_OF_ORDER_KINDS = frozenset({AlertKind.FIRE, AlertKind.FAULT})


# --- schemas ---------------------------------------------------------------------------------
class PublicCompartment(BaseModel):
    compartment: str = Field(description="garbage, recycling_pet or recycling_can")
    accepts: str = Field(description="garbage, pet_bottles or cans")
    state: State = Field(description="unknown: the station has not reported yet")
    being_emptied: bool = Field(False, description="full, and a crew is on its way or at it")
    back_by: datetime | None = Field(
        None, description="full: when the city's service target expects it emptied"
    )


class PublicStation(BaseModel):
    id: str
    name: str
    lon: float | None
    lat: float | None
    district: str | None
    compartments: list[PublicCompartment]


class PublicStationPage(BaseModel):
    as_of: datetime
    stations: list[PublicStation]


# --- the rule (pure) -------------------------------------------------------------------------
def compartment_view(
    state: StationState,
    name: str,
    full_job: tuple[str, datetime] | None,
    target: timedelta = DEFAULT_TARGETS[AlertKind.FULL],
) -> PublicCompartment:
    """A compartment as a citizen needs it. `full_job` is the (status, raised_at) of its
    not-closed `full` job, if any. Out of order (offline, fire, a fault of it or one that stops
    the station) beats full; never heard from is unknown."""
    accepts = ACCEPTS.get(name, name)
    alerts = state.alerts
    broken = AlertKey(AlertKind.OFFLINE) in alerts or any(
        k.kind in OUT_OF_ORDER_KINDS
        and (
            k.compartment == name
            or (k.compartment is None and (k.detail or "") in BLOCKING_STATION_FAULTS)
        )
        for k in alerts
    )
    if broken:
        return PublicCompartment(compartment=name, accepts=accepts, state="out_of_order")
    if name not in state.compartments:
        return PublicCompartment(compartment=name, accepts=accepts, state="unknown")
    full = alerts.get(AlertKey(AlertKind.FULL, name))
    if full is None:
        return PublicCompartment(compartment=name, accepts=accepts, state="open")
    if full_job is not None and full_job[0] == JobStatus.ACCEPTED:
        return PublicCompartment(
            compartment=name, accepts=accepts, state="full", being_emptied=True
        )
    raised = full_job[1] if full_job is not None else full.raised_at
    return PublicCompartment(
        compartment=name, accepts=accepts, state="full", back_by=raised + target
    )


def station_view(
    dev: Device, state: StationState, full_jobs: Mapping[str, tuple[str, datetime]]
) -> PublicStation:
    known = jobs_telemetry.COMPARTMENTS  # garbage, PET, cans: the order the station shows
    names = [*known, *sorted(set(state.compartments) - set(known))]
    return PublicStation(
        id=dev.id,
        name=dev.name,
        lon=dev.lon,
        lat=dev.lat,
        district=dev.district,
        compartments=[compartment_view(state, n, full_jobs.get(n)) for n in names],
    )


# --- reading ---------------------------------------------------------------------------------
class PublicStations:
    """Read-only: one read transaction, nothing written."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def stations(self) -> PublicStationPage:
        with self.db.read() as s:
            devs = list(
                s.execute(
                    select(Device)
                    .where(Device.type == STATION_TYPE, Device.status != "retired")
                    .order_by(Device.name, Device.id)
                ).scalars()
            )
            states = {
                r.station_id: from_json(r.state)
                for r in s.execute(select(WasteStationState)).scalars()
            }
            j = WasteJob
            jobs: Iterable[tuple[str, str | None, str, datetime]] = s.execute(
                select(j.station_id, j.compartment, j.status, j.raised_at)
                .where(
                    WasteJob.kind == AlertKind.FULL.value, WasteJob.status != JobStatus.CLOSED.value
                )
                .order_by(WasteJob.id)
            ).tuples()
            full: dict[str, dict[str, tuple[str, datetime]]] = {}
            for sid, comp, status, raised in jobs:
                if comp is not None:
                    full.setdefault(sid, {})[comp] = (status, raised)
        return PublicStationPage(
            as_of=utcnow(),
            stations=[
                station_view(d, states.get(d.id) or StationState(d.id), full.get(d.id, {}))
                for d in devs
            ],
        )
