"""Operations and reference endpoints: health, metrics, city profile, geo, audit, live events."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from onecity.core import audit, audit_anchor, events
from onecity.core.auth.permissions import Perm, require
from onecity.core.deps import CurrentUser, PlatformDep
from onecity.core.errors import AppError, Invalid
from onecity.core.http import MAX_INT64, principal, session_token
from onecity.core.models import Event

router = APIRouter(tags=["operations"])

# How often an idle stream asks the outbox for new events. A crew's job must be on its phone
# within a second of the station's message (benchmarks/station_alerts.py): a 1 s poll alone
# used most of that. Each open stream costs one indexed query per poll.
POLL_S = 0.25
# The stream re-checks its session about every 30 s, and says it is alive about every 15 s.
REAUTH_TICKS = int(30 / POLL_S)
KEEPALIVE_TICKS = int(15 / POLL_S)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


_READY = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "database": {"type": "string"}},
    "required": ["status", "database"],
}


@router.get(
    "/readyz",
    responses={
        200: {"content": {"application/json": {"schema": _READY}}},
        503: {
            "description": "The database cannot be reached: not ready for traffic.",
            "content": {"application/json": {"schema": _READY}},
        },
    },
)
def readyz(p: PlatformDep) -> JSONResponse:
    try:
        p.db.ping()
    except Exception as exc:  # readiness reports, never raises
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, 503)
    return JSONResponse({"status": "ready", "database": p.db.dialect})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format.", "content": {"text/plain": {}}}},
)
def metrics(request: Request, p: PlatformDep) -> Response:
    """Prometheus text. A scraper sends `Authorization: Bearer <ONECITY_METRICS_TOKEN>`;
    staff who may read the audit trail may look too (401/403 for anyone else)."""
    expected = p.settings.metrics_token
    sent = session_token(request) or ""
    if not (expected and hmac.compare_digest(sent.encode(), expected.encode())):
        require(principal(request, p), Perm.AUDIT_READ)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/city", tags=["geo"])
def city(p: PlatformDep) -> dict[str, Any]:
    return p.city.public()


@router.get(
    "/api/v1/geo/districts",
    tags=["geo"],
    response_class=Response,
    responses={
        200: {
            "description": "The city's districts, a GeoJSON FeatureCollection (RFC 7946); "
            "each feature's properties carry its `code` and its `names` per language.",
            "content": {"application/geo+json": {"schema": {"type": "object"}}},
        }
    },
)
def districts(p: PlatformDep) -> Response:
    return Response(
        json.dumps(p.city.districts_geojson, ensure_ascii=False),
        media_type="application/geo+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


class PlaceOut(BaseModel):
    lon: float
    lat: float
    twd97_x: float
    twd97_y: float
    district: str | None
    district_code: str | None
    district_names: dict[str, str] | None = Field(
        default=None, description="the district's name per language"
    )
    village: str | None
    village_code: str | None


Lon = Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False)]


@router.get("/api/v1/geo/place", response_model=PlaceOut, tags=["geo"])
def place(
    p: PlatformDep,
    lon: Lon | None = None,
    lat: Lat | None = None,
    x: Annotated[float | None, Query(allow_inf_nan=False, ge=-1e7, le=1e7)] = None,
    y: Annotated[float | None, Query(allow_inf_nan=False, ge=-1e7, le=1e8)] = None,
) -> PlaceOut:
    """District and village of a point given in WGS84 (lon, lat) or TWD97 TM2 (x, y)."""
    if lon is not None and lat is not None:
        px, py = p.city.to_projected(lon, lat)
    elif x is not None and y is not None:
        px, py = x, y
        lon, lat = p.city.from_projected(x, y)
    else:
        raise Invalid("give lon and lat (WGS84) or x and y (TWD97 TM2)", field="lon")
    pl = p.city.place(lon, lat)
    return PlaceOut(
        lon=lon,
        lat=lat,
        twd97_x=px,
        twd97_y=py,
        district=pl.district,
        district_code=pl.district_code,
        district_names=p.city.district_names_of(pl.district_code),
        village=pl.village,
        village_code=pl.village_code,
    )


class AuditOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    source: str
    outcome: str
    detail: dict[str, Any]


class VerifyOut(BaseModel):
    records: int
    intact: bool
    findings: list[dict[str, Any]]


@router.get("/api/v1/audit", response_model=list[AuditOut], tags=["audit"])
def audit_list(
    who: CurrentUser,
    p: PlatformDep,
    before: Annotated[int | None, Query(ge=1, le=MAX_INT64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditOut]:
    require(who, Perm.AUDIT_READ)
    return [
        AuditOut.model_validate(r, from_attributes=True) for r in audit.recent(p.db, before, limit)
    ]


@router.get("/api/v1/audit/verify", response_model=VerifyOut, tags=["audit"])
def audit_verify(who: CurrentUser, p: PlatformDep) -> VerifyOut:
    require(who, Perm.AUDIT_READ)
    n, _, findings = audit_anchor.verify(p.db, p.settings)
    return VerifyOut(
        records=n,
        intact=not findings,
        findings=[{"seq": f.seq, "problem": f.problem} for f in findings],
    )


@router.get(
    "/api/v1/events/stream",
    tags=["events"],
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def event_stream(
    request: Request,
    who: CurrentUser,
    p: PlatformDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_INT64)] = None,
) -> StreamingResponse:
    """Server-sent events from the outbox, filtered to what the caller may see. Resumable
    with the standard Last-Event-ID header. Any logged-in user may listen, so every page can
    go live; the events themselves still go only to staff who may read alerts, of departments
    they see (a contractor's or citizen's stream carries the connection and keep-alives)."""
    header = request.headers.get("last-event-id", "")
    resume = int(header) if header.isascii() and header.isdigit() and len(header) < 19 else None
    start = after if after is not None else resume
    if start is None:
        start = await asyncio.to_thread(events.last_id, p.db)

    token = session_token(request) or ""

    def frame(ev: Event) -> str:
        body = json.dumps(
            {"id": ev.id, "type": ev.type, "payload": ev.payload, "at": ev.created_at.isoformat()},
            ensure_ascii=False,
        )
        # Events come in id order with no id skipped that may still appear (events.Tail), so
        # the browser's Last-Event-ID is a safe place to resume from.
        return f"id: {ev.id}\nevent: {ev.type}\ndata: {body}\n\n"

    async def gen() -> AsyncIterator[str]:
        viewer = who
        tail = events.Tail(p.db, start)
        yield f"retry: 2000\nevent: hello\ndata: {json.dumps({'after': start})}\n\n"
        ticks = 0
        while not await request.is_disconnected():
            ticks += 1
            if ticks % REAUTH_TICKS == 0:
                # A stream outlives its request: logout, the idle limit, a disabled account
                # or a new department must reach it too. Checking does not count as activity.
                try:
                    viewer = await asyncio.to_thread(p.auth.authenticate, token, False)
                except AppError as exc:
                    yield f"event: session_ended\ndata: {json.dumps({'error': exc.code})}\n\n"
                    return
            fresh = await asyncio.to_thread(tail.poll)
            for ev in fresh:
                if viewer.can(Perm.ALERTS_READ) and (
                    ev.department_code is None or viewer.sees_department(ev.department_code)
                ):
                    yield frame(ev)
            if not fresh:
                if ticks % KEEPALIVE_TICKS == 0:
                    yield ": keep-alive\n\n"
                await asyncio.sleep(POLL_S)

    return StreamingResponse(
        gen(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
