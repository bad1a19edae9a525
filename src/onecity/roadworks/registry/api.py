"""RPIC's registry routes: the pipeline map and as-built surveys, dig bans, embargoes, fee
tables and penalties. Parse → service → schema."""

from __future__ import annotations

import gzip
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from onecity.core.deps import CurrentUser, PlatformDep
from onecity.core.http import source
from onecity.roadworks.pipes.service import PipeService
from onecity.roadworks.registry import penalty_book
from onecity.roadworks.registry import schemas as rs
from onecity.roadworks.registry.service import RegistryService
from onecity.roadworks.rules import penalties
from onecity.roadworks.services import RoadworksServices

router = APIRouter(prefix="/api/v1/roadworks", tags=["road works registry"])

Ref = Annotated[str, Path(min_length=1, max_length=24, pattern=r"^RW-\d{4}-\d{6,}$")]


async def registry(p: PlatformDep) -> RegistryService:
    return p.services(RoadworksServices).registry


Registry = Annotated[RegistryService, Depends(registry)]


async def pipes(p: PlatformDep) -> PipeService:
    return p.services(RoadworksServices).pipes


Pipes = Annotated[PipeService, Depends(pipes)]

# --- the pipeline map ------------------------------------------------------------------------


@router.post("/pipes", response_model=rs.PipeOut, status_code=201)
def add_pipe(
    body: rs.PipeIn,
    request: Request,
    who: CurrentUser,
    svc: Pipes,
) -> rs.PipeOut:
    """Record a surveyed pipe segment (RPIC, or the owning utility's staff)."""
    return svc.add(who, body, source(request))


@router.get("/pipes", responses={200: {"content": {"application/geo+json": {}}}})
def list_pipes(
    request: Request,
    bbox: Annotated[str, Query(max_length=100, description="west,south,east,north (WGS84)")],
    who: CurrentUser,
    svc: Pipes,
    zoom: Annotated[
        int | None, Query(ge=0, le=24, description="the map's zoom: below 16, plan lines only")
    ] = None,
) -> Response:
    """Every pipe in service in a box: in full (GeoJSON with [lon, lat, -depth m] per vertex)
    near in, as plan lines (`detail: "overview"`) at a lower `zoom` or when many match."""
    out: dict[str, Any] = svc.in_box(who, bbox, zoom)
    body = json.dumps(out, separators=(",", ":")).encode()
    # A city-wide view is megabytes of coordinates that compress about fivefold.
    if len(body) > 4096 and "gzip" in request.headers.get("accept-encoding", ""):
        return Response(
            gzip.compress(body, compresslevel=5),
            media_type="application/geo+json",
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    return Response(body, media_type="application/geo+json", headers={"Vary": "Accept-Encoding"})


@router.get("/permits/{ref}/pipes", responses={200: {"content": {"application/geo+json": {}}}})
def permit_pipes(ref: Ref, who: CurrentUser, svc: Pipes) -> JSONResponse:
    """The pipes under a permit's dig that its locate requests named, as GeoJSON with
    [lon, lat, -depth m] per vertex; pipes replaced since are kept with `retired: true`."""
    return JSONResponse(svc.of_permit(who, ref), media_type="application/geo+json")


@router.post("/permits/{ref}/as-built", response_model=rs.AsBuiltOut, status_code=201)
def as_built(
    ref: Ref,
    body: rs.AsBuiltIn,
    request: Request,
    who: CurrentUser,
    svc: Pipes,
) -> rs.AsBuiltOut:
    """The as-built survey of restored works: replaced records retire, new ones are added."""
    return svc.as_built(who, ref, body, source(request))


# --- dig bans and embargoes ------------------------------------------------------------------


@router.post("/dig-bans", response_model=rs.DigBanOut, status_code=201)
def add_dig_ban(
    body: rs.DigBanIn,
    request: Request,
    who: CurrentUser,
    svc: Registry,
) -> rs.DigBanOut:
    """A resurfaced road that may not be dug for `years` (default 5)."""
    return svc.add_ban(who, body, source(request))


@router.get("/dig-bans", response_model=list[rs.DigBanOut])
def list_dig_bans(
    who: CurrentUser,
    svc: Registry,
    active: bool = False,
) -> list[rs.DigBanOut]:
    return svc.bans(who, active)


@router.post("/embargoes", response_model=rs.EmbargoOut, status_code=201)
def add_embargo(
    body: rs.EmbargoIn,
    request: Request,
    who: CurrentUser,
    svc: Registry,
) -> rs.EmbargoOut:
    """Days nobody digs: a holiday, an exam or an event, city-wide or in an area."""
    return svc.add_embargo(who, body, source(request))


@router.get("/embargoes", response_model=list[rs.EmbargoOut])
def list_embargoes(
    who: CurrentUser,
    svc: Registry,
    upcoming: bool = False,
) -> list[rs.EmbargoOut]:
    return svc.embargoes(who, upcoming)


# --- fee tables ------------------------------------------------------------------------------


@router.get("/fees", response_model=list[rs.FeeTableOut])
def list_fees(svc: Registry) -> list[rs.FeeTableOut]:
    """Every version of the fee table, oldest first. Public: what a permit costs is no secret."""
    return svc.fee_tables()


@router.post("/fees", response_model=rs.FeeTableOut, status_code=201)
def add_fees(
    body: rs.FeeTableIn,
    request: Request,
    who: CurrentUser,
    svc: Registry,
) -> rs.FeeTableOut:
    """A new fee version from `valid_from` (after every existing one); old ones never change."""
    return svc.add_fee_table(who, body, source(request))


# --- penalties -------------------------------------------------------------------------------


@router.get("/penalties/breaches")
def list_breaches() -> dict[str, Any]:
    """The kinds of breach with the points each earns, the fine's statutory range and the
    points that bar a contractor: what the penalty form offers. Public, like the fee table."""
    policy = penalty_book.POLICY
    return {
        "breaches": [
            {"code": code, "points": b.points, "name": dict(b.name)}
            for code, b in penalties.BREACHES.items()
        ],
        "fine_min": penalties.FINE_MIN,
        "fine_max": penalties.FINE_MAX,
        "bar": {
            "threshold": policy.threshold,
            "window_days": policy.window_days,
            "months": policy.bar_months,
        },
    }


@router.post("/penalties", response_model=rs.PenaltyRecorded, status_code=201)
def add_penalty(
    body: rs.PenaltyIn,
    request: Request,
    who: CurrentUser,
    svc: Registry,
) -> rs.PenaltyRecorded:
    """A contractor's breach with its fine (NT$30,000 to 150,000) and points, or, with `voids`,
    the correction that cancels an earlier row."""
    return svc.record_penalty(who, body, source(request))


@router.get("/penalties", response_model=list[rs.PenaltyOut])
def list_penalties(
    who: CurrentUser,
    svc: Registry,
    contractor: Annotated[
        str | None, Query(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    ] = None,
) -> list[rs.PenaltyOut]:
    return svc.penalties(who, contractor)
