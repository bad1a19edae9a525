"""RPIC's monitoring map and the public works map: which works are on the road on a day, who
digs them, whether each site's feed is live, and the share of dug sites watched live."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from onecity.roadworks.permits.models import Permit
from onecity.roadworks.registry.models import RoadOrg
from onecity.roadworks.rules.status import OCCUPYING, STARTED, PermitStatus
from onecity.roadworks.sites import schemas as ss
from onecity.roadworks.sites.models import SiteCamera, SitePhoto

LIVE_WINDOW = timedelta(minutes=5)
MAX_SITES = 5000


def is_live(last_frame_at: datetime | None, now: datetime) -> bool:
    """A feed is live when its last frame is at most 5 minutes old."""
    return last_frame_at is not None and now - last_frame_at <= LIVE_WINDOW


def on_road(status: str, start: date, end: date, day: date) -> bool:
    """Whether a permit's works are on the road on `day`: granted works on their permitted
    days; started works from their first day until the permit closes, overrun or not."""
    if status in STARTED:
        return start <= day
    return status == PermitStatus.GRANTED and start <= day <= end


def live_share(sites: Iterable[tuple[str, str, bool]]) -> ss.MonitorSummary:
    """The headline from (ref, status, live) of each site; active means in progress."""
    active = [(ref, live) for ref, status, live in sites if status == PermitStatus.IN_PROGRESS]
    live_n = sum(1 for _ref, live in active if live)
    # Rounded down: 99.96% watched must not be reported as 100%.
    pct = math.floor(1000 * live_n / len(active)) / 10 if active else None
    return ss.MonitorSummary(
        active_sites=len(active),
        live_feeds=live_n,
        live_share_pct=pct,
        sites_without_feed=sorted(ref for ref, live in active if not live),
    )


def org_names(s: Session, codes: Iterable[str | None]) -> dict[str, RoadOrg]:
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    return {o.code: o for o in s.scalars(select(RoadOrg).where(RoadOrg.code.in_(wanted)))}


def site_features(s: Session, day: date, nxt: date, now: datetime) -> list[dict[str, Any]]:
    """GeoJSON features of the works on the road on `day` or `nxt` (and applications for
    `nxt`), with each site's feed, photos per stage and whether it overruns."""
    rows = s.scalars(
        select(Permit)
        .where(
            Permit.status.in_((PermitStatus.APPLIED, PermitStatus.GRANTED, *STARTED)),
            Permit.start_date <= nxt,
            or_(Permit.status.in_(STARTED), Permit.end_date >= day),
        )
        .order_by(Permit.start_date, Permit.id)
        .limit(MAX_SITES)
    ).all()
    shown = [(p, w) for p in rows if (w := _when(p, day, nxt)) is not None]
    ids = [p.id for p, _w in shown]
    cams = {
        c.permit_id: c for c in s.scalars(select(SiteCamera).where(SiteCamera.permit_id.in_(ids)))
    }
    counts = _photo_counts(s, ids)
    orgs = org_names(s, [c for p, _w in shown for c in (p.applicant_code, p.contractor_code)])
    features: list[dict[str, Any]] = []
    for p, when in shown:
        cam = cams.get(p.id)
        last = cam.last_frame_at if cam else None
        props = {
            **works_properties(p, orgs),
            "when": when,
            "camera_url": cam.url if cam else None,
            "last_frame_at": last.isoformat() if last else None,
            "live": is_live(last, now),
            "photos": {st: counts.get(p.id, {}).get(st, 0) for st in ss.STAGES},
            "overrun": p.status in OCCUPYING and p.end_date < day,
        }
        features.append({"type": "Feature", "geometry": p.geometry, "properties": props})
    return features


def _photo_counts(s: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    """Photos per permit and stage."""
    counts: dict[int, dict[str, int]] = {}
    for pid, stage, n in s.execute(
        select(SitePhoto.permit_id, SitePhoto.stage, func.count())
        .where(SitePhoto.permit_id.in_(ids))
        .group_by(SitePhoto.permit_id, SitePhoto.stage)
    ):
        counts.setdefault(int(pid), {})[str(stage)] = int(n)
    return counts


def _when(p: Permit, day: date, nxt: date) -> str | None:
    if on_road(p.status, p.start_date, p.end_date, day):
        return "today"
    if on_road(p.status, p.start_date, p.end_date, nxt):
        return "tomorrow"
    if p.status == PermitStatus.APPLIED and p.start_date <= nxt <= p.end_date:
        return "tomorrow"
    return None


RECORD_NOTES = ("note", "data")  # severities of what an import noted on a record


def record_notes(p: Permit) -> list[dict[str, Any]]:
    """What an import noted on a record (how it was read, what looks wrong in it): code,
    severity and reason per language; the rules' own findings are not among them."""
    return [
        {"code": f["code"], "severity": f["severity"], "reason": f["reason"]}
        for f in p.findings
        if f.get("severity") in RECORD_NOTES
    ]


def doubtful(p: Permit) -> bool:
    """Whether a record holds data that looks wrong (an end decades out, a point outside the
    city): kept on the books, not shown to the public as if true."""
    return any(f.get("severity") == "data" for f in p.findings)


def works_properties(p: Permit, orgs: dict[str, RoadOrg]) -> dict[str, Any]:
    """What a works is, who digs it, until when and why: the properties the public and RPIC
    maps share. No fees, no camera, no logins."""

    def name(code: str | None, lang: str) -> str | None:
        if code is None:
            return None
        org = orgs.get(code)
        return (org.name_zh if lang == "zh" else org.name_en) if org else code

    return {
        "ref": p.ref,
        "purpose": p.purpose,
        "status": p.status,
        "emergency": p.emergency,
        "description": p.description,
        "road": p.road,
        "district": p.district,
        "applicant": p.applicant_code,
        "applicant_zh": name(p.applicant_code, "zh"),
        "applicant_en": name(p.applicant_code, "en"),
        "contractor": p.contractor_code,
        "contractor_zh": name(p.contractor_code, "zh"),
        "contractor_en": name(p.contractor_code, "en"),
        "start_date": p.start_date.isoformat(),
        "end_date": p.end_date.isoformat(),
        "night": p.night,
        "hours": p.hours,
        "notes": record_notes(p),
    }
