"""The monitoring tables: each station's rule state, and the times its compartments were full
to the top."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from onecity.core.db import Base, UTCDateTime, utcnow
from onecity.core.models import BigId


class WasteStationState(Base):
    """A station's monitoring state (waste.monitoring.StationState as JSON, see
    monitoring_codec). Locked while a reading is applied, so processes take turns."""

    __tablename__ = "waste_station_state"

    station_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class WasteOverflow(Base):
    """A time a compartment was full to the top (its telemetry at or above OVERFLOW_AT), when
    citizens find it refusing their waste: the hours the city wants to drive to zero."""

    __tablename__ = "waste_overflow"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    compartment: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
