"""The pipeline map: pipe segments in 3D, with their box in the city's projected metres for the
spatial index. An as-built survey retires a record and adds its replacement."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from onecity.core.db import Base, UTCDateTime
from onecity.roadworks.registry.models import BigId


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
