"""Device registry, device keys, telemetry ingest over HTTP, and telemetry queries."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, StringConstraints

from onecity.core import clock
from onecity.core.auth.permissions import Perm, require
from onecity.core.deps import ClientSource, CurrentDevice, CurrentUser, PlatformDep
from onecity.core.devices import schemas as sc
from onecity.core.devices.ingest import Refused, to_msgs
from onecity.core.errors import AppError, Invalid
from onecity.core.geo import parse_bbox
from onecity.core.platform import Platform

router = APIRouter(prefix="/api/v1", tags=["devices"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Annotated[str, StringConstraints(max_length=100)] = ""


@router.get("/devices", response_model=sc.DevicePage)
def list_devices(
    who: CurrentUser,
    p: PlatformDep,
    bbox: str | None = Query(None, description="west,south,east,north (WGS84)"),
    type: Annotated[str | None, Query(max_length=64)] = None,  # the API's parameter name
    connectivity: Literal["online", "offline", "unknown"] | None = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    page = p.devices.list_page(
        who,
        bbox=parse_bbox(bbox) if bbox else None,
        type_=type,
        connectivity=connectivity,
        department=department,
        cursor=cursor,
        limit=limit,
    )
    return _json(page)


def _json(model: BaseModel) -> Response:
    """The service already built a validated model; serialise it once instead of letting
    the framework validate it a second time (a 1,000-device page is the map's hot path)."""
    return Response(model.model_dump_json(), media_type="application/json")


@router.post("/devices", response_model=sc.DeviceOut, status_code=201)
def register_device(
    body: sc.DeviceIn, who: CurrentUser, p: PlatformDep, src: ClientSource
) -> sc.DeviceOut:
    return p.devices.register(who, body, src)


@router.get("/devices/{device_id}", response_model=sc.DeviceDetail)
def get_device(device_id: str, who: CurrentUser, p: PlatformDep) -> Response:
    return _json(p.devices.get(who, device_id))


@router.patch("/devices/{device_id}", response_model=sc.DeviceOut)
def update_device(
    device_id: str,
    body: sc.DevicePatch,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
) -> sc.DeviceOut:
    return p.devices.update(who, device_id, body, src)


@router.get("/devices/{device_id}/keys", response_model=list[sc.KeyInfo])
def list_keys(device_id: str, who: CurrentUser, p: PlatformDep) -> list[sc.KeyInfo]:
    return p.devices.list_keys(who, device_id)


@router.post("/devices/{device_id}/keys", response_model=sc.KeyOut, status_code=201)
def issue_key(
    device_id: str,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
    body: KeyIn | None = None,
) -> sc.KeyOut:
    return p.devices.issue_key(who, device_id, body.label if body else "", src)


@router.delete("/devices/{device_id}/keys/{key_id}", status_code=204)
def revoke_key(
    device_id: str,
    key_id: str,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
) -> None:
    p.devices.revoke_key(who, device_id, key_id, src)


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The query window: naive times are UTC, and 'from' defaults to a day before 'to'."""
    end = end or clock.now()
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    if start is None:
        try:
            start = end - timedelta(hours=24)
        except OverflowError:
            raise Invalid(
                "'to' is too early for the default one-day window; give 'from'", field="to"
            ) from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return start, end


@router.get("/devices/{device_id}/telemetry", response_model=sc.Series)
def series(
    device_id: str,
    key: Annotated[str, Query(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")],
    who: CurrentUser,
    p: PlatformDep,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    bucket: Annotated[int | None, Query(ge=1, le=366 * 86400)] = None,
) -> sc.Series:
    a, b = _range(start, end)
    return p.telemetry.series(who, device_id, key, a, b, bucket)


@router.get(
    "/devices/{device_id}/telemetry.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(
    device_id: str,
    key: Annotated[str, Query(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")],
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    bucket: Annotated[int | None, Query(ge=1, le=366 * 86400)] = None,
) -> Response:
    require(who, Perm.TELEMETRY_EXPORT)  # before the window is checked, as always
    a, b = _range(start, end)
    data = p.telemetry.export(who, device_id, key, a, b, bucket, src)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["ts", "value", "min", "max", "count"])
    for pt in data.points:
        w.writerow([pt.ts.isoformat(), pt.value, pt.min, pt.max, pt.count])
    return Response(
        buf.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{device_id}-{key}.csv"'},
    )


class _CountRefusedRoute(APIRoute):
    """A telemetry batch that fails schema validation (NaN, a seq that is no number) is
    still counted on the sending device's account, once the device is known by its key."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def counted(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as e:
                await run_in_threadpool(_count_refused, request, e.errors())
                raise

        return counted


def _count_refused(request: Request, errors: Sequence[Any]) -> None:
    p: Platform = request.app.state.platform
    key = request.headers.get("x-device-key") or ""
    auth = request.headers.get("authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    try:
        device_id = p.devices.authenticate_key(key)
    except AppError:
        return  # nobody to count it on
    bad = {
        loc[2]
        for err in errors
        if len(loc := tuple(err.get("loc", ()))) > 2 and loc[:2] == ("body", "messages")
    }
    p.ingester.count_rejected(device_id, len(bad) or 1)


ingest_router = APIRouter(route_class=_CountRefusedRoute)  # mounted on router below


@ingest_router.post("/telemetry", response_model=sc.IngestResult, tags=["telemetry"])
def ingest(body: sc.TelemetryBatch, device_id: CurrentDevice, p: PlatformDep) -> sc.IngestResult:
    """Batched readings from one device, authenticated by its key (X-Device-Key).

    Retrying a batch is safe: messages already stored are counted as duplicates, not stored
    again. A device that restarts and counts from 1 again may say so with `boot` (its boot
    number); without it, a reused sequence number with another time or other values is taken
    as a restart. A batch with any invalid message is refused whole, with the message named
    (including values outside the device type's ranges, such as a fill level above 1), and
    the invalid messages are counted as rejected on the device's delivery account."""
    try:
        msgs = to_msgs(device_id, body.messages, p.settings, body.boot)
        out = p.ingester.write(msgs, strict=True)
    except Invalid as e:
        p.ingester.count_rejected(device_id, e.count if isinstance(e, Refused) else 1)
        raise
    return sc.IngestResult(
        accepted=out.accepted,
        duplicates=out.duplicates,
        readings=out.readings,
        restarts=out.restarts,
        conflicts=out.conflicts,
    )


router.include_router(ingest_router)
