"""Request and response shapes of the live-site API: cameras, frames, photo check-ins and the
RPIC monitoring map."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Stage = Literal["before", "cutting", "digging", "backfill", "restoration"]
STAGES: tuple[str, ...] = ("before", "cutting", "digging", "backfill", "restoration")


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="where the site's live feed is: an http(s):// or rtsp:// address"
    )


class FrameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: datetime | None = Field(
        None, description="when the frame was taken; now if left out (no offset: city time)"
    )


class CameraOut(BaseModel):
    permit_ref: str
    url: str
    registered_at: datetime
    registered_by: str
    last_frame_at: datetime | None
    live: bool = Field(description="a frame arrived within the last 5 minutes")


class PhotoOut(BaseModel):
    id: int
    permit_ref: str
    stage: str
    media_id: str
    url: str = Field(description="/media/{id}")
    lon: float
    lat: float
    distance_m: float = Field(description="from the permitted footprint (0: inside it)")
    taken_at: datetime
    uploaded_at: datetime
    uploaded_by: str


class MonitorSummary(BaseModel):
    """RPIC's headline: of the sites being dug now, how many are watched live."""

    active_sites: int = Field(description="permits in progress")
    live_feeds: int = Field(description="active sites whose camera sent a frame in 5 minutes")
    live_share_pct: float | None = Field(description="null when nothing is being dug")
    sites_without_feed: list[str]
    overrunning: list[str] = Field(
        default_factory=list,
        description="works still occupying the road (in progress or not yet restored) after "
        "their permitted end: candidates for an overrun penalty",
    )


class MonitorOut(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    day: date
    next_day: date
    as_of: datetime
    summary: MonitorSummary
    features: list[dict[str, Any]]
