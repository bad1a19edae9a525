"""Locate requests after filing: owners answer them (LocateDesk) and RPIC hears of those left
unanswered past their due day (escalate_overdue, run by the module's loop)."""

from __future__ import annotations

from sqlalchemy import select

from onecity.core import events
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.errors import Conflict, Forbidden, Invalid, NotFound
from onecity.roadworks.permits import schemas as sc
from onecity.roadworks.permits import views
from onecity.roadworks.permits.models import LocateRequest, Permit
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.rules.status import FINISHED, LocateStatus


def escalate_overdue(svc: PermitService) -> int:
    """Tell RPIC (a `roadworks.locate_overdue` event and a step of the permit) about each
    request whose owner let the due day pass without an answer, once per request."""
    today = svc.today()
    with svc.db.session() as s:
        rows = s.execute(
            select(LocateRequest, Permit)
            .join(Permit, Permit.id == LocateRequest.permit_id)
            .where(
                LocateRequest.response == LocateStatus.PENDING,
                LocateRequest.due_by < today,
                LocateRequest.escalated_at.is_(None),
                Permit.status.not_in(FINISHED),
            )
            .with_for_update()
        ).all()
        for loc, p in rows:
            loc.escalated_at = svc.clock()
            svc.books.record(
                s,
                p,
                "system",
                "locate_overdue",
                "",  # the page says it in its language, from the detail
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
            if loc.response == LocateStatus.CANCELLED:
                raise Conflict(f"{p.ref} no longer reaches {loc.owner_code}'s pipes")
            if LocateStatus(body.response) is LocateStatus.CONFLICT and not body.note.strip():
                raise Invalid("say which pipe is in the way and what to do", field="note")
            before = loc.response
            loc.response = body.response
            loc.note = body.note
            loc.responded_at = svc.clock()
            loc.responded_by = who.username
            svc.books.record(
                s,
                p,
                who.username,
                "locate_answered",
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
                q = q.where(LocateRequest.response == LocateStatus.PENDING)
            rows = s.execute(q.order_by(LocateRequest.due_by, LocateRequest.id).limit(500)).all()
            return [views.locate_out(s, loc, p, svc.today()) for loc, p in rows]
