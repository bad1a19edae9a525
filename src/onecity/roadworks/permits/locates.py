"""Locate requests ("call before you dig"): when a permit is filed, every owner of a pipe the
dig could reach is asked to mark it on site or say the way is clear, within 2 working days;
the works cannot start until each has answered (service.PermitService checks that)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import events
from onecity.roadworks.config import RoadworksConfig
from onecity.roadworks.permits.models import LocateRequest, Permit
from onecity.roadworks.rules import pipes as pipe_rules
from onecity.roadworks.rules.status import LocateStatus

WORKING_DAYS = 2


def request(
    s: Session,
    p: Permit,
    found: list[pipe_rules.Match],
    now: datetime,
    config: RoadworksConfig,
    tz: ZoneInfo,
) -> None:
    """One request per owner of the matched pipes, in the filing's transaction. For amended
    works an owner asked before is asked again (its earlier answer was about other works),
    and one no longer reached is told its request is cancelled."""
    due = config.calendar.add_working_days(now.astimezone(tz), WORKING_DAYS)
    by_owner: dict[str, list[int]] = {}
    for m in found:
        by_owner.setdefault(m.owner, []).append(m.pipe_id)
    before = {
        loc.owner_code: loc
        for loc in s.scalars(select(LocateRequest).where(LocateRequest.permit_id == p.id))
    }
    for owner, loc in before.items():
        if owner not in by_owner and loc.response != LocateStatus.CANCELLED:
            loc.response = LocateStatus.CANCELLED.value
            loc.note = "the amended works no longer reach these pipes"
    for owner, ids in sorted(by_owner.items()):
        asked = before.get(owner)
        if asked is None:
            asked = LocateRequest(permit_id=p.id, owner_code=owner)
            s.add(asked)
        asked.pipe_ids = sorted(ids)
        asked.notified_at, asked.due_by = now, due
        asked.response, asked.note = LocateStatus.PENDING.value, ""
        asked.responded_at = asked.responded_by = None
        asked.escalated_at = None
        # The owner's notice: its webhooks and the outbox relay carry it.
        events.emit(
            s,
            "roadworks.locate",
            {"permit": p.ref, "owner": owner, "pipes": len(ids), "due_by": due.isoformat()},
            config.department,
        )
