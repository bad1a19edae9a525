"""An application sent back for changes is amended and checked again as a whole: the same
permit number, new findings, fee and answer date, and locate requests renewed for the new
footprint. The amendment is a step of the permit like any other."""

from __future__ import annotations

from onecity.core.auth.permissions import Principal
from onecity.core.errors import Conflict, Invalid
from onecity.roadworks.permits import locates, views
from onecity.roadworks.permits import schemas as sc
from onecity.roadworks.permits.filing import fill
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.rules.status import PermitStatus


def resubmit(
    svc: PermitService, who: Principal, ref: str, body: sc.PermitIn, source: str
) -> sc.PermitOut:
    with svc.db.session() as s:
        p = svc.locked(s, ref)
        svc.may_act_for(s, who, p)
        if p.status != PermitStatus.CHANGES_REQUESTED:
            raise Conflict(
                f"{p.ref} is {p.status}; only an application sent back for changes is amended",
                code="wrong_status",
            )
        if body.applicant != p.applicant_code:
            raise Invalid(f"{p.ref} is {p.applicant_code}'s application", field="applicant")
        if body.emergency:
            raise Invalid("emergency works are filed as new works", field="emergency")
        fp, _app, got = svc.prepare(s, who, body, exclude_id=p.id)
        was = {"start": p.start_date.isoformat(), "end": p.end_date.isoformat(), "fee": p.fee_total}
        fill(p, body, fp, got)
        locates.request(s, p, got.matches, svc.clock(), svc.config, svc.tz)
        svc.books.move(
            s,
            p,
            PermitStatus.APPLIED,
            who.username,
            "resubmitted",
            "",
            source,
            {"before": was, "findings": len(p.findings), "decide_by": p.decide_by.isoformat()},
        )
        return views.permit_out(s, p, full=True, today=svc.today())
