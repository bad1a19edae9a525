"""The works on the ground: started (only once every pipe owner has answered), stopped, the
road restored, the restoration inspected; or the permit withdrawn before any of it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core.auth.permissions import Principal
from onecity.core.errors import Conflict, Invalid
from onecity.roadworks.permits import schemas as sc
from onecity.roadworks.permits import views
from onecity.roadworks.permits.books import expect
from onecity.roadworks.permits.models import LocateRequest, Permit
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.registry import penalty_book
from onecity.roadworks.rules.status import NOT_STARTED, LocateStatus, PermitStatus


class WorksDesk:
    def __init__(self, permits: PermitService) -> None:
        self.permits = permits

    def progress(self, who: Principal, ref: str, body: sc.ProgressIn, source: str) -> sc.PermitOut:
        svc = self.permits
        with svc.db.session() as s:
            p = svc.locked(s, ref)
            svc.may_act_for(s, who, p)
            if body.step == "start":
                self._may_start(s, p)
                to, step = PermitStatus.IN_PROGRESS, "works_started"
            elif body.step == "stop":
                expect(p, PermitStatus.IN_PROGRESS, "report the works done")
                to, step = PermitStatus.WORKS_DONE, "works_stopped"
            else:
                expect(p, PermitStatus.WORKS_DONE, "report the road restored")
                to, step = PermitStatus.RESTORED, "restored"
            svc.books.move(s, p, to, who.username, step, body.note, source)
            return views.permit_out(s, p, full=True, today=svc.today())

    def _may_start(self, s: Session, p: Permit) -> None:
        svc = self.permits
        expect(p, PermitStatus.GRANTED, "start the works")
        if svc.today() < p.start_date:
            raise Conflict(
                f"{p.ref} is permitted from {p.start_date.isoformat()}", code="too_early"
            )
        if p.contractor_code:
            penalty_book.refuse_if_barred(s, p.contractor_code, svc.today())
        if p.joint_group and p.dig_order and p.dig_order > 1:
            # One trench, deepest first: the works before this one in the order must be under
            # way (those withdrawn or refused have left the group's order).
            ahead = s.scalars(
                select(Permit).where(
                    Permit.joint_group == p.joint_group,
                    Permit.dig_order < p.dig_order,
                    Permit.status.in_(NOT_STARTED),
                )
            ).all()
            if ahead:
                first = min(ahead, key=lambda a: a.dig_order or 0)
                raise Conflict(
                    f"{p.ref} digs #{p.dig_order} in joint dig {p.joint_group}: {first.ref} "
                    f"(#{first.dig_order}, deeper) must start first",
                    code="dig_order",
                )
        waiting = s.scalars(
            select(LocateRequest).where(
                LocateRequest.permit_id == p.id,
                LocateRequest.response.in_((LocateStatus.PENDING, LocateStatus.CONFLICT)),
            )
        ).all()
        if waiting:
            names = ", ".join(f"{w.owner_code} ({w.response})" for w in waiting)
            raise Conflict(
                f"{p.ref} cannot start before every pipe owner has answered its locate request "
                f"with marked or clear: waiting for {names}",
                code="locates_pending",
            )

    def inspect(self, who: Principal, ref: str, body: sc.InspectIn, source: str) -> sc.PermitOut:
        svc = self.permits
        svc.require_assessor(who)
        with svc.db.session() as s:
            p = svc.locked(s, ref)
            expect(p, PermitStatus.RESTORED, "inspect the restoration")
            if body.result == "pass":
                to, step = PermitStatus.CLOSED, "inspected"
            else:
                if not body.note.strip():
                    raise Invalid("say what must be redone", field="note")
                to, step = PermitStatus.WORKS_DONE, "inspection_failed"
            svc.books.move(s, p, to, who.username, step, body.note, source)
            return views.permit_out(s, p, full=True, today=svc.today())

    def withdraw(self, who: Principal, ref: str, source: str) -> sc.PermitOut:
        svc = self.permits
        with svc.db.session() as s:
            p = svc.locked(s, ref)
            svc.may_act_for(s, who, p)
            if p.status not in NOT_STARTED:
                raise Conflict(f"{p.ref} is {p.status}; only works not started are withdrawn")
            svc.books.move(s, p, PermitStatus.WITHDRAWN, who.username, "withdrawn", "", source)
            return views.permit_out(s, p, full=True, today=svc.today())
