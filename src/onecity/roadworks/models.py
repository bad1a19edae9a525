"""RPIC's tables. Permit steps, penalties and photo check-ins are append-only: a correction is
a new row. Geometries are GeoJSON (WGS84) as sent; each row with a footprint also keeps its
box in the city's projected metres (minx…maxy), which the spatial index (spatial.py: an SQLite
R*Tree kept by triggers, a PostgreSQL GiST index) answers "what is near here" from."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from onecity.core.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class RoadOrg(Base):
    """A utility (water, power, gas, telecom…), a contractor or a city agency that digs."""

    __tablename__ = "roadworks_orgs"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # utility | contractor | agency
    utility_kind: Mapped[str | None] = mapped_column(String(16))  # water, gas, … for utilities
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoadOrgMember(Base):
    """A login that acts for an organisation: files its permits, answers its locate requests."""

    __tablename__ = "roadworks_org_members"

    org_code: Mapped[str] = mapped_column(ForeignKey("roadworks_orgs.code"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Permit(Base):
    __tablename__ = "roadworks_permits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(24), unique=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    applicant_code: Mapped[str] = mapped_column(ForeignKey("roadworks_orgs.code"), index=True)
    contractor_code: Mapped[str | None] = mapped_column(
        ForeignKey("roadworks_orgs.code"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(200))
    road: Mapped[str | None] = mapped_column(String(120))
    road_class: Mapped[str] = mapped_column(String(16))
    width_m: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)
    depth_m: Mapped[float] = mapped_column(Float)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    district: Mapped[str | None] = mapped_column(String(16))
    start_date: Mapped[date] = mapped_column(Date, index=True)
    end_date: Mapped[date] = mapped_column(Date, index=True)
    night: Mapped[bool] = mapped_column(Boolean, default=False)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    residential: Mapped[bool] = mapped_column(Boolean, default=False)
    hours: Mapped[str] = mapped_column(String(120), default="")
    traffic_plan: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), index=True)
    category: Mapped[str] = mapped_column(String(16))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decide_by: Mapped[date] = mapped_column(Date)
    fee_total: Mapped[int] = mapped_column(Integer)
    fee_version: Mapped[str] = mapped_column(String(16))
    fee_lines: Mapped[list[Any]] = mapped_column(JSON, default=list)
    findings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    joint_group: Mapped[str | None] = mapped_column(String(24), index=True)
    dig_order: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    minx: Mapped[float] = mapped_column(Float)
    miny: Mapped[float] = mapped_column(Float)
    maxx: Mapped[float] = mapped_column(Float)
    maxy: Mapped[float] = mapped_column(Float)
    # Day numbers (date.toordinal()) for the SQLite R*Tree's time axis.
    start_day: Mapped[int] = mapped_column(Integer)
    end_day: Mapped[int] = mapped_column(Integer)


class PermitStep(Base):
    """One step of a permit's life, never changed: who did what, when, from which status."""

    __tablename__ = "roadworks_permit_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("roadworks_permits.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FeeSchedule(Base):
    """A version of the fee table; a permit is charged by the version valid on its filing day."""

    __tablename__ = "roadworks_fee_tables"

    version: Mapped[str] = mapped_column(String(16), primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, unique=True)
    base: Mapped[int] = mapped_column(Integer)
    daily: Mapped[dict[str, int]] = mapped_column(JSON)
    restoration: Mapped[list[Any]] = mapped_column(JSON)  # [[max width m or null, NT$/m²], …]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))


class DigBanRow(Base):
    """A newly paved or resurfaced road that may not be dug until `paved_on` + `years`."""

    __tablename__ = "roadworks_dig_bans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    road: Mapped[str] = mapped_column(String(120), index=True)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    paved_on: Mapped[date] = mapped_column(Date)
    years: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    minx: Mapped[float | None] = mapped_column(Float)
    miny: Mapped[float | None] = mapped_column(Float)
    maxx: Mapped[float | None] = mapped_column(Float)
    maxy: Mapped[float | None] = mapped_column(Float)


class EmbargoRow(Base):
    """Days nobody digs (holidays, exams, events), city-wide or in an area."""

    __tablename__ = "roadworks_embargoes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # holiday | exam | event
    start_date: Mapped[date] = mapped_column(Date, index=True)
    end_date: Mapped[date] = mapped_column(Date)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PipeRow(Base):
    """A pipe segment in 3D: its line in plan and the depth of its centre at each end."""

    __tablename__ = "roadworks_pipes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    owner_code: Mapped[str] = mapped_column(ForeignKey("roadworks_orgs.code"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    diameter_mm: Mapped[int] = mapped_column(Integer)
    material: Mapped[str] = mapped_column(String(32), default="")
    year_laid: Mapped[int | None] = mapped_column(Integer)
    survey: Mapped[str] = mapped_column(String(32), default="")
    accuracy_m: Mapped[float] = mapped_column(Float)
    depth_start_m: Mapped[float] = mapped_column(Float)
    depth_end_m: Mapped[float] = mapped_column(Float)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)  # GeoJSON LineString, WGS84
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    # An as-built survey at a permit's close replaces the record; the old one stays, retired.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaced_by: Mapped[int | None] = mapped_column(BigInteger)
    source_permit_id: Mapped[int | None] = mapped_column(BigInteger)
    minx: Mapped[float] = mapped_column(Float)
    miny: Mapped[float] = mapped_column(Float)
    maxx: Mapped[float] = mapped_column(Float)
    maxy: Mapped[float] = mapped_column(Float)


class LocateRequest(Base):
    """One pipe owner's part of a permit's locate request and its positive response."""

    __tablename__ = "roadworks_locates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("roadworks_permits.id"), index=True)
    owner_code: Mapped[str] = mapped_column(ForeignKey("roadworks_orgs.code"), index=True)
    pipe_ids: Mapped[list[int]] = mapped_column(JSON)
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_by: Mapped[date] = mapped_column(Date)
    response: Mapped[str] = mapped_column(String(16))  # pending | marked | clear | conflict
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    responded_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    # When RPIC was told the owner had let the due day pass (once per request).
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("permit_id", "owner_code", name="uq_roadworks_locate"),)


class SiteCamera(Base):
    """A works site's live camera: where its feed is and when it last sent a frame."""

    __tablename__ = "roadworks_cameras"

    permit_id: Mapped[int] = mapped_column(ForeignKey("roadworks_permits.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(64))
    last_frame_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SitePhoto(Base):
    """A photo check-in at a stage of the works, with where and when it was taken."""

    __tablename__ = "roadworks_photos"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("roadworks_permits.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id"))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)  # from the permitted footprint
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("permit_id", "stage", "media_id", name="uq_roadworks_photo"),
    )


class PenaltyRow(Base):
    """A breach by a contractor, with its points and fine. A correction is a new row that
    names the one it voids (`voids`)."""

    __tablename__ = "roadworks_penalties"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contractor_code: Mapped[str] = mapped_column(ForeignKey("roadworks_orgs.code"), index=True)
    permit_id: Mapped[int | None] = mapped_column(ForeignKey("roadworks_permits.id"))
    breach: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(Integer)
    fine_twd: Mapped[int] = mapped_column(Integer)
    on_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    voids: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(64))
