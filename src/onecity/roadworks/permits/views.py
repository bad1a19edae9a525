"""Rows to response shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import clock
from onecity.roadworks.permits import schemas as sc
from onecity.roadworks.permits.checks import Checked, finding_dicts, joint_plan
from onecity.roadworks.permits.models import LocateRequest, Permit, PermitStep
from onecity.roadworks.registry.models import RoadOrg
from onecity.roadworks.rules.footprint import Footprint
from onecity.roadworks.rules.status import STARTED, LocateStatus, PermitStatus


def _org_name(s: Session, code: str) -> str:
    org = s.get(RoadOrg, code)
    return org.name_zh if org is not None else code


def org_names(s: Session, code: str) -> dict[str, str]:
    """An organisation's name per language; the code where the books have no name."""
    org = s.get(RoadOrg, code)
    if org is None:
        return {"zh-TW": code, "en": code}
    return {"zh-TW": org.name_zh, "en": org.name_en or org.name_zh}


def related_out(s: Session, p: Permit, reads: Callable[[Permit], bool]) -> list[sc.RelatedOut]:
    """The works `p`'s findings and joint dig name, each as far as the reader may see it, so
    a page links to what they may open (the permit, or its public view) and to nothing else."""
    refs = {f["data"]["other"] for f in p.findings if f.get("data", {}).get("other")}
    if p.joint_group:
        refs |= set(s.scalars(select(Permit.ref).where(Permit.joint_group == p.joint_group)))
    refs.discard(p.ref)
    out = []
    for o in s.scalars(select(Permit).where(Permit.ref.in_(refs)).order_by(Permit.ref)):
        readable = reads(o)
        # What the public works map shows (the same statuses and no doubtful record).
        public = o.status in (PermitStatus.GRANTED, *STARTED) and not any(
            f.get("severity") == "data" for f in o.findings
        )
        out.append(
            sc.RelatedOut(
                ref=o.ref,
                readable=readable,
                public=public,
                start_date=o.start_date if readable or public else None,
                geometry=o.geometry if readable or public else None,
            )
        )
    return out


def joint_dig_out(s: Session, p: Permit) -> sc.JointDigOut | None:
    """The joint dig as granted (members by dig order), or as proposed for an application."""
    if p.joint_group:
        members = s.scalars(
            select(Permit.ref)
            .where(Permit.joint_group == p.joint_group)
            .order_by(Permit.dig_order, Permit.id)
        ).all()
        return sc.JointDigOut(members=list(members), group=p.joint_group)
    if p.status not in (PermitStatus.APPLIED, PermitStatus.CHANGES_REQUESTED):
        return None
    plan, _rows = joint_plan(s, p)
    if plan is None:
        return None
    return sc.JointDigOut(members=plan.members, reason=plan.reason, window=list(plan.window))


def locate_out(s: Session, loc: LocateRequest, p: Permit, today: date) -> sc.LocateOut:
    return sc.LocateOut(
        id=loc.id,
        permit_ref=p.ref,
        owner=loc.owner_code,
        owner_name=_org_name(s, loc.owner_code),
        owner_names=org_names(s, loc.owner_code),
        pipes=len(loc.pipe_ids),
        notified_at=loc.notified_at,
        due_by=loc.due_by,
        response=loc.response,
        responded_at=loc.responded_at,
        responded_by=loc.responded_by,
        note=loc.note,
        overdue=loc.response == LocateStatus.PENDING and today > loc.due_by,
    )


def permit_out(
    s: Session, p: Permit, *, full: bool = False, today: date | None = None
) -> sc.PermitOut:
    out = sc.PermitOut(
        id=p.id,
        ref=p.ref,
        applicant=p.applicant_code,
        applicant_name=_org_name(s, p.applicant_code),
        applicant_names=org_names(s, p.applicant_code),
        contractor=p.contractor_code,
        contractor_names=org_names(s, p.contractor_code) if p.contractor_code else None,
        purpose=p.purpose,
        description=p.description,
        road=p.road,
        road_class=p.road_class,
        width_m=p.width_m,
        area_m2=p.area_m2,
        depth_m=p.depth_m,
        geometry=p.geometry,
        district=p.district,
        start_date=p.start_date,
        end_date=p.end_date,
        night=p.night,
        emergency=p.emergency,
        residential=p.residential,
        hours=p.hours,
        traffic_plan=p.traffic_plan,
        status=p.status,
        category=p.category,
        filed_at=p.filed_at,
        decide_by=p.decide_by,
        fee_total=p.fee_total,
        fee_version=p.fee_version,
        fee_lines=[sc.FeeLine(**x) for x in p.fee_lines],
        findings=[sc.FindingOut(**f) for f in p.findings],
        joint_group=p.joint_group,
        dig_order=p.dig_order,
    )
    if full:
        out.joint_dig = joint_dig_out(s, p)
        day = today or clock.now().date()
        locs = s.scalars(
            select(LocateRequest).where(LocateRequest.permit_id == p.id).order_by(LocateRequest.id)
        ).all()
        out.locates = [locate_out(s, loc, p, day) for loc in locs]
        steps = s.scalars(
            select(PermitStep).where(PermitStep.permit_id == p.id).order_by(PermitStep.id)
        ).all()
        out.steps = [
            sc.StepOut(
                at=x.at,
                actor=x.actor,
                step=x.step,
                from_status=x.from_status,
                to_status=x.to_status,
                note=x.note,
                detail=x.detail,
            )
            for x in steps
        ]
    return out


def check_out(got: Checked, fp: Footprint) -> sc.CheckOut:
    jd = got.assessment.joint_dig
    return sc.CheckOut(
        category=got.assessment.category,
        blocked=got.assessment.blocked,
        findings=[sc.FindingOut(**f) for f in finding_dicts(got.assessment)],
        joint_dig=(
            None
            if jd is None
            else {
                "members": jd.members,
                "reason": jd.reason,
                "window": [jd.window[0].isoformat(), jd.window[1].isoformat()],
            }
        ),
        fee_total=got.quote.total,
        fee_version=got.quote.version,
        fee_lines=[sc.FeeLine(item=k, amount=v) for k, v in got.quote.lines()],
        decide_by=got.decide_by,
        locate_owners=sorted({m.owner for m in got.matches}),
        area_m2=fp.area_m2,
        district=fp.district,
    )
