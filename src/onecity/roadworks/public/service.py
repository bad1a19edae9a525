"""The public works map's read: works the city has allowed on the road on a day, as GeoJSON
features with what the public may see (sites.monitoring.works_properties)."""

from __future__ import annotations

from datetime import date
from typing import Any

from shapely.geometry import box, shape
from sqlalchemy import or_, select

from onecity.core.db import utcnow
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.rules.status import STARTED, PermitStatus
from onecity.roadworks.sites.monitoring import (
    MAX_SITES,
    doubtful,
    on_road,
    org_names,
    record_notes,
    works_properties,
)


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
            found = [
                p
                for p in s.scalars(q.order_by(Permit.start_date, Permit.id).limit(MAX_SITES))
                if on_road(p.status, p.start_date, p.end_date, day)
                and (area is None or shape(p.geometry).intersects(area))
            ]
            # Records whose data looks wrong are not drawn as if true; the map says how many
            # it left out and why.
            rows = [p for p in found if not doubtful(p)]
            withheld = [
                {"ref": p.ref, "notes": [n for n in record_notes(p) if n["severity"] == "data"]}
                for p in found
                if doubtful(p)
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
            "withheld": withheld,
        }
