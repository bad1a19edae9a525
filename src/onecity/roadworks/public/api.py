"""The public works map, without a login: what is dug where, by whom, until when and why.

Only works the city has allowed on the road go out (granted, started, done, restored, and
emergency works, which start at once); never an application, a refusal, a fee, a camera
address or who typed the permit in."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from onecity.core.dates import CityDate
from onecity.core.deps import PlatformDep
from onecity.core.errors import Invalid
from onecity.core.geo import parse_bbox
from onecity.roadworks.services import RoadworksServices

router = APIRouter(prefix="/api/v1/roadworks/public", tags=["road works public"])

GEOJSON = "application/geo+json"
# Today and tomorrow are what the map offers; a year either way still answers planners.
MAX_DAYS_AWAY = 366


Bbox = Annotated[str | None, Query(max_length=200, description="west,south,east,north (WGS84)")]


@router.get("/reference.geojson", response_class=Response)
def reference(p: PlatformDep, bbox: Annotated[str, Query(max_length=200)]) -> Response:
    """What to draw against without map tiles, in a street-level box (west,south,east,north,
    at most 0.06° a side): village boundary lines (they mostly run along streets) and named
    narrow alleys where the city has that list. Not a street map."""
    doc = p.services(RoadworksServices).reference.features(parse_bbox(bbox))
    return Response(
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
        media_type=GEOJSON,
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/works.geojson", response_class=Response)
def works(
    p: PlatformDep,
    bbox: Bbox = None,
    day: CityDate | None = None,
    download: bool = False,
) -> Response:
    """Works on the road on `day` (default today, city time) as GeoJSON, optionally within a
    box. `download=1` asks the browser to save it as a file."""
    svc = p.services(RoadworksServices).permits
    today = svc.today()
    when = day or today
    if abs((when - today).days) > MAX_DAYS_AWAY:
        raise Invalid(f"day must be within a year of today ({today.isoformat()})", field="day")
    area = parse_bbox(bbox) if bbox else None
    doc = p.services(RoadworksServices).public.works(when, area)
    headers = {"Cache-Control": "public, max-age=60"}
    if download:
        headers["Content-Disposition"] = (
            f'attachment; filename="roadworks-{when.isoformat()}.geojson"'
        )
    return Response(json.dumps(doc, ensure_ascii=False), media_type=GEOJSON, headers=headers)
