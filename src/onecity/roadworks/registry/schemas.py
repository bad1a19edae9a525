"""Request and response shapes of the registry API: pipes and as-built surveys, dig bans,
embargoes, fee tables and contractors' penalties."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from onecity.core.dates import CityDate
from onecity.core.free_json import GeoJsonIn
from onecity.roadworks.permits.schemas import Code

PipeKind = Literal["water", "sewer", "power", "gas", "telecom", "other"]
Crs = Annotated[str, Field(max_length=40)]
Depth = Annotated[float, Field(ge=0, le=30)]
Accuracy = Annotated[float, Field(ge=0, le=5)]
Diameter = Annotated[int, Field(ge=10, le=5000)]
Year = Annotated[int, Field(ge=1850, le=2100)]
Note = Annotated[str, Field(max_length=2000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PipeIn(_In):
    """A surveyed pipe segment: its line in plan (GeoJSON LineString, WGS84 unless `crs` is
    the city's projected CRS, e.g. EPSG:3826) and the depth of its centre at each end."""

    owner: Code
    kind: PipeKind
    geometry: GeoJsonIn
    crs: Crs | None = None
    diameter_mm: Diameter
    material: Annotated[str, Field(max_length=32)] = ""
    year_laid: Year | None = None
    survey: Annotated[str, Field(max_length=32)] = ""  # records, GPR, total station, as-built…
    accuracy_m: Accuracy
    depth_start_m: Depth
    depth_end_m: Depth


class PipeOut(BaseModel):
    id: int
    owner: str
    kind: str
    diameter_mm: int
    material: str
    year_laid: int | None
    survey: str
    accuracy_m: float
    depth_start_m: float
    depth_end_m: float
    geometry: dict[str, Any]
    synthetic: bool
    retired_at: datetime | None
    replaced_by: int | None
    source_permit_id: int | None


class AsBuiltPipe(_In):
    """One pipe as it was found or laid: `replaces` names the record it supersedes (null for
    a new pipe, which then needs owner, kind and diameter)."""

    replaces: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    owner: Code | None = None
    kind: PipeKind | None = None
    diameter_mm: Diameter | None = None
    material: Annotated[str, Field(max_length=32)] | None = None
    year_laid: Year | None = None
    geometry: GeoJsonIn
    crs: Crs | None = None
    accuracy_m: Accuracy
    depth_start_m: Depth
    depth_end_m: Depth


class AsBuiltIn(_In):
    pipes: Annotated[list[AsBuiltPipe], Field(min_length=1, max_length=200)]
    note: Note = ""


class AsBuiltOut(BaseModel):
    permit_ref: str
    retired: list[int]
    created: list[PipeOut]


class DigBanIn(_In):
    """A resurfaced road nobody may dig until `paved_on` + `years`. Without a geometry the ban
    covers every permit that names this road."""

    road: Annotated[str, Field(min_length=1, max_length=120)]
    geometry: GeoJsonIn | None = None
    crs: Crs | None = None
    # A LineString geometry is the road's centreline, widened to this many metres.
    width_m: Annotated[float, Field(gt=0, le=100)] = 20.0
    paved_on: CityDate
    years: Annotated[int, Field(ge=1, le=20)] = 5
    note: Annotated[str, Field(max_length=200)] = ""


class DigBanOut(BaseModel):
    id: int
    road: str
    geometry: dict[str, Any] | None
    paved_on: date
    years: int
    until: date
    note: str


class EmbargoIn(_In):
    name_zh: Annotated[str, Field(min_length=1, max_length=120)]
    name_en: Annotated[str, Field(min_length=1, max_length=120)]
    kind: Literal["holiday", "exam", "event"]
    start_date: CityDate
    end_date: CityDate
    # A Polygon or MultiPolygon; none means city-wide.
    area: GeoJsonIn | None = None
    crs: Crs | None = None


class EmbargoOut(BaseModel):
    id: int
    name_zh: str
    name_en: str
    kind: str
    start_date: date
    end_date: date
    area: dict[str, Any] | None


class FeeTableIn(_In):
    """A new version of the fee table. `restoration` is [widest trench in m, NT$/m²] bands,
    narrowest first; the last band's width is null (any wider trench)."""

    version: Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9._-]+$")]
    valid_from: CityDate
    base: Annotated[int, Field(ge=0, le=10_000_000)]
    daily: dict[Literal["narrow", "wide", "congested"], Annotated[int, Field(ge=0, le=1_000_000)]]
    restoration: Annotated[
        list[tuple[Annotated[float, Field(gt=0, le=100)] | None, Annotated[int, Field(ge=0)]]],
        Field(min_length=1, max_length=20),
    ]


class FeeTableOut(BaseModel):
    version: str
    valid_from: date
    base: int
    daily: dict[str, int]
    restoration: list[Any]
    created_at: datetime | None  # None: the built-in default, not yet on the books
    created_by: str


class PenaltyIn(_In):
    """A contractor's breach, or (with `voids`) the correction that cancels an earlier row."""

    contractor: Code
    permit_ref: Annotated[str, Field(max_length=24)] | None = None
    breach: Annotated[str, Field(max_length=32)] | None = None
    fine_twd: Annotated[int, Field(ge=0, le=100_000_000)] | None = None
    on_date: CityDate
    note: Note = ""
    voids: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None


class PenaltyOut(BaseModel):
    id: int
    contractor: str
    permit_ref: str | None
    breach: str
    breach_name: dict[str, str]
    points: int
    fine_twd: int
    on_date: date
    note: str
    voids: int | None
    voided_by: int | None
    recorded_at: datetime
    recorded_by: str


class PenaltyRecorded(PenaltyOut):
    """The row written, and where the contractor stands after it."""

    standing_points: int
    barred_until: date | None
