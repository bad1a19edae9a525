"""Crew jobs from station alerts: the in-truck list, accept, close; a station's live status.
Parse → service → schema."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from onecity.core.deps import ClientSource, CurrentUser, PlatformDep
from onecity.core.http import MAX_INT64
from onecity.waste.jobs import schemas as sc
from onecity.waste.services import WasteServices

router = APIRouter(prefix="/api/v1/waste", tags=["waste jobs"])

JobId = Annotated[int, Path(ge=1, le=MAX_INT64)]


@router.get("/jobs", response_model=sc.JobPage)
def jobs(
    who: CurrentUser,
    p: PlatformDep,
    status: Literal["open", "accepted", "closed"] | None = Query(
        None, description="one status; by default every job not closed yet"
    ),
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> sc.JobPage:
    """By priority (1 first), then distance from (lat, lon) when given, then age."""
    svc = p.services(WasteServices).jobs
    return svc.jobs(who, status, lat, lon, limit)


@router.post("/jobs/{job_id}/accept", response_model=sc.JobOut)
def accept(
    src: ClientSource,
    who: CurrentUser,
    p: PlatformDep,
    job_id: JobId,
) -> sc.JobOut:
    svc = p.services(WasteServices).jobs
    return svc.accept(who, job_id, src)


@router.post("/jobs/{job_id}/close", response_model=sc.JobOut)
def close(
    src: ClientSource,
    who: CurrentUser,
    p: PlatformDep,
    job_id: JobId,
    body: sc.CloseIn,
) -> sc.JobOut:
    """Closing a closed job is 409 and changes nothing."""
    svc = p.services(WasteServices).jobs
    return svc.close(who, job_id, body, src)


@router.get("/stations/{station_id}/status", response_model=sc.StationStatusOut)
def station_status(
    who: CurrentUser,
    p: PlatformDep,
    station_id: Annotated[str, Path(max_length=64)],
) -> sc.StationStatusOut:
    svc = p.services(WasteServices).jobs
    return svc.station_status(who, station_id)
