"""Locate requests ("call before you dig"): when a permit is filed, every owner of a pipe the
dig could reach is asked to mark it on site or say the way is clear, within 2 working days;
the works cannot start until each has answered (service.PermitService checks that)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import events
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.errors import Conflict, Forbidden, Invalid, NotFound
from onecity.roadworks.models import LocateRequest, Permit
from onecity.roadworks.permits import schemas as sc
from onecity.roadworks.permits import views
from onecity.roadworks.rules import pipes as pipe_rules

if TYPE_CHECKING:
    from onecity.roadworks.permits.service import PermitService, RoadworksConfig

WORKING_DAYS = 2
# Permits in these statuses have nothing left to dig: their requests are not answered.
FINISHED = ("refused", "withdrawn", "closed")


CANCELLED = "cancelled"  # the amended works no longer reach the owner's pipes


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
        if owner not in by_owner and loc.response != CANCELLED:
            loc.response, loc.note = CANCELLED, "the amended works no longer reach these pipes"
    for owner, ids in sorted(by_owner.items()):
        asked = before.get(owner)
        if asked is None:
            asked = LocateRequest(permit_id=p.id, owner_code=owner)
            s.add(asked)
        asked.pipe_ids = sorted(ids)
        asked.notified_at, asked.due_by = now, due
        asked.response, asked.note = "pending", ""
        asked.responded_at = asked.responded_by = None
        asked.escalated_at = None
        # The owner's notice: its webhooks and the outbox relay carry it.
        events.emit(
            s,
            "roadworks.locate",
            {"permit": p.ref, "owner": owner, "pipes": len(ids), "due_by": due.isoformat()},
            config.department,
        )


def escalate_overdue(svc: PermitService) -> int:
    """Tell RPIC (a `roadworks.locate_overdue` event and a step of the permit) about each
    request whose owner let the due day pass without an answer, once per request."""
    today = svc.today()
    with svc.db.session() as s:
        rows = s.execute(
            select(LocateRequest, Permit)
            .join(Permit, Permit.id == LocateRequest.permit_id)
            .where(
                LocateRequest.response == "pending",
                LocateRequest.due_by < today,
                LocateRequest.escalated_at.is_(None),
                Permit.status.not_in(FINISHED),
            )
            .with_for_update()
        ).all()
        for loc, p in rows:
            loc.escalated_at = svc.clock()
            svc.record_step(
                s,
                p,
                "system",
                "locate_overdue",
                p.status,
                p.status,
                f"{loc.owner_code} did not answer by {loc.due_by.isoformat()}",
                "rpic-loop",
                {"owner": loc.owner_code, "due_by": loc.due_by.isoformat()},
            )
            events.emit(
                s,
                "roadworks.locate_overdue",
                {"permit": p.ref, "owner": loc.owner_code, "due_by": loc.due_by.isoformat()},
                svc.config.department,
            )
        return len(rows)


class LocateDesk:
    """Owners' answers and their queues, on the permit service's database and rules."""

    def __init__(self, permits: PermitService) -> None:
        self.permits = permits

    def answer(
        self, who: Principal, locate_id: int, body: sc.LocateAnswerIn, source: str
    ) -> sc.LocateOut:
        """A pipe owner's positive response: marked on site, clear (no pipe in the way), or
        conflict (the works would hit it). A later answer replaces an earlier one; each is a
        step of the permit."""
        svc = self.permits
        if not svc.is_assessor(who):
            require(who, Perm.ROADWORKS_APPLY)
        with svc.db.session() as s:
            loc = s.get(LocateRequest, locate_id, with_for_update=True)
            if loc is None:
                raise NotFound(f"no locate request {locate_id}", field="locate_id")
            # Only the owner knows where its pipes are: RPIC assessors see every request but
            # answer none on an owner's behalf.
            if loc.owner_code not in svc.orgs_of(s, who):
                raise Forbidden(
                    f"locate request {locate_id} is answered by {loc.owner_code}'s staff",
                    code="not_owner_staff",
                )
            p = s.get(Permit, loc.permit_id)
            assert p is not None
            if p.status in FINISHED:
                raise Conflict(f"{p.ref} is {p.status}: nothing to answer")
            if loc.response == CANCELLED:
                raise Conflict(f"{p.ref} no longer reaches {loc.owner_code}'s pipes")
            if body.response == "conflict" and not body.note.strip():
                raise Invalid("say which pipe is in the way and what to do", field="note")
            before = loc.response
            loc.response = body.response
            loc.note = body.note
            loc.responded_at = svc.clock()
            loc.responded_by = who.username
            svc.record_step(
                s,
                p,
                who.username,
                "locate_answered",
                p.status,
                p.status,
                body.note,
                source,
                {"owner": loc.owner_code, "from": before, "response": body.response},
            )
            return views.locate_out(s, loc, p, svc.today())

    def queue(self, who: Principal, pending_only: bool) -> list[sc.LocateOut]:
        """Locate requests for the caller's organisations (all of them for RPIC staff)."""
        svc = self.permits
        with svc.db.read() as s:
            q = select(LocateRequest, Permit).join(Permit, Permit.id == LocateRequest.permit_id)
            if not (who.can(Perm.ROADWORKS_READ) and who.sees_department(svc.config.department)):
                q = q.where(LocateRequest.owner_code.in_(svc.orgs_of(s, who)))
            if pending_only:
                q = q.where(LocateRequest.response == "pending")
            rows = s.execute(q.order_by(LocateRequest.due_by, LocateRequest.id).limit(500)).all()
            return [views.locate_out(s, loc, p, svc.today()) for loc, p in rows]
