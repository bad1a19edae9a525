"""The citizens' station finder route (no login): parse -> finder.PublicStations -> schema."""

from __future__ import annotations

from fastapi import APIRouter

from onecity.core.deps import PlatformDep
from onecity.waste.monitoring.finder import PublicStationPage
from onecity.waste.services import WasteServices

router = APIRouter(prefix="/api/v1/waste/public", tags=["waste public"])


@router.get("/stations", response_model=PublicStationPage)
def stations(p: PlatformDep) -> PublicStationPage:
    """Every iTrash station, each compartment open, full (with when it is expected back) or
    out of order. No login; no personal data."""
    return p.services(WasteServices).finder.stations()
