"""Live works sites: each site's camera and when it last sent a frame, photo check-ins at each
stage of the works (taken on the spot, checked against the permit's footprint), and RPIC's
monitoring map with the share of dug sites watched live, the figure RPIC reports.

Who may do what is the permit service's rule (the applicant's or contractor's staff report a
site, RPIC reads everything), so the same sentence answers a refusal on every call."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from shapely.geometry import Point
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from onecity.core import audit, events, media
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import utcnow
from onecity.core.errors import Conflict, Forbidden, Invalid
from onecity.core.geo import CityProfile
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.registry.models import RoadOrg
from onecity.roadworks.rules import footprint
from onecity.roadworks.rules.status import FINISHED, OCCUPYING, STARTED, PermitStatus
from onecity.roadworks.sites import schemas as ss
from onecity.roadworks.sites.models import SiteCamera, SitePhoto

LIVE_WINDOW = timedelta(minutes=5)
# Clocks on site gateways and phones drift; more than this ahead is a wrong clock, not drift.
CLOCK_SLACK = timedelta(minutes=5)
PHOTO_RADIUS_M = 200.0
URL_SCHEMES = ("http", "https", "rtsp")
# A "before" photo is taken once the permit is granted, ahead of the first cut.
PHOTO_STATUSES = {stage: STARTED for stage in ss.STAGES} | {
    "before": (PermitStatus.GRANTED, *STARTED)
}
MAX_SITES = 5000


# --- the rules (pure) ------------------------------------------------------------------------
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


def camera_url(raw: str) -> str:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in URL_SCHEMES or not parts.hostname:
        raise Invalid(
            "the camera URL must be an http://, https:// or rtsp:// address with a host",
            field="url",
        )
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise Invalid("the camera URL must not contain spaces or control characters", field="url")
    return url


def distance_m(city: CityProfile, geometry: dict[str, Any], lon: float, lat: float) -> float:
    """Metres from a point (WGS84) to a stored footprint; 0 inside it."""
    x, y = city.to_projected(lon, lat)
    return float(footprint.to_metres(city, geometry).distance(Point(x, y)))


def as_utc(at: datetime, tz: ZoneInfo, field: str) -> datetime:
    """A client's time; one without an offset is the city's local time."""
    try:
        return (at.replace(tzinfo=tz) if at.tzinfo is None else at).astimezone(ZoneInfo("UTC"))
    except OverflowError:
        raise Invalid(f"{field} is not a time the works could have", field=field) from None


def org_names(s: Session, codes: Iterable[str | None]) -> dict[str, RoadOrg]:
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    return {o.code: o for o in s.scalars(select(RoadOrg).where(RoadOrg.code.in_(wanted)))}


# --- the use cases ---------------------------------------------------------------------------
class SiteService:
    def __init__(self, permits: PermitService) -> None:
        self.permits = permits
        self.city = permits.city
        self.db = permits.db
        self.tz = permits.tz
        self.department = permits.config.department

    def _permit(self, s: Session, ref: str, *, lock: bool = False) -> Permit:
        return self.permits.find(s, ref, lock=lock)

    def _camera_out(self, p: Permit, cam: SiteCamera) -> ss.CameraOut:
        return ss.CameraOut(
            permit_ref=p.ref,
            url=cam.url,
            registered_at=cam.registered_at,
            registered_by=cam.registered_by,
            last_frame_at=cam.last_frame_at,
            live=is_live(cam.last_frame_at, utcnow()),
        )

    def camera(self, who: Principal, ref: str) -> ss.CameraOut | None:
        """The site's camera and whether it is live, for whoever may read the permit; None
        when no camera is registered."""
        with self.db.read() as s:
            p = self._permit(s, ref)
            self.permits.may_read(s, who, p)
            cam = s.get(SiteCamera, p.id)
            return None if cam is None else self._camera_out(p, cam)

    def set_camera(self, who: Principal, ref: str, url: str, source: str) -> ss.CameraOut:
        """Register the site's camera, or move it to a new URL (the old one stays in the
        audit). A new URL is a new feed: it is not live until it sends a frame."""
        url = camera_url(url)
        with self.db.session() as s:
            p = self._permit(s, ref, lock=True)
            self.permits.may_act_for(s, who, p)
            if p.status in FINISHED:
                raise Conflict(f"{p.ref} is {p.status}: there is no site to watch")
            cam = s.get(SiteCamera, p.id)
            if cam is not None and cam.url == url:
                return self._camera_out(p, cam)
            previous = cam.url if cam is not None else None
            now = utcnow()
            if cam is None:
                cam = SiteCamera(permit_id=p.id, url=url, registered_at=now)
                s.add(cam)
            cam.url, cam.registered_at, cam.registered_by = url, now, who.username
            cam.last_frame_at = None
            audit.append(
                s,
                actor=who.username,
                action="roadworks.camera",
                target=f"permit/{p.ref}",
                source=source,
                detail={"url": url, "previous": previous},
            )
            events.emit(s, "roadworks.site", {"permit": p.ref, "kind": "camera"}, self.department)
            s.flush()
            return self._camera_out(p, cam)

    def frame(self, who: Principal, ref: str, at: datetime | None) -> ss.CameraOut:
        """Note a frame from the site's camera. An older time than the one kept is a retry or
        a late delivery and changes nothing; a time well ahead of now is a wrong clock."""
        now = utcnow()
        when = now if at is None else as_utc(at, self.tz, "at")
        if when > now + CLOCK_SLACK:
            raise Invalid(
                f"the frame's time is {int((when - now).total_seconds() // 60)} minutes in the "
                "future; check the camera gateway's clock",
                field="at",
            )
        with self.db.session() as s:
            p = self._permit(s, ref)
            self.permits.may_act_for(s, who, p)
            if s.get(SiteCamera, p.id) is None:
                raise Conflict(
                    f"{p.ref} has no camera: register it first (PUT …/camera)", code="no_camera"
                )
            # One conditional UPDATE, so two gateways racing cannot move the time backwards.
            s.execute(
                update(SiteCamera)
                .where(
                    SiteCamera.permit_id == p.id,
                    or_(SiteCamera.last_frame_at.is_(None), SiteCamera.last_frame_at < when),
                )
                .values(last_frame_at=when)
            )
            s.expire_all()
            cam = s.get(SiteCamera, p.id)
            assert cam is not None
            return self._camera_out(p, cam)

    # --- photo check-ins -------------------------------------------------------------------

    def _photo_out(self, p: Permit, row: SitePhoto) -> ss.PhotoOut:
        return ss.PhotoOut(
            id=row.id,
            permit_ref=p.ref,
            stage=row.stage,
            media_id=row.media_id,
            url=f"/media/{row.media_id}",
            lon=row.lon,
            lat=row.lat,
            distance_m=row.distance_m,
            taken_at=row.taken_at,
            uploaded_at=row.uploaded_at,
            uploaded_by=row.uploaded_by,
        )

    def check_in(
        self,
        who: Principal,
        ref: str,
        *,
        stage: str,
        lon: float,
        lat: float,
        taken_at: datetime,
        data: bytes,
        source: str,
    ) -> tuple[ss.PhotoOut, bool]:
        """Record a stage photo taken at the site; (the record, whether it is new). The same
        photo sent again for the same stage returns the record already kept."""
        if stage not in PHOTO_STATUSES:
            raise Invalid(f"stage must be one of {', '.join(ss.STAGES)}", field="stage")
        if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
            raise Invalid("lon and lat must be WGS84 degrees", field="lon")
        media.check(data, "file")
        digest = hashlib.sha256(data).hexdigest()
        taken = as_utc(taken_at, self.tz, "taken_at")
        with self.db.session() as s:
            p = self._permit(s, ref, lock=True)
            self.permits.may_act_for(s, who, p)
            kept = s.scalars(
                select(SitePhoto).where(
                    SitePhoto.permit_id == p.id,
                    SitePhoto.stage == stage,
                    SitePhoto.media_id == digest,
                )
            ).first()
            if kept is not None:
                return self._photo_out(p, kept), False
            self._may_check_in(p, stage, taken)
            dist = distance_m(self.city, p.geometry, lon, lat)
            if dist > PHOTO_RADIUS_M:
                raise Invalid(
                    f"the photo was taken {dist:,.0f} m from the works of {p.ref}; a check-in "
                    f"must be within {PHOTO_RADIUS_M:.0f} m of the permitted footprint",
                    field="lon",
                    code="too_far",
                )
            row = SitePhoto(
                permit_id=p.id,
                stage=stage,
                media_id=media.store(s, data, "file"),
                lon=lon,
                lat=lat,
                distance_m=round(dist, 1),
                taken_at=taken,
                uploaded_at=utcnow(),
                uploaded_by=who.username,
            )
            s.add(row)
            s.flush()
            detail = {"stage": stage, "media": digest, "distance_m": row.distance_m}
            audit.append(
                s,
                actor=who.username,
                action="roadworks.photo",
                target=f"permit/{p.ref}",
                source=source,
                detail={**detail, "taken_at": taken.isoformat()},
            )
            events.emit(
                s,
                "roadworks.site",
                {"permit": p.ref, "kind": "photo", **detail},
                self.department,
            )
            return self._photo_out(p, row), True

    def _may_check_in(self, p: Permit, stage: str, taken: datetime) -> None:
        allowed = PHOTO_STATUSES[stage]
        if p.status not in allowed:
            raise Conflict(
                f"{p.ref} is {p.status}; a '{stage}' photo is taken while it is "
                f"{' or '.join(allowed)}",
                code="wrong_status",
            )
        now = utcnow()
        if taken > now + CLOCK_SLACK:
            raise Invalid("taken_at is in the future; check the phone's clock", field="taken_at")
        # The same slack as for the future: a phone a minute behind the server is not lying.
        if taken < p.filed_at - CLOCK_SLACK:
            raise Invalid(
                f"the photo was taken before {p.ref} was filed; take one at the site now",
                field="taken_at",
            )

    def photos(self, who: Principal, ref: str) -> list[ss.PhotoOut]:
        with self.db.read() as s:
            p = self._permit(s, ref)
            self.permits.may_read(s, who, p)
            rows = s.scalars(
                select(SitePhoto)
                .where(SitePhoto.permit_id == p.id)
                .order_by(SitePhoto.taken_at, SitePhoto.id)
            ).all()
            return [self._photo_out(p, r) for r in rows]

    # --- RPIC's monitoring map -------------------------------------------------------------

    def monitor(self, who: Principal, day: date | None) -> ss.MonitorOut:
        """Works on the road on `day` or the next (and applications for the next day), with
        each site's feed and photos, and the share of dug sites watched live."""
        require(who, Perm.ROADWORKS_READ)
        if not who.sees_department(self.department):
            raise Forbidden(f"site monitoring belongs to department '{self.department}'")
        day = day or self.permits.today()
        nxt = day + timedelta(days=1)
        now = utcnow()
        with self.db.read() as s:
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
                c.permit_id: c
                for c in s.scalars(select(SiteCamera).where(SiteCamera.permit_id.in_(ids)))
            }
            counts = _photo_counts(s, ids)
            orgs = org_names(
                s, [c for p, _w in shown for c in (p.applicant_code, p.contractor_code)]
            )
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
        summary = live_share(
            (f["properties"]["ref"], f["properties"]["status"], f["properties"]["live"])
            for f in features
        )
        summary.overrunning = [
            f["properties"]["ref"] for f in features if f["properties"]["overrun"]
        ]
        return ss.MonitorOut(day=day, next_day=nxt, as_of=now, summary=summary, features=features)


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
    }
