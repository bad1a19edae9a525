"""Road works' cards on the city overview (core.overview): works on the road today (with the
public works map as their layer), the share of dug sites watched by a live camera, and, for
RPIC's staff, the applications awaiting a decision. Small reads over the permit tables and the
public works service; nothing here writes. The public cards carry only what the public works
map shows anyway: no fee, camera address or login."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select

from onecity.core.auth.permissions import Perm, Principal
from onecity.core.db import utcnow
from onecity.core.overview import Card, CardData, Chart, Column, Figure, History, Series, Viewer
from onecity.core.platform import Platform
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.rules.permit import PURPOSES
from onecity.roadworks.rules.status import STARTED, PermitStatus
from onecity.roadworks.services import RoadworksServices
from onecity.roadworks.sites.models import SiteCamera
from onecity.roadworks.sites.monitoring import MAX_SITES, is_live, on_road

HISTORY_DAYS = 14
# Waiting for a decision, in days since filing: the chart's buckets (the last is open-ended).
WAIT_BUCKETS = ((0, 1), (2, 4), (5, 9), (10, None))


def _services(p: Platform) -> RoadworksServices:
    return p.services(RoadworksServices)


# --- works on the road today -----------------------------------------------------------------
def works_geojson(p: Platform, who: Viewer) -> dict[str, Any]:
    """Today's works, as the public works map serves them."""
    svc = _services(p)
    return svc.public.works(svc.permits.today(), None)


def read_active(p: Platform, who: Viewer) -> CardData:
    doc = works_geojson(p, who)
    props = [f["properties"] for f in doc["features"]]
    by_purpose = Counter(str(x["purpose"]) for x in props)
    return CardData(
        figures=[
            Figure("active", "overview.roadworks.active.count", len(props)),
            Figure(
                "emergency",
                "overview.roadworks.active.emergency",
                sum(1 for x in props if x["emergency"]),
            ),
            Figure("night", "overview.roadworks.active.night", sum(1 for x in props if x["night"])),
        ],
        as_of=utcnow(),
        chart=Chart(
            "bar",
            "key",
            "count",
            [
                Series(
                    "active",
                    "overview.roadworks.active.count",
                    [(f"roadworks.map.purpose.{k}", by_purpose.get(k, 0)) for k in PURPOSES],
                )
            ],
        ),
    )


def active_history(p: Platform, who: Viewer) -> History:
    """Works on the road on each of the last days (as the permits stand now)."""
    svc = _services(p)
    today = svc.permits.today()
    first = today - timedelta(days=HISTORY_DAYS - 1)
    with p.db.read() as s:
        rows = list(
            s.execute(
                select(Permit.status, Permit.start_date, Permit.end_date)
                .where(
                    Permit.status.in_((PermitStatus.GRANTED, *STARTED)),
                    Permit.start_date <= today,
                    or_(Permit.status.in_(STARTED), Permit.end_date >= first),
                )
                .limit(MAX_SITES * 4)
            ).tuples()
        )
    days = [first + timedelta(days=i) for i in range(HISTORY_DAYS)]
    return History(
        columns=[
            Column("day", "overview.col.day", "day"),
            Column("active", "overview.roadworks.active.count", "count"),
        ],
        rows=[[d.isoformat(), sum(1 for st, a, b in rows if on_road(st, a, b, d))] for d in days],
    )


# --- live camera feeds -----------------------------------------------------------------------
def read_cameras(p: Platform, who: Viewer) -> CardData:
    """The share of works in progress whose site camera sent a frame in the last 5 minutes."""
    now = utcnow()
    with p.db.read() as s:
        rows = list(
            s.execute(
                select(Permit.id, SiteCamera.last_frame_at)
                .outerjoin(SiteCamera, SiteCamera.permit_id == Permit.id)
                .where(Permit.status == PermitStatus.IN_PROGRESS)
                .limit(MAX_SITES)
            ).tuples()
        )
    live = sum(1 for _, last in rows if is_live(last, now))
    with_camera = sum(1 for _, last in rows if last is not None)
    # Rounded down, as RPIC reports it: 99.96 % watched is not 100 %.
    share = math.floor(1000 * live / len(rows)) / 1000 if rows else None
    return CardData(
        figures=[
            Figure("live_share", "overview.roadworks.cameras.share", share, "percent"),
            Figure("live", "overview.roadworks.cameras.live", live),
            Figure("sites", "overview.roadworks.cameras.sites", len(rows)),
            Figure("silent", "overview.roadworks.cameras.silent", with_camera - live),
        ],
        as_of=now,
    )


# --- applications awaiting a decision (RPIC's staff) -----------------------------------------
def read_pending(p: Platform, who: Viewer) -> CardData:
    svc = _services(p)
    today = svc.permits.today()
    with p.db.read() as s:
        rows = list(
            s.execute(
                select(Permit.filed_at, Permit.decide_by).where(
                    Permit.status == PermitStatus.APPLIED
                )
            ).tuples()
        )
    waits = [(today - filed.astimezone(svc.permits.tz).date()).days for filed, _ in rows]
    overdue = sum(1 for _, by in rows if by < today)
    due_today = sum(1 for _, by in rows if by == today)
    return CardData(
        figures=[
            Figure("pending", "overview.roadworks.pending.count", len(rows)),
            Figure("due_today", "overview.roadworks.pending.due_today", due_today),
            Figure("overdue", "overview.roadworks.pending.overdue", overdue),
        ],
        as_of=utcnow(),
        chart=Chart(
            "bar",
            "key",
            "count",
            [
                Series(
                    "pending",
                    "overview.roadworks.pending.count",
                    [(_bucket_key(lo, hi), _in(waits, lo, hi)) for lo, hi in WAIT_BUCKETS],
                )
            ],
        ),
    )


def _bucket_key(lo: int, hi: int | None) -> str:
    return f"overview.roadworks.pending.wait_{lo}" + (f"_{hi}" if hi is not None else "_more")


def _in(waits: list[int], lo: int, hi: int | None) -> int:
    return sum(1 for w in waits if w >= lo and (hi is None or w <= hi))


def sees_permits(who: Principal, p: Platform) -> bool:
    """The applications are the records of the department that runs the permits."""
    return who.sees_department(_services(p).permits.config.department)


PERMIT_EVENTS = ("roadworks.permit",)
CARDS = (
    Card(
        id="roadworks.active",
        system="roadworks",
        title="overview.roadworks.active.title",
        read=read_active,
        source="overview.roadworks.source.permits",
        link="/roadworks/map",
        live="overview.live.records",
        public=True,
        events=PERMIT_EVENTS,
        history=active_history,
        geometry=works_geojson,
    ),
    Card(
        id="roadworks.cameras",
        system="roadworks",
        title="overview.roadworks.cameras.title",
        read=read_cameras,
        source="overview.roadworks.source.cameras",
        link="/roadworks/map",
        live="overview.live.cameras",
        public=True,
        events=("roadworks.site", *PERMIT_EVENTS),
    ),
    Card(
        id="roadworks.pending",
        system="roadworks",
        title="overview.roadworks.pending.title",
        read=read_pending,
        source="overview.roadworks.source.register",
        link="/roadworks/permits",
        live="overview.live.records",
        permission=Perm.ROADWORKS_READ.value,
        check=sees_permits,
        events=PERMIT_EVENTS,
    ),
)
