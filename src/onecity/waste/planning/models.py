"""The planning tables: the trucks, and each day's plan versions with their stops."""

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
from onecity.core.models import BigId
from onecity.waste.jobs import models as _jobs  # noqa: F401 - waste_plan_stops.job_id refers to its table


class WasteTruck(Base):
    """A collection truck: where its crew starts and ends the shift, what it carries, and
    which crew member's phone shows its route."""

    __tablename__ = "waste_trucks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    depot_name: Mapped[str] = mapped_column(String(100))
    depot_lon: Mapped[float] = mapped_column(Float)
    depot_lat: Mapped[float] = mapped_column(Float)
    capacity_kg: Mapped[float] = mapped_column(Float)
    capacity_m3: Mapped[float] = mapped_column(Float)
    shift_start: Mapped[str] = mapped_column(String(5))  # local HH:MM
    shift_end: Mapped[str] = mapped_column(String(5))
    crew: Mapped[str | None] = mapped_column(String(64), index=True)  # a username
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where it was last seen (its crew's phone on the route page), for re-planning from there.
    seen_lon: Mapped[float | None] = mapped_column(Float)
    seen_lat: Mapped[float | None] = mapped_column(Float)
    seen_accuracy_m: Mapped[float | None] = mapped_column(Float)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seen_by: Mapped[str | None] = mapped_column(String(64))


class WastePlan(Base):
    """One version of a shift's collection plan. A re-plan adds the next version and marks
    this one superseded; the versions stay as the record of what crews were told when."""

    __tablename__ = "waste_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)  # current | superseded
    origin: Mapped[datetime] = mapped_column(UTCDateTime())  # local midnight of `day`
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    solve_s: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[int] = mapped_column(BigInteger)
    travel: Mapped[str] = mapped_column(String(200))  # which travel provider and its speed
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        UniqueConstraint("department_code", "day", "version", name="uq_waste_plans_version"),
    )


class WastePlanStop(Base):
    """A station in a plan: on a truck's route in order, or left out with the reason."""

    __tablename__ = "waste_plan_stops"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("waste_plans.id"), index=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    truck_id: Mapped[str | None] = mapped_column(ForeignKey("waste_trucks.id"))
    seq: Mapped[int | None] = mapped_column(Integer)  # order on the truck's route
    # planned | served | skipped (optional, not worth it) | unserved (required, did not fit)
    status: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # collect | repair | fire
    required: Mapped[bool] = mapped_column(Boolean)
    prize_m: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text)
    kg: Mapped[float] = mapped_column(Float)
    m3: Mapped[float] = mapped_column(Float)
    service_s: Mapped[int] = mapped_column(Integer)
    window_start_s: Mapped[int | None] = mapped_column(Integer)
    window_end_s: Mapped[int | None] = mapped_column(Integer)
    arrive_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    depart_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    load_kg: Mapped[float | None] = mapped_column(Float)
    load_m3: Mapped[float | None] = mapped_column(Float)
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    served_by: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("waste_jobs.id"))
