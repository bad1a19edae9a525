"""The city overview's routes: the cards a caller may see with their data, each card's
history (JSON and CSV) and map layer (GeoJSON), and the same for the public without a login,
with a live stream that only says which public card changed (no data, so nothing to leak).

The cards come from the enabled modules (core.overview.Overview on app.state.overview)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from onecity.core import events
from onecity.core.db import utcnow
from onecity.core.deps import CurrentUser
from onecity.core.errors import Unavailable
from onecity.core.models import Event
from onecity.core.overview import (
    Card,
    Overview,
    Viewer,
    history_csv,
    history_out,
)

router = APIRouter(prefix="/api/v1/overview", tags=["overview"])

GEOJSON = "application/geo+json"
CardId = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9_.]+$")]
# The public stream asks the outbox less often than the staff one: a citizen's card may lag a
# second, and each open stream costs one query per poll.
PUBLIC_POLL_S = 1.0
PUBLIC_KEEPALIVE_TICKS = 15
# Open public streams per process; beyond it a 503 (the page falls back to its timer).
MAX_PUBLIC_STREAMS = 200
_open_streams = 0


# --- schemas (the OpenAPI document's shapes; the service builds plain dicts) -------------------
class OverviewFigureOut(BaseModel):
    key: str
    label: str = Field(description="i18n key")
    value: float | int | None
    unit: str = Field(description="count, percent (a share 0..1), kg, money or days")


class OverviewSeriesOut(BaseModel):
    key: str
    label: str
    points: list[tuple[str, float | int | None]]


class OverviewChartOut(BaseModel):
    kind: str = Field(description="line or bar")
    x: str = Field(description="day, time, name (a proper name) or key (an i18n key)")
    unit: str
    series: list[OverviewSeriesOut]


class OverviewMapOut(BaseModel):
    url: str = Field(description="the card's layer, a GeoJSON FeatureCollection")


class OverviewFreshnessOut(BaseModel):
    as_of: datetime | None = Field(description="when the data was true; null: never heard")
    max_age_s: int | None = Field(description="older than this is stale; null: as of the read")
    live: str = Field(description="i18n key: what live means for this card")
    stale: bool


class OverviewSourceOut(BaseModel):
    text: str = Field(description="i18n key")
    link: str


class OverviewLinksOut(BaseModel):
    self: str
    history: str
    csv: str
    geojson: str | None


class OverviewCardOut(BaseModel):
    id: str
    system: str
    title: str = Field(description="i18n key")
    public: bool
    available: bool = Field(description="false: the system could not be read just now")
    figures: list[OverviewFigureOut]
    chart: OverviewChartOut | None
    map: OverviewMapOut | None
    freshness: OverviewFreshnessOut
    source: OverviewSourceOut
    events: list[str] = Field(description="outbox event types after which it may change")
    links: OverviewLinksOut


class OverviewOut(BaseModel):
    as_of: datetime
    cards: list[OverviewCardOut]


class OverviewColumnOut(BaseModel):
    key: str
    label: str
    unit: str


class OverviewHistoryOut(BaseModel):
    card: str
    columns: list[OverviewColumnOut]
    rows: list[list[str | float | int | None]]


def overview(request: Request) -> Overview:
    got: Overview = request.app.state.overview
    return got


# --- staff -----------------------------------------------------------------------------------
@router.get("", response_model=OverviewOut)
def cards(request: Request, who: CurrentUser) -> dict[str, Any]:
    """Every card the caller's role and department may see, each with its data."""
    ov = overview(request)
    return {"as_of": utcnow(), "cards": [ov.read(c, who) for c in ov.visible(who)]}


@router.get("/cards/{card_id}", response_model=OverviewCardOut)
def card(request: Request, card_id: CardId, who: CurrentUser) -> dict[str, Any]:
    ov = overview(request)
    return ov.read(ov.card(card_id, who), who)


@router.get("/cards/{card_id}/history", response_model=OverviewHistoryOut)
def history(request: Request, card_id: CardId, who: CurrentUser) -> dict[str, Any]:
    ov = overview(request)
    return _history(ov, ov.card(card_id, who), who)


@router.get(
    "/cards/{card_id}/history.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def history_download(request: Request, card_id: CardId, who: CurrentUser) -> Response:
    ov = overview(request)
    return _csv(ov, ov.card(card_id, who), who)


@router.get(
    "/cards/{card_id}/map.geojson",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {"schema": {"type": "object"}}}}},
)
def geometry(
    request: Request, card_id: CardId, who: CurrentUser, download: bool = False
) -> Response:
    ov = overview(request)
    return _geojson(ov, ov.card(card_id, who), who, download)


# --- the public: no login, public cards only -------------------------------------------------
@router.get("/public", response_model=OverviewOut)
def public_cards(request: Request) -> dict[str, Any]:
    """The public cards (no login, no personal data), each with its data."""
    ov = overview(request)
    return {"as_of": utcnow(), "cards": [ov.read(c, None) for c in ov.visible(None)]}


@router.get("/public/cards/{card_id}", response_model=OverviewCardOut)
def public_card(request: Request, card_id: CardId) -> dict[str, Any]:
    ov = overview(request)
    return ov.read(ov.public_card(card_id), None)


@router.get("/public/cards/{card_id}/history", response_model=OverviewHistoryOut)
def public_history(request: Request, card_id: CardId) -> dict[str, Any]:
    ov = overview(request)
    return _history(ov, ov.public_card(card_id), None)


@router.get(
    "/public/cards/{card_id}/history.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def public_history_download(request: Request, card_id: CardId) -> Response:
    ov = overview(request)
    return _csv(ov, ov.public_card(card_id), None)


@router.get(
    "/public/cards/{card_id}/map.geojson",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {"schema": {"type": "object"}}}}},
)
def public_geometry(request: Request, card_id: CardId, download: bool = False) -> Response:
    ov = overview(request)
    return _geojson(ov, ov.public_card(card_id), None, download)


@router.get(
    "/public/stream",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def public_stream(request: Request) -> StreamingResponse:
    """Server-sent `card` events, `{"card": id}`, when a public card may have changed: the
    page fetches that card again. No event data is passed on."""
    global _open_streams
    if _open_streams >= MAX_PUBLIC_STREAMS:
        raise Unavailable("too many live overview streams; the page refreshes on its own")
    ov = overview(request)
    db = ov.platform.db
    types = sorted(ov.public_events)
    start = await asyncio.to_thread(events.last_id, db)

    async def gen() -> AsyncIterator[str]:
        global _open_streams
        _open_streams += 1
        try:
            cursor = start
            yield f"retry: 3000\nevent: hello\ndata: {json.dumps({'cards': len(types)})}\n\n"
            ticks = 0
            while not await request.is_disconnected():
                ticks += 1
                got, cursor = await asyncio.to_thread(
                    events.read_settled, db, cursor, 500, [Event.type.in_(types)]
                )
                changed = sorted({cid for ev in got for cid in ov.cards_for_event(ev.type)})
                for cid in changed:
                    yield f"event: card\ndata: {json.dumps({'card': cid})}\n\n"
                if not got:
                    if ticks % PUBLIC_KEEPALIVE_TICKS == 0:
                        yield ": keep-alive\n\n"
                    await asyncio.sleep(PUBLIC_POLL_S)
        finally:
            _open_streams -= 1

    return StreamingResponse(
        gen(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- shared ----------------------------------------------------------------------------------
def _history(ov: Overview, card: Card, who: Viewer) -> dict[str, Any]:
    return {"card": card.id, **history_out(ov.history(card, who))}


def _csv(ov: Overview, card: Card, who: Viewer) -> Response:
    day = utcnow().date().isoformat()
    return Response(
        # A byte-order mark so that spreadsheet programs read the Chinese names as UTF-8.
        "\ufeff" + history_csv(ov.history(card, who)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{card.id}-{day}.csv"'},
    )


def _geojson(ov: Overview, card: Card, who: Viewer, download: bool) -> Response:
    headers = {"Cache-Control": "no-store"}
    if download:
        day = utcnow().date().isoformat()
        headers["Content-Disposition"] = f'attachment; filename="{card.id}-{day}.geojson"'
    doc = ov.geometry(card, who)
    return Response(json.dumps(doc, ensure_ascii=False), media_type=GEOJSON, headers=headers)
