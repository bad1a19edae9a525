"""iTrash's tables outside the ledger: station monitoring state, crews' jobs, trucks and
collection plans, simulation reports. The ledger's own tables are in ledger/models.py; they
are imported here too, so whoever imports this module (migrations/env.py, the tests' table
truncation) registers every waste table on Base.metadata, and older imports keep working."""

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
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from onecity.core.db import Base, UTCDateTime, utcnow
from onecity.waste.ledger.models import (
    ACCOUNTS,
    CARD_ISSUE,
    CARD_VALUE,
    FEE_REVENUE,
    REBATE_EXPENSE,
    TOPUP_CASH,
    WasteBlock,
    WasteCard,
    WasteCardFlag,
    WasteCardLink,
    WastePosting,
    WasteSettlement,
    WasteTxn,
    WasteUnconfirmed,
)

# The ledger's tables and accounts, re-exported (and registered on Base.metadata with this
# module); new code imports them from onecity.waste.ledger.models.
__all__ = [
    "ACCOUNTS",
    "CARD_ISSUE",
    "CARD_VALUE",
    "FEE_REVENUE",
    "REBATE_EXPENSE",
    "TOPUP_CASH",
    "WasteBlock",
    "WasteCard",
    "WasteCardFlag",
    "WasteCardLink",
    "WastePosting",
    "WasteSettlement",
    "WasteTxn",
    "WasteUnconfirmed",
]

# Not the ledger's: each table package names its own big integer key type.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class WasteStationState(Base):
    """A station's monitoring state (waste.monitoring.StationState as JSON, see
    monitoring_codec). Locked while a reading is applied, so processes take turns."""

    __tablename__ = "waste_station_state"

    station_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


ONE_OPEN_JOB = "uq_waste_jobs_one_open"


class WasteJob(Base):
    """A crew job raised by a station alert. At most one not-closed job per (station,
    compartment, kind, detail); the crew accepts and closes it."""

    __tablename__ = "waste_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    compartment: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(64))
    collected_kg: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    # When the station stopped reporting the condition (the job stays for the crew).
    condition_cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        Index("ix_waste_jobs_station_status", "station_id", "status"),
        # At most one not-closed job per problem, however many API processes race to open it
        # (a citizen's report and the station's telemetry, or two citizens). coalesce: NULLs
        # are distinct in a unique index on both databases, and most jobs have no detail.
        Index(
            ONE_OPEN_JOB,
            "station_id",
            "kind",
            text("coalesce(compartment, '')"),
            text("coalesce(detail, '')"),
            unique=True,
            sqlite_where=text("status <> 'closed'"),
            postgresql_where=text("status <> 'closed'"),
        ),
    )


class WasteOverflow(Base):
    """A time a compartment was full to the top (its telemetry at or above OVERFLOW_AT), when
    citizens find it refusing their waste: the hours the city wants to drive to zero."""

    __tablename__ = "waste_overflow"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    compartment: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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


class WasteSimReport(Base):
    """A collection simulation's report and charts (SVG), for the dashboard."""

    __tablename__ = "waste_sim_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    charts: Mapped[dict[str, Any]] = mapped_column(JSON)  # name -> SVG text
