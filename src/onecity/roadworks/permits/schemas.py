"""Request and response shapes of the road works API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from onecity.core.dates import CityDate
from onecity.core.free_json import GeoJsonIn

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
Purpose = Literal["water", "sewer", "power", "gas", "telecom", "road", "other"]
RoadClass = Literal["narrow", "wide", "congested"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgIn(_In):
    code: Code
    name_zh: Annotated[str, Field(min_length=1, max_length=120)]
    name_en: Annotated[str, Field(min_length=1, max_length=120)]
    kind: Literal["utility", "contractor", "agency"]
    utility_kind: Literal["water", "sewer", "power", "gas", "telecom", "other"] | None = None
    members: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=200
    )


class OrgOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    kind: str
    utility_kind: str | None
    members: list[str]
    points: int = 0
    barred_until: date | None = None


class PermitIn(_In):
    """An application. `geometry` is a GeoJSON Polygon/MultiPolygon, or a LineString trench
    with `width_m`; WGS84 unless `crs` is the city's projected CRS (TWD97: EPSG:3826)."""

    applicant: Code
    contractor: Code | None = None
    purpose: Purpose
    description: Annotated[str, Field(min_length=1, max_length=200)]
    road: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    road_class: RoadClass
    geometry: GeoJsonIn
    crs: Annotated[str, Field(max_length=40)] | None = None
    width_m: Annotated[float, Field(gt=0, le=30)] | None = None
    depth_m: Annotated[float, Field(gt=0, le=30)]
    start_date: CityDate
    end_date: CityDate
    night: bool = False
    residential: bool = False
    emergency: bool = False
    hours: Annotated[str, Field(max_length=120)] = ""
    traffic_plan: Annotated[str, Field(max_length=4000)] = ""


class FootprintIn(_In):
    """A works outline on its own, to check before the rest of an application."""

    geometry: GeoJsonIn
    crs: Annotated[str, Field(max_length=40)] | None = None
    width_m: Annotated[float, Field(gt=0, le=30)] | None = None


class FootprintOut(BaseModel):
    type: str
    area_m2: float
    district: str | None
    geometry: dict[str, Any]  # as it would be stored: WGS84, a trench widened to its outline


class FindingOut(BaseModel):
    code: str
    severity: str
    reason: dict[str, str]
    data: dict[str, Any]


class FeeLine(BaseModel):
    item: str
    amount: int


class LocateOut(BaseModel):
    id: int
    permit_ref: str
    owner: str
    owner_name: str
    owner_names: dict[str, str] = Field(default_factory=dict)  # per language: zh-TW, en
    pipes: int
    notified_at: datetime
    due_by: date
    response: str
    responded_at: datetime | None
    responded_by: str | None
    note: str
    overdue: bool


class StepOut(BaseModel):
    at: datetime
    actor: str
    step: str
    from_status: str | None
    to_status: str
    note: str
    detail: dict[str, Any]


class CheckOut(BaseModel):
    """What the rules say about an application, before or after it is filed."""

    category: str
    blocked: bool
    findings: list[FindingOut]
    joint_dig: dict[str, Any] | None
    fee_total: int
    fee_version: str
    fee_lines: list[FeeLine]
    decide_by: date
    locate_owners: list[str]
    area_m2: float
    district: str | None


class JointDigOut(BaseModel):
    """A permit's joint dig: as granted (`group`, members in their dig order) or, for an open
    application, as the rules propose it (the same order the check before filing gave)."""

    members: list[str]
    group: str | None = None
    reason: dict[str, str] | None = None
    window: list[date] | None = None


class RelatedOut(BaseModel):
    """Another works a permit's findings name, as far as the reader may see it: its own page
    when they may read it (`readable`), else its public view on the works map (`public`: the
    city allowed it on the road, from `start_date`), else its number only."""

    ref: str
    readable: bool
    public: bool
    start_date: date | None = None
    geometry: dict[str, Any] | None = None


class PermitOut(BaseModel):
    id: int
    ref: str
    applicant: str
    applicant_name: str
    # The organisations' names per language (zh-TW, en); a name that exists only in Chinese
    # is the same in both.
    applicant_names: dict[str, str] = Field(default_factory=dict)
    contractor: str | None
    contractor_names: dict[str, str] | None = None
    purpose: str
    description: str
    road: str | None
    road_class: str
    width_m: float
    area_m2: float
    depth_m: float
    geometry: dict[str, Any]
    district: str | None
    start_date: date
    end_date: date
    night: bool
    emergency: bool
    residential: bool
    hours: str
    traffic_plan: str
    status: str
    category: str
    filed_at: datetime
    decide_by: date
    fee_total: int
    fee_version: str
    fee_lines: list[FeeLine]
    findings: list[FindingOut]
    joint_group: str | None
    dig_order: int | None
    joint_dig: JointDigOut | None = None
    related: list[RelatedOut] = Field(default_factory=list)
    locates: list[LocateOut] = Field(default_factory=list)
    steps: list[StepOut] = Field(default_factory=list)


class PermitPage(BaseModel):
    items: list[PermitOut]
    total: int


class DecisionIn(_In):
    decision: Literal["grant", "refuse", "changes"]
    note: Annotated[str, Field(max_length=2000)] = ""
    # Grant the application as one joint dig with the works it clashes with.
    joint_dig: bool = False


class ProgressIn(_In):
    step: Literal["start", "stop", "restored"]
    note: Annotated[str, Field(max_length=2000)] = ""


class InspectIn(_In):
    result: Literal["pass", "fail"]
    note: Annotated[str, Field(max_length=2000)] = ""


class LocateAnswerIn(_In):
    response: Literal["marked", "clear", "conflict"]
    note: Annotated[str, Field(max_length=2000)] = ""
