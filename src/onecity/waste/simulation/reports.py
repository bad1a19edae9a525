"""Collection simulation reports kept for the dashboard: `onecity waste simulate` stores its
report and SVG charts here, the planner's simulation page shows the newest."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database
from onecity.core.errors import Forbidden, NotFound
from onecity.waste.simulation.models import WasteSimReport


def store(
    db: Database, department: str, by: str, report: dict[str, Any], charts: dict[str, str]
) -> int:
    with db.session() as s:
        row = WasteSimReport(
            created_by=by, department_code=department, report=report, charts=charts
        )
        s.add(row)
        s.flush()
        return row.id


def latest(db: Database, who: Principal, department: str) -> dict[str, Any]:
    require(who, Perm.WASTE_READ)
    if not who.sees_department(department):
        raise Forbidden(f"simulations belong to department '{department}'", code="forbidden")
    with db.read() as s:
        row = s.scalars(
            select(WasteSimReport)
            .where(WasteSimReport.department_code == department)
            .order_by(WasteSimReport.id.desc())
            .limit(1)
        ).first()
        if row is None:
            raise NotFound(
                "no simulation yet: run `onecity waste simulate --days 30 --stations 100`"
            )
        return {
            "id": row.id,
            "created_at": row.created_at,
            "created_by": row.created_by,
            "report": row.report,
            "charts": row.charts,
        }
