"""Request and response shapes of the collection planning API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from onecity.core.dates import CityDate
from onecity.core.free_json import GeoJsonIn


class PlanStopOut(BaseModel):
    id: int
    station_id: str
    station_name: str
    location: dict[str, Any] | None
    truck_id: str | None
    seq: int | None
    status: str  # planned | served | skipped | unserved
    kind: str
    required: bool
    reason: str
    kg: float
    m3: float
    arrive_at: datetime | None
    start_at: datetime | None
    depart_at: datetime | None
    load_kg: float | None
    load_m3: float | None
    served_at: datetime | None
    job_id: int | None


class RouteOut(BaseModel):
    truck_id: str
    truck_name: str
    crew: str | None
    depot: dict[str, Any]
    capacity_kg: float
    capacity_m3: float
    shift_start: str
    shift_end: str
    leaves_at: datetime | None
    back_at: datetime | None
    distance_km: float
    load_kg: float
    stops: list[PlanStopOut]


class PlanOut(BaseModel):
    id: int
    day: date
    version: int
    status: str
    reason: str
    created_at: datetime
    created_by: str
    solve_s: float
    distance_km: float
    travel: str
    routes: list[RouteOut]
    left_out: list[PlanStopOut]  # optional stops skipped and required ones that did not fit
    summary: dict[str, Any]


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: CityDate
    seconds: Annotated[float, Field(gt=0, le=60)] | None = None


class UrgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    station_id: Annotated[str, Field(min_length=1, max_length=64)]
    kind: Annotated[str, Field(pattern="^(fire|fault|collect)$")] = "fire"


class ReplanOut(BaseModel):
    plan: PlanOut
    urgent_served: bool
    changed_trucks: list[str]
    why_not: list[str]  # when the urgent stop did not fit: why


class TruckOut(BaseModel):
    id: str
    name: str
    depot_name: str
    location: dict[str, Any]
    capacity_kg: float
    capacity_m3: float
    shift_start: str
    shift_end: str
    crew: str | None
    seen: SeenOut | None = None  # where it was last seen, if ever


class SeenOut(BaseModel):
    location: dict[str, Any]  # GeoJSON Point, WGS84
    accuracy_m: float | None
    at: datetime
    by: str


class PositionIn(BaseModel):
    """Where the truck is, from its crew's phone (the browser's geolocation)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    location: GeoJsonIn  # a GeoJSON Point in WGS84, inside the city
    accuracy_m: Annotated[float, Field(ge=0, le=100_000)] | None = None
    at: datetime | None = Field(
        default=None, description="when the phone took the fix (default: now); not in the future"
    )


_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


class TruckIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    depot_name: Annotated[str, Field(min_length=1, max_length=100)]
    depot: GeoJsonIn  # a GeoJSON Point in WGS84, inside the city
    capacity_kg: Annotated[float, Field(gt=0, le=40_000)]
    capacity_m3: Annotated[float, Field(gt=0, le=100)]
    shift_start: Annotated[str, Field(pattern=_HHMM)]
    shift_end: Annotated[str, Field(pattern=_HHMM)]
    crew: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class TruckPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    depot_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    depot: GeoJsonIn | None = None
    capacity_kg: Annotated[float, Field(gt=0, le=40_000)] | None = None
    capacity_m3: Annotated[float, Field(gt=0, le=100)] | None = None
    shift_start: Annotated[str, Field(pattern=_HHMM)] | None = None
    shift_end: Annotated[str, Field(pattern=_HHMM)] | None = None
    crew: Annotated[str, Field(max_length=64)] | None = None  # "" takes the crew off
    active: bool | None = None
