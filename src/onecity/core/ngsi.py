"""A read-only NGSI-LD subset so FIWARE tools can read OneCity devices.

Supported: GET /ngsi-ld/v1/entities with type, id, q-less geo-query `georel=near;maxDistance==M`
with `geometry=Point&coordinates=[lon,lat]`, limit/offset, and `options=keyValues`;
GET /ngsi-ld/v1/entities/{id}. Devices follow the Smart Data Models `Device` shape."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

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


@dataclass(frozen=True)
class EntityType:
    """An NGSI-LD entity type a domain module serves through this API, made from the state of
    devices of one type (the waste module's `WasteContainer`s from its stations)."""

    type: str
    device_type: str
    # The entities, in normalized NGSI-LD form, of these devices (any number per device).
    entities: Callable[[Session, Sequence[Device]], list[dict[str, Any]]]
    # The id of the device an entity id belongs to; None when the id is not of this type.
    device_of: Callable[[str], str | None]


def key_values(e: dict[str, Any]) -> dict[str, Any]:
    """The keyValues form of a normalized entity: each attribute's bare value."""
    out: dict[str, Any] = {}
    for k, v in e.items():
        if isinstance(v, dict) and v.get("type") in ("Property", "GeoProperty"):
            value = v.get("value")
            if isinstance(value, dict) and value.get("@type") == "DateTime":
                value = value.get("@value")
            out[k] = value
        else:
            out[k] = v
    return out


def _near(
    georel: str | None, geometry: str | None, coordinates: str | None
) -> tuple[float, float, float] | None:
    if not georel:
        return None
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
    return lon, lat, float(m.group(1))


def _devices_query(
    who: Principal, device_ids: list[str] | None, near: tuple[float, float, float] | None
) -> Any:
    q = select(Device)
    if not who.city_wide:
        q = q.where(Device.department_code == who.department)
    if device_ids is not None:
        q = q.where(Device.id.in_(device_ids))
    if near is not None:
        w, s_, e, n = bbox_around(*near)
        q = q.where(Device.lon.between(w, e), Device.lat.between(s_, n))
    return q


def _distance(e: dict[str, Any], lon: float, lat: float) -> float:
    loc = e.get("location")
    point = loc.get("value") if isinstance(loc, dict) and loc.get("type") == "GeoProperty" else loc
    if not isinstance(point, dict):
        return float("inf")
    x, y = point["coordinates"]
    return haversine_m(lon, lat, x, y)


@router.get("/entities")
def query_entities(
    request: Request,
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
    types = {t.strip() for t in type.split(",")} if type else None
    ids = [i.strip() for i in id.split(",") if i.strip()] if id else None
    near = _near(georel, geometry, coordinates)
    extra: dict[str, EntityType] = getattr(request.app.state, "ngsi_types", {})
    found: list[dict[str, Any]] = []
    with p.db.read() as s:
        if types is None or "Device" in types:
            # An id that is not a Device URN matches nothing, but does not hide the others.
            dev_ids = None if ids is None else [i[len(URN) :] for i in ids if i.startswith(URN)]
            if dev_ids != []:
                q = _devices_query(who, dev_ids, near).order_by(Device.id)
                if near is None:  # in id order: the first offset + limit are all we can need
                    q = q.limit(offset + limit)
                found += [entity(d, False) for d in s.execute(q).scalars()]
        for name, et in sorted(extra.items()):
            if types is not None and name not in types:
                continue
            wanted = None if ids is None else [i for i in ids if et.device_of(i) is not None]
            if wanted == []:
                continue
            dev_ids = None if wanted is None else sorted({str(et.device_of(i)) for i in wanted})
            q = _devices_query(who, dev_ids, near).where(Device.type == et.device_type)
            made = et.entities(s, list(s.execute(q.order_by(Device.id)).scalars()))
            found += [e for e in made if wanted is None or e["id"] in wanted]
    if near is None:
        found.sort(key=lambda e: str(e["id"]))
    else:
        lon, lat, r = near
        ranked = sorted(((_distance(e, lon, lat), e) for e in found), key=lambda t: t[0])
        found = [e for dd, e in ranked if dd <= r]
    page = found[offset : offset + limit]
    return _ld([key_values(e) if kv else e for e in page])


@router.get("/entities/{entity_id}")
def get_entity(
    entity_id: str,
    request: Request,
    who: Principal = Depends(principal),
    p: Platform = Depends(platform),
    options: Annotated[str | None, Query(max_length=100)] = None,
) -> JSONResponse:
    require(who, Perm.DEVICES_READ)
    kv = "keyValues" in (options or "").split(",")
    extra: dict[str, EntityType] = getattr(request.app.state, "ngsi_types", {})
    for et in extra.values():
        dev_id = et.device_of(entity_id)
        if dev_id is None:
            continue
        with p.db.read() as s:
            d = s.get(Device, dev_id)
            if (
                d is not None
                and d.type == et.device_type
                and who.sees_department(d.department_code)
            ):
                for e in et.entities(s, [d]):
                    if e["id"] == entity_id:
                        return _ld(key_values(e) if kv else e)
        raise NotFound(f"no entity '{entity_id}'", code="ResourceNotFound")
    if not entity_id.startswith(URN):
        raise NotFound(f"no entity '{entity_id}'", code="ResourceNotFound")
    with p.db.read() as s:
        d = s.get(Device, entity_id[len(URN) :])
        if d is None or not who.sees_department(d.department_code):
            raise NotFound(f"no entity '{entity_id}'", code="ResourceNotFound")
        return _ld(entity(d, kv))
