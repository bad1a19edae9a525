"""The public works map, without a login: what is dug where, by whom, until when and why.

Only works the city has allowed on the road go out (granted, started, done, restored, and
emergency works, which start at once); never an application, a refusal, a fee, a camera
address or who typed the permit in."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from shapely.geometry import box, shape
from sqlalchemy import or_, select

from onecity.core.dates import CityDate
from onecity.core.db import utcnow
from onecity.core.errors import Invalid
from onecity.core.geo import parse_bbox
from onecity.core.http import platform
from onecity.core.platform import Platform
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.rules.status import STARTED, PermitStatus
from onecity.roadworks.services import RoadworksServices
from onecity.roadworks.sites.monitoring import MAX_SITES, on_road, org_names, works_properties

router = APIRouter(prefix="/api/v1/roadworks/public", tags=["road works public"])

GEOJSON = "application/geo+json"
# Today and tomorrow are what the map offers; a year either way still answers planners.
MAX_DAYS_AWAY = 366


class PublicWorks:
    """Read-only: one read transaction, nothing written."""

    def __init__(self, permits: PermitService) -> None:
        self.permits = permits

    def works(self, day: date, bbox: tuple[float, float, float, float] | None) -> dict[str, Any]:
        city = self.permits.city
        q = select(Permit).where(
            Permit.status.in_((PermitStatus.GRANTED, *STARTED)),
            Permit.start_date <= day,
            or_(Permit.status.in_(STARTED), Permit.end_date >= day),
        )
        area = None
        if bbox is not None:
            w, s_, e, n = bbox
            area = box(w, s_, e, n)
            # The box's corners in the city's metres; the exact test below is in degrees.
            corners = [city.to_projected(x, y) for x in (w, e) for y in (s_, n)]
            xs, ys = [c[0] for c in corners], [c[1] for c in corners]
            q = q.where(
                Permit.minx <= max(xs),
                Permit.maxx >= min(xs),
                Permit.miny <= max(ys),
                Permit.maxy >= min(ys),
            )
        with self.permits.db.read() as s:
            rows = [
                p
                for p in s.scalars(q.order_by(Permit.start_date, Permit.id).limit(MAX_SITES))
                if on_road(p.status, p.start_date, p.end_date, day)
                and (area is None or shape(p.geometry).intersects(area))
            ]
            orgs = org_names(s, [c for p in rows for c in (p.applicant_code, p.contractor_code)])
            features = [
                {"type": "Feature", "geometry": p.geometry, "properties": works_properties(p, orgs)}
                for p in rows
            ]
        return {
            "type": "FeatureCollection",
            "day": day.isoformat(),
            "generated_at": utcnow().isoformat(),
            "features": features,
        }


Bbox = Annotated[str | None, Query(max_length=200, description="west,south,east,north (WGS84)")]


@router.get("/works.geojson", response_class=Response)
def works(
    bbox: Bbox = None,
    day: CityDate | None = None,
    download: bool = False,
    p: Platform = Depends(platform),
) -> Response:
    """Works on the road on `day` (default today, city time) as GeoJSON, optionally within a
    box. `download=1` asks the browser to save it as a file."""
    svc = p.services(RoadworksServices).permits
    today = svc.today()
    when = day or today
    if abs((when - today).days) > MAX_DAYS_AWAY:
        raise Invalid(f"day must be within a year of today ({today.isoformat()})", field="day")
    area = parse_bbox(bbox) if bbox else None
    doc = PublicWorks(svc).works(when, area)
    headers = {"Cache-Control": "public, max-age=60"}
    if download:
        headers["Content-Disposition"] = (
            f'attachment; filename="roadworks-{when.isoformat()}.geojson"'
        )
    return Response(json.dumps(doc, ensure_ascii=False), media_type=GEOJSON, headers=headers)
