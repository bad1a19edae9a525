"""Citizens' reports about the roads, through the city's one Open311 endpoint, into the public
works department's queue: a pothole, a badly restored trench, works outside the permitted
hours. For the last two the report names the permit whose works are within 30 m (attribute
`permit_ref`, and a line in the description), so RPIC sees at once which works it is about:
works being dug for out-of-hours work, works dug and restored (within the restoration's
warranty, closed ones too) for a bad restoration."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from shapely.geometry import Point, shape
from shapely.ops import transform
from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import clock
from onecity.core.models import Open311Request
from onecity.core.open311 import MAX_DESCRIPTION, Open311Service
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.rules.status import OCCUPYING, PermitStatus

POTHOLE = "roadworks.pothole"
BAD_RESTORATION = "roadworks.bad_restoration"
OUTSIDE_HOURS = "roadworks.outside_hours"
# RPIC sits in the public works department in the bundled city profiles (docs/roadworks.md).
DEPARTMENT = "pwd"
NEAR_M = 30.0
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_320.0


def _local_metres(lon0: float, lat0: float) -> Any:
    """Degrees to metres on a plane touching the earth at (lon0, lat0): within tens of metres
    it is off by far less than a GPS fix, and it needs no city projection."""
    kx = _M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))

    def f(x: Any, y: Any, z: Any = None) -> tuple[Any, Any]:
        return (x - lon0) * kx, (y - lat0) * _M_PER_DEG_LAT

    return f


# Which works a report can be about: noise and digging out of hours come from works going on;
# a badly restored trench from works dug and restored, within the restoration's warranty.
DIGGING = OCCUPYING
RESTORED_WORKS = (PermitStatus.WORKS_DONE, PermitStatus.RESTORED, PermitStatus.CLOSED)
WARRANTY_DAYS = 730


def nearest_permit(
    s: Session,
    lon: float,
    lat: float,
    statuses: tuple[str, ...],
    ended_after: date | None = None,
    within_m: float = NEAR_M,
) -> tuple[str, float] | None:
    """The permit in one of `statuses` whose works come closest to the point, if within
    `within_m` metres (and, with `ended_after`, whose works ended after that day)."""
    q = select(Permit.ref, Permit.geometry).where(Permit.status.in_(statuses))
    if ended_after is not None:
        q = q.where(Permit.end_date >= ended_after)
    to_m = _local_metres(lon, lat)
    here = Point(0.0, 0.0)
    best: tuple[str, float] | None = None
    for ref, geometry in s.execute(q).all():
        d = float(transform(to_m, shape(geometry)).distance(here))
        if d <= within_m and (best is None or d < best[1]):
            best = (ref, d)
    return best


def _attach(s: Session, row: Open311Request, found: tuple[str, float] | None) -> None:
    if found is None:
        return
    ref, dist = found
    row.attributes = {**row.attributes, "permit_ref": ref, "permit_distance_m": round(dist, 1)}
    line = f"[RPIC] 附近施工 Nearby works: {ref} ({dist:.0f} m)"
    text = f"{row.description}\n{line}" if row.description else line
    row.description = text[:MAX_DESCRIPTION]


def _works_going_on(s: Session, row: Open311Request) -> None:
    if row.lat is not None and row.lon is not None:  # an address only: RPIC places it by hand
        _attach(s, row, nearest_permit(s, row.lon, row.lat, DIGGING))


def _works_restored(s: Session, row: Open311Request) -> None:
    if row.lat is not None and row.lon is not None:
        since = clock.now().date() - timedelta(days=WARRANTY_DAYS)
        _attach(s, row, nearest_permit(s, row.lon, row.lat, RESTORED_WORKS, since))


_GROUP = {"zh-TW": "道路", "en": "Roads"}

SERVICES = (
    Open311Service(
        service_code=POTHOLE,
        service_name={"zh-TW": "坑洞", "en": "Pothole"},
        department_code=DEPARTMENT,
        description={
            "zh-TW": "路面坑洞或破損。",
            "en": "A hole or a break in the road surface.",
        },
        group=_GROUP,
        keywords=("pothole", "road", "坑洞", "路面"),
        service_notice={
            "zh-TW": "坑洞通常於 3 個工作天內修補。",
            "en": "Potholes are usually patched within 3 working days.",
        },
    ),
    Open311Service(
        service_code=BAD_RESTORATION,
        service_name={"zh-TW": "路面修復不良", "en": "Badly restored road works"},
        department_code=DEPARTMENT,
        description={
            "zh-TW": "挖掘後的路面修復不平、下陷或破損。會自動對應附近的施工許可。",
            "en": "A trench restored unevenly, sinking or breaking up. The nearby works "
            "permit is found from the location.",
        },
        group=_GROUP,
        keywords=("restoration", "trench", "road works", "修復", "管線"),
        service_notice={
            "zh-TW": "道路挖掘管理中心會通知施工單位改善。",
            "en": "RPIC tells the works' owner to put it right.",
        },
        on_request=_works_restored,
    ),
    Open311Service(
        service_code=OUTSIDE_HOURS,
        service_name={"zh-TW": "非核准時段施工", "en": "Road works outside permitted hours"},
        department_code=DEPARTMENT,
        description={
            "zh-TW": "道路施工在許可時段以外進行（例如深夜）。會自動對應附近的施工許可。",
            "en": "Road works going on outside their permitted hours (e.g. late at night). "
            "The nearby works permit is found from the location.",
        },
        group=_GROUP,
        keywords=("noise", "night", "road works", "噪音", "夜間施工"),
        service_notice={
            "zh-TW": "道路挖掘管理中心會查核施工許可的時段。",
            "en": "RPIC checks the permit's hours.",
        },
        on_request=_works_going_on,
    ),
)
