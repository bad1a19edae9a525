"""A permit, its steps and its locate requests. Steps are append-only: a correction is a new
step. A permit's footprint is GeoJSON (WGS84) as sent, and its box in the city's projected
metres (minx…maxy), which the spatial index (permits/spatial.py: an SQLite R*Tree kept by
triggers, a PostgreSQL GiST index) answers "what is near here" from."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
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
from onecity.roadworks.registry.models import BigId


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
