"""Contractors' breaches: recorded with points and a fine within the statutory range, never
edited (a correction voids an earlier row by a new one); a contractor past the threshold is
barred from new permits and from starting works (penalties.py holds the rule)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core.errors import Conflict
from onecity.roadworks.registry.models import PenaltyRow
from onecity.roadworks.rules import penalties

POLICY = penalties.BarPolicy()


def records(s: Session, contractor: str) -> list[penalties.PenaltyRecord]:
    """The contractor's standing penalties: rows not voided by a later correction."""
    rows = s.scalars(select(PenaltyRow).where(PenaltyRow.contractor_code == contractor)).all()
    voided = {r.voids for r in rows if r.voids is not None}
    return [
        penalties.PenaltyRecord(at=r.on_date, points=r.points, breach=r.breach)
        for r in rows
        if r.voids is None and r.id not in voided
    ]


def standing(s: Session, contractor: str, on: date) -> tuple[int, tuple[date, date] | None]:
    recs = records(s, contractor)
    return penalties.points_on(recs, on, POLICY), penalties.barred_on(recs, on, POLICY)


def refuse_if_barred(s: Session, contractor: str, on: date) -> None:
    bar = penalties.barred_on(records(s, contractor), on, POLICY)
    if bar is not None:
        raise Conflict(
            f"contractor '{contractor}' is barred from {bar[0].isoformat()} until "
            f"{bar[1].isoformat()} ({POLICY.threshold} penalty points within "
            f"{POLICY.window_days} days)",
            code="contractor_barred",
            field="contractor",
        )
