"""Request and response shapes of the crew jobs API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from onecity.waste.monitoring.readings import MAX_WEIGHT_KG


class JobOut(BaseModel):
    id: int
    station_id: str
    station_name: str
    location: dict[str, Any] | None
    distance_m: float | None = None
    compartment: str | None
    kind: str
    detail: str | None
    priority: int
    status: str
    raised_at: datetime
    accepted_at: datetime | None
    accepted_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    collected_kg: float | None
    note: str
    condition_cleared_at: datetime | None
    escalated_at: datetime | None
    params: dict[str, Any]


class JobPage(BaseModel):
    jobs: list[JobOut]


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    collected_kg: Annotated[float, Field(ge=0, le=MAX_WEIGHT_KG)] | None = None
    note: Annotated[str, Field(max_length=2000)] = ""


class CompartmentOut(BaseModel):
    compartment: str
    status: str  # WasteContainer status: ok, lidOpen, burning, unknown
    fill: float | None
    weight_kg: float | None
    temperature_c: float | None
    door: str | None
    observed_at: datetime | None
    last_emptied_at: datetime | None


# A station's open alert. Named apart from core's AlertOut so that the OpenAPI component name
# does not depend on the module path (two AlertOut classes made it `onecity__waste__...`).
class StationAlertOut(BaseModel):
    model_config = ConfigDict(title="AlertOut")

    kind: str
    compartment: str | None
    detail: str | None
    priority: int
    raised_at: datetime
    params: dict[str, Any]


class StationStatusOut(BaseModel):
    station_id: str
    last_seen_at: datetime | None
    compartments: list[CompartmentOut]
    alerts: list[StationAlertOut]
    open_jobs: list[JobOut]
