"""The crews' jobs table: one row per job a station alert or a citizen's report raised."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from onecity.core.db import Base, UTCDateTime
from onecity.core.models import BigId

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
