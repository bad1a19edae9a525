"""The registry's rows as the API shows them: dig bans (with the day each ends), embargoes,
fee table versions and penalties (with the permit they were for and what voids them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core.workdays import add_years
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.registry import schemas as rs
from onecity.roadworks.registry.models import DigBanRow, EmbargoRow, FeeSchedule, PenaltyRow
from onecity.roadworks.rules import penalties


def ban_out(b: DigBanRow) -> rs.DigBanOut:
    return rs.DigBanOut(
        id=b.id,
        road=b.road,
        geometry=b.geometry,
        paved_on=b.paved_on,
        years=b.years,
        until=add_years(b.paved_on, b.years),
        note=b.note,
    )


def embargo_out(e: EmbargoRow) -> rs.EmbargoOut:
    return rs.EmbargoOut(
        id=e.id,
        name_zh=e.name_zh,
        name_en=e.name_en,
        kind=e.kind,
        start_date=e.start_date,
        end_date=e.end_date,
        area=e.geometry,
    )


def fee_out(t: FeeSchedule) -> rs.FeeTableOut:
    return rs.FeeTableOut(
        version=t.version,
        valid_from=t.valid_from,
        base=t.base,
        daily=dict(t.daily),
        restoration=list(t.restoration),
        created_at=t.created_at,
        created_by=t.created_by,
    )


def penalty_out(s: Session, r: PenaltyRow, voided_by: int | None) -> rs.PenaltyOut:
    ref = s.scalar(select(Permit.ref).where(Permit.id == r.permit_id)) if r.permit_id else None
    breach = penalties.BREACHES.get(r.breach)
    return rs.PenaltyOut(
        id=r.id,
        contractor=r.contractor_code,
        permit_ref=ref,
        breach=r.breach,
        breach_name=breach.name if breach else {"en": r.breach},
        points=r.points,
        fine_twd=r.fine_twd,
        on_date=r.on_date,
        note=r.note,
        voids=r.voids,
        voided_by=voided_by,
        recorded_at=r.recorded_at,
        recorded_by=r.recorded_by,
    )
