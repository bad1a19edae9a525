"""The simulation's table: the reports and charts of collection simulations run for the
dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from onecity.core.db import Base, UTCDateTime, utcnow
from onecity.core.models import BigId


class WasteSimReport(Base):
    """A collection simulation's report and charts (SVG), for the dashboard."""

    __tablename__ = "waste_sim_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    charts: Mapped[dict[str, Any]] = mapped_column(JSON)  # name -> SVG text
