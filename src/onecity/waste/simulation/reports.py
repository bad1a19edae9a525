"""Collection simulation reports kept for the dashboard: `onecity waste simulate` stores its
report and SVG charts here, `onecity demo` a small run of its own; the simulation page shows
the newest, with the parameters it was run with (`parameters`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database
from onecity.core.errors import Forbidden
from onecity.waste.simulation.models import WasteSimReport

# A run small enough to finish in seconds when the demo starts, so the simulation page has
# something to show; the page says it is small and how to run a full one.
DEMO_RUN = {"days": 3, "stations": 8, "warmup_days": 2, "solve_s": 0.2, "seed": 0}


def parameters(
    *, days: int, stations: int, warmup_days: int, solve_s: float, seed: int, demo: bool
) -> dict[str, Any]:
    """What a stored report says about how it was run (the page shows these, not defaults)."""
    return {
        "warmup_days": warmup_days,
        "solve_s": solve_s,
        "demo": demo,
        "command": f"onecity waste simulate --days {days} --stations {stations} --seed {seed}",
    }


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


def latest(db: Database, who: Principal, department: str) -> dict[str, Any] | None:
    """The newest stored report, None when there is none yet (an empty page, not an error)."""
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
            return None
        return {
            "id": row.id,
            "created_at": row.created_at,
            "created_by": row.created_by,
            "report": row.report,
            "charts": row.charts,
        }
