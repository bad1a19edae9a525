"""A permit's book of steps. `move` is the one place a permit's status changes (after
rules.status.check allows it); `record` keeps a step that leaves the status as it is (a locate
answer, an as-built survey, joining a joint dig); `expect` guards a step that needs one status,
and `filers` reads from the steps who wrote an application. Every step is a PermitStep row, an audit
record and a `roadworks.permit` event, in the caller's unit of work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import audit, events
from onecity.core.errors import Conflict
from onecity.roadworks.permits.models import Permit, PermitStep
from onecity.roadworks.rules.status import PermitStatus, check


class PermitBooks:
    def __init__(self, department: str, now: Callable[[], datetime]) -> None:
        self.department = department
        self.now = now

    def enter(
        self,
        s: Session,
        p: Permit,
        actor: str,
        source: str,
        detail: dict[str, Any],
        number: Callable[[Permit], None],
    ) -> None:
        """Put a new application on the books: the database gives it an id, `number` gives it
        its ref, and being filed is its first step."""
        check(None, PermitStatus.APPLIED)
        p.status = PermitStatus.APPLIED.value
        s.add(p)
        s.flush()
        number(p)
        self._write(s, p, actor, "applied", None, PermitStatus.APPLIED, "", source, detail)

    def move(
        self,
        s: Session,
        p: Permit,
        to: PermitStatus,
        actor: str,
        step: str,
        note: str,
        source: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Move `p` to `to` as the step `step`; Conflict if the table has no such move."""
        before = PermitStatus(p.status)
        check(before, to)
        p.status = to.value
        self._write(s, p, actor, step, before, to, note, source, detail)

    def record(
        self,
        s: Session,
        p: Permit,
        actor: str,
        step: str,
        note: str,
        source: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """A step that leaves `p`'s status as it is."""
        now = PermitStatus(p.status)
        self._write(s, p, actor, step, now, now, note, source, detail)

    def _write(
        self,
        s: Session,
        p: Permit,
        actor: str,
        step: str,
        before: PermitStatus | None,
        after: PermitStatus,
        note: str,
        source: str,
        detail: dict[str, Any] | None,
    ) -> None:
        was = None if before is None else before.value
        p.updated_at = self.now()
        s.add(
            PermitStep(
                permit_id=p.id,
                at=p.updated_at,
                actor=actor,
                step=step,
                from_status=was,
                to_status=after.value,
                note=note,
                detail=detail or {},
            )
        )
        audit.append(
            s,
            actor=actor,
            action=f"roadworks.{step}",
            target=f"permit/{p.ref}",
            source=source,
            detail={"from": was, "to": after.value, **(detail or {})},
        )
        events.emit(
            s,
            "roadworks.permit",
            {"permit": p.ref, "step": step, "status": after.value, "applicant": p.applicant_code},
            self.department,
        )


# The steps whose actor wrote the application: none of them may decide it.
FILING_STEPS = ("applied", "resubmitted", "emergency_started")


def filers(s: Session, p: Permit) -> set[str]:
    """Everyone who filed or amended `p` (staff filing on an organisation's behalf included)."""
    q = select(PermitStep.actor).where(
        PermitStep.permit_id == p.id, PermitStep.step.in_(FILING_STEPS)
    )
    return {p.created_by, *s.scalars(q)}


def expect(p: Permit, status: PermitStatus, what: str) -> None:
    if p.status != status:
        raise Conflict(f"{p.ref} is {p.status}; to {what} it must be {status}", code="wrong_status")
