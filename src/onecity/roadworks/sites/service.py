"""Live works sites: each site's camera and when it last sent a frame, photo check-ins at each
stage of the works (taken on the spot, checked against the permit's footprint), and RPIC's
monitoring map with the share of dug sites watched live, the figure RPIC reports (the map's
query and figures are sites/monitoring.py).

Who may do what is the permit service's rule (the applicant's or contractor's staff report a
site, RPIC reads everything), so the same sentence answers a refusal on every call."""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from shapely.geometry import Point
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from onecity.core import audit, events, media
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import utcnow
from onecity.core.errors import Conflict, Forbidden, Invalid
from onecity.core.geo import CityProfile
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.rules import footprint
from onecity.roadworks.rules.status import FINISHED, STARTED, PermitStatus
from onecity.roadworks.sites import monitoring
from onecity.roadworks.sites import schemas as ss
from onecity.roadworks.sites.models import SiteCamera, SitePhoto

# Clocks on site gateways and phones drift; more than this ahead is a wrong clock, not drift.
CLOCK_SLACK = timedelta(minutes=5)
PHOTO_RADIUS_M = 200.0
URL_SCHEMES = ("http", "https", "rtsp")
# A "before" photo is taken once the permit is granted, ahead of the first cut.
PHOTO_STATUSES = {stage: STARTED for stage in ss.STAGES} | {
    "before": (PermitStatus.GRANTED, *STARTED)
}


# --- the checks of a site's input ------------------------------------------------------------
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


def photo_input(stage: str, lon: float, lat: float, data: bytes) -> None:
    """What a check-in must say before it is looked at: a known stage, a place, a photo."""
    if stage not in PHOTO_STATUSES:
        raise Invalid(f"stage must be one of {', '.join(ss.STAGES)}", field="stage")
    if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
        raise Invalid("lon and lat must be WGS84 degrees", field="lon")
    media.check(data, "file")


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
            live=monitoring.is_live(cam.last_frame_at, utcnow()),
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
        photo_input(stage, lon, lat, data)
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
            self._announce_photo(s, who, p, row, digest, source)
            return self._photo_out(p, row), True

    def _announce_photo(
        self, s: Session, who: Principal, p: Permit, row: SitePhoto, digest: str, source: str
    ) -> None:
        """The check-in's audit record and its `roadworks.site` event."""
        detail = {"stage": row.stage, "media": digest, "distance_m": row.distance_m}
        audit.append(
            s,
            actor=who.username,
            action="roadworks.photo",
            target=f"permit/{p.ref}",
            source=source,
            detail={**detail, "taken_at": row.taken_at.isoformat()},
        )
        events.emit(
            s, "roadworks.site", {"permit": p.ref, "kind": "photo", **detail}, self.department
        )

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
            features = monitoring.site_features(s, day, nxt, now)
        summary = monitoring.live_share(
            (f["properties"]["ref"], f["properties"]["status"], f["properties"]["live"])
            for f in features
        )
        summary.overrunning = [
            f["properties"]["ref"] for f in features if f["properties"]["overrun"]
        ]
        return ss.MonitorOut(day=day, next_day=nxt, as_of=now, summary=summary, features=features)
