"""Live-site routes for works staff and RPIC: a site's camera and its frames, stage photos,
and the monitoring map. Parse → service (sites.py) → schema."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from onecity.core import media
from onecity.core.dates import CityDate
from onecity.core.deps import CurrentUser, PlatformDep
from onecity.core.http import source
from onecity.roadworks.permits.api import Ref
from onecity.roadworks.services import RoadworksServices
from onecity.roadworks.sites import schemas as ss
from onecity.roadworks.sites.service import SiteService

router = APIRouter(prefix="/api/v1/roadworks", tags=["road works sites"])


async def sites(p: PlatformDep) -> SiteService:
    return p.services(RoadworksServices).sites


Sites = Annotated[SiteService, Depends(sites)]


@router.get("/permits/{ref}/camera", response_model=ss.CameraOut | None)
def get_camera(ref: Ref, who: CurrentUser, svc: Sites) -> ss.CameraOut | None:
    """The site's camera and whether its feed is live; null when none is registered."""
    return svc.camera(who, ref)


@router.put("/permits/{ref}/camera", response_model=ss.CameraOut)
def set_camera(
    ref: Ref,
    body: ss.CameraIn,
    request: Request,
    who: CurrentUser,
    svc: Sites,
) -> ss.CameraOut:
    """Register the site's live camera, or replace its URL (the old one stays in the audit)."""
    return svc.set_camera(who, ref, body.url, source(request))


@router.post("/permits/{ref}/camera/frame", response_model=ss.CameraOut)
def camera_frame(
    ref: Ref,
    body: ss.FrameIn,
    who: CurrentUser,
    svc: Sites,
) -> ss.CameraOut:
    """A frame arrived from the site's camera (the camera gateway calls this). An older time
    than the last one kept changes nothing; the feed is live while frames are < 5 min old."""
    return svc.frame(who, ref, body.at)


Lon = Annotated[float, Form(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Form(ge=-90, le=90, allow_inf_nan=False)]


@router.post("/permits/{ref}/photos", response_model=ss.PhotoOut, status_code=201)
def check_in(
    ref: Ref,
    request: Request,
    response: Response,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP, at most 3 MB")],
    stage: Annotated[ss.Stage, Form()],
    lon: Lon,
    lat: Lat,
    taken_at: Annotated[datetime, Form(description="ISO 8601; no offset: city time")],
    who: CurrentUser,
    svc: Sites,
) -> ss.PhotoOut:
    """A stage photo taken at the site, within 200 m of the works. Sending the same photo for
    the same stage again returns the record already kept (200 instead of 201)."""
    # One byte past the limit is enough for media.check to refuse an oversized photo. A plain
    # `def` route runs in a worker thread, so the spooled file is read directly.
    data = file.file.read(media.MAX_BYTES + 1)
    out, created = svc.check_in(
        who,
        ref,
        stage=stage,
        lon=lon,
        lat=lat,
        taken_at=taken_at,
        data=data,
        source=source(request),
    )
    if not created:
        response.status_code = 200
    return out


@router.get("/permits/{ref}/photos", response_model=list[ss.PhotoOut])
def list_photos(ref: Ref, who: CurrentUser, svc: Sites) -> list[ss.PhotoOut]:
    """A permit's photo check-ins, in the order they were taken."""
    return svc.photos(who, ref)


@router.get("/monitor", response_model=ss.MonitorOut)
def monitor(
    who: CurrentUser,
    svc: Sites,
    day: CityDate | None = None,
) -> ss.MonitorOut:
    """RPIC's monitoring map (GeoJSON): works on the road on `day` (default today) or the
    next day, each with its feed and photos, and the share of dug sites watched live."""
    return svc.monitor(who, day)
