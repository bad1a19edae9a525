"""Crew jobs from station alerts: the in-truck list, accept, close; a station's live status.
Parse → service → schema."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from onecity.core.auth.permissions import Principal
from onecity.core.http import MAX_INT64, platform, principal, source
from onecity.core.platform import Platform
from onecity.waste.jobs import schemas as sc
from onecity.waste.jobs.service import StationJobs
from onecity.waste.services import WasteServices

router = APIRouter(prefix="/api/v1/waste", tags=["waste jobs"])

JobId = Annotated[int, Path(ge=1, le=MAX_INT64)]


async def service(p: Platform = Depends(platform)) -> StationJobs:
    return p.services(WasteServices).jobs


@router.get("/jobs", response_model=sc.JobPage)
def jobs(
    who: Principal = Depends(principal),
    svc: StationJobs = Depends(service),
    status: Literal["open", "accepted", "closed"] | None = Query(
        None, description="one status; by default every job not closed yet"
    ),
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> sc.JobPage:
    """By priority (1 first), then distance from (lat, lon) when given, then age."""
    return svc.jobs(who, status, lat, lon, limit)


@router.post("/jobs/{job_id}/accept", response_model=sc.JobOut)
def accept(
    job_id: JobId,
    request: Request,
    who: Principal = Depends(principal),
    svc: StationJobs = Depends(service),
) -> sc.JobOut:
    return svc.accept(who, job_id, source(request))


@router.post("/jobs/{job_id}/close", response_model=sc.JobOut)
def close(
    job_id: JobId,
    body: sc.CloseIn,
    request: Request,
    who: Principal = Depends(principal),
    svc: StationJobs = Depends(service),
) -> sc.JobOut:
    """Closing a closed job is 409 and changes nothing."""
    return svc.close(who, job_id, body, source(request))


@router.get("/stations/{station_id}/status", response_model=sc.StationStatusOut)
def station_status(
    station_id: Annotated[str, Path(max_length=64)],
    who: Principal = Depends(principal),
    svc: StationJobs = Depends(service),
) -> sc.StationStatusOut:
    return svc.station_status(who, station_id)
