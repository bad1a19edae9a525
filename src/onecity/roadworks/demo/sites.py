"""The demo's live sites: a camera registered at nearly every site being dug (RPIC watches over
99 % of its sites) and a simulated camera gateway that reports their frames, so the monitoring
page shows a live share, and the one site without a camera, as a city would see them."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from onecity.core.auth.permissions import Principal, Role
from onecity.core.platform import Platform
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.rules.status import PermitStatus
from onecity.roadworks.services import RoadworksServices
from onecity.roadworks.sites.models import SiteCamera
from onecity.roadworks.sites.service import SiteService

log = logging.getLogger(__name__)

# The gateway acts for RPIC, which receives every site's frames.
GATEWAY = Principal(user_id=0, username="camera-gateway", role=Role.ADMIN, department="pwd")
FRAME_EVERY_S = 30.0
# Every this-many-th site being dug has no camera yet: what the monitor is there to catch.
WITHOUT_CAMERA_EVERY = 60


def register_cameras(p: Platform) -> int:
    """Give each site being dug (but every 60th) a camera, once; returns how many were added."""
    added = 0
    with p.db.session() as s:
        rows = s.scalars(
            select(Permit).where(Permit.status == PermitStatus.IN_PROGRESS).order_by(Permit.id)
        ).all()
        have = set(s.scalars(select(SiteCamera.permit_id)))
        for i, permit in enumerate(rows):
            if permit.id in have or i % WITHOUT_CAMERA_EVERY == WITHOUT_CAMERA_EVERY - 1:
                continue
            # .invalid: a name that can never resolve, so nothing ever tries to reach it.
            s.add(
                SiteCamera(
                    permit_id=permit.id,
                    url=f"rtsp://cams.demo.invalid/{permit.ref}",
                    registered_by="demo",
                )
            )
            added += 1
    return added


def send_frames(p: Platform) -> int:
    """One round of the gateway: a frame from every registered camera of a site being dug."""
    sites = SiteService(p.services(RoadworksServices).permits)
    with p.db.read() as s:
        refs = list(
            s.scalars(
                select(Permit.ref)
                .join(SiteCamera, SiteCamera.permit_id == Permit.id)
                .where(Permit.status == PermitStatus.IN_PROGRESS)
            )
        )
    for ref in refs:
        sites.frame(GATEWAY, ref, None)
    return len(refs)


def start_camera_gateway(p: Platform, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        while True:
            try:
                send_frames(p)
            except Exception:  # the demo keeps going; the next round tries again
                log.exception("demo camera gateway round failed")
            if stop.wait(FRAME_EVERY_S):
                return

    t = threading.Thread(target=run, name="demo-camera-gateway", daemon=True)
    t.start()
    return t
