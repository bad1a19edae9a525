"""A read-only NGSI-LD subset so FIWARE tools can read OneCity devices.

Supported: GET /ngsi-ld/v1/entities with type, id, q-less geo-query `georel=near;maxDistance==M`
with `geometry=Point&coordinates=[lon,lat]`, limit/offset, and `options=keyValues`;
GET /ngsi-ld/v1/entities/{id}. Devices follow the Smart Data Models `Device` shape."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.errors import AppError, NotFound
from onecity.core.geo import bbox_around, haversine_m
from onecity.core.http import platform, principal
from onecity.core.models import Device
from onecity.core.platform import Platform

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"])

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
URN = "urn:ngsi-ld:Device:"
_NEAR = re.compile(r"^near;maxDistance==(\d+(\.\d+)?)$")


class BadRequestData(AppError):
    """NGSI-LD's own name for a malformed query, which the specification answers with 400."""

    status = 400
    code = "BadRequestData"


def entity(d: Device, key_values: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "name": d.name,
        "deviceCategory": [d.type],
        "owner": [d.department_code],
        "deviceState": d.connectivity,
        "status": d.status,
        "dateLastValueReported": d.last_seen_at.isoformat() if d.last_seen_at else None,
    }
    if d.district:
        attrs["address"] = {"addressLocality": d.district}
    out: dict[str, Any] = {"id": URN + d.id, "type": "Device"}
    if d.lon is not None and d.lat is not None:
        loc = {"type": "Point", "coordinates": [d.lon, d.lat]}
        out["location"] = loc if key_values else {"type": "GeoProperty", "value": loc}
    for k, v in attrs.items():
        if v is None:
            continue
        out[k] = v if key_values else {"type": "Property", "value": v}
    return out


def _ld(body: Any) -> JSONResponse:
    return JSONResponse(
        body,
        headers={
            "Link": f'<{CORE_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; '
            'type="application/ld+json"'
        },
    )


@router.get("/entities")
def query_entities(
    who: Principal = Depends(principal),
    p: Platform = Depends(platform),
    type: Annotated[str | None, Query(max_length=200)] = None,  # NGSI-LD's parameter names
    id: Annotated[str | None, Query(max_length=2000)] = None,
    georel: Annotated[str | None, Query(max_length=100)] = None,
    geometry: Annotated[str | None, Query(max_length=20)] = None,
    coordinates: Annotated[str | None, Query(max_length=200)] = None,
    options: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    require(who, Perm.DEVICES_READ)
    if not type and not id and not georel:
        raise BadRequestData(
            "give at least one of type, id or a geo-query (NGSI-LD §6.4.3.2)", field="type"
        )
    kv = "keyValues" in (options or "").split(",")
    q = select(Device)
    if not who.city_wide:
        q = q.where(Device.department_code == who.department)
    if type:
        types = {t.strip() for t in type.split(",")}
        if "Device" not in types:
            return _ld([])
    if id:
        # An id that is not a Device URN matches nothing, but does not hide the others.
        ids = [i.strip()[len(URN) :] for i in id.split(",") if i.strip().startswith(URN)]
        if not ids:
            return _ld([])
        q = q.where(Device.id.in_(ids))
    near: tuple[float, float, float] | None = None
    if georel:
        m = _NEAR.match(georel)
        if not m or geometry != "Point" or not coordinates:
            raise BadRequestData(
                "only georel=near;maxDistance==M with geometry=Point and "
                "coordinates=[lon,lat] is supported",
                field="georel",
            )
        try:
            point = json.loads(coordinates)
        except (ValueError, RecursionError):
            point = None
        if not (
            isinstance(point, list)
            and len(point) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
        ):
            raise BadRequestData("coordinates must be [lon,lat] numbers", field="coordinates")
        lon, lat = float(point[0]), float(point[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise BadRequestData("coordinates out of range", field="coordinates")
        near = (lon, lat, float(m.group(1)))
        w, s_, e, n = bbox_around(lon, lat, near[2])
        q = q.where(Device.lon.between(w, e), Device.lat.between(s_, n))
    with p.db.read() as s:
        if near is None:
            rows = list(s.execute(q.order_by(Device.id).offset(offset).limit(limit)).scalars())
        else:
            cands = list(s.execute(q).scalars())
            lon, lat, r = near
            dist = [(haversine_m(lon, lat, d.lon or 0, d.lat or 0), d) for d in cands]
            rows = [d for dd, d in sorted(dist, key=lambda t: t[0]) if dd <= r]
            rows = rows[offset : offset + limit]
    return _ld([entity(d, kv) for d in rows])


@router.get("/entities/{entity_id}")
def get_entity(
    entity_id: str,
    who: Principal = Depends(principal),
    p: Platform = Depends(platform),
    options: Annotated[str | None, Query(max_length=100)] = None,
) -> JSONResponse:
    require(who, Perm.DEVICES_READ)
    if not entity_id.startswith(URN):
        raise NotFound(f"no entity '{entity_id}'", code="ResourceNotFound")
    with p.db.read() as s:
        d = s.get(Device, entity_id[len(URN) :])
        if d is None or not who.sees_department(d.department_code):
            raise NotFound(f"no entity '{entity_id}'", code="ResourceNotFound")
        return _ld(entity(d, "keyValues" in (options or "").split(",")))
