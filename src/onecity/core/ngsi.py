"""A read-only NGSI-LD subset (ETSI GS CIM 009) so FIWARE tools can read OneCity devices and
the entity types modules add (`EntityType`).

GET /ngsi-ld/v1/entities: type (names or IRIs, `A,B` or `A|B`), id, idPattern, q (the query
language, core.ngsi_q), attrs (match and projection), geo-queries (core.ngsi_geo),
options=keyValues, limit/offset with Link rel="next"/"prev", count=true
(NGSILD-Results-Count; `limit=0&count=true` for the count alone). GET
/ngsi-ld/v1/entities/{id} with attrs and options. Content negotiation, contexts and
ProblemDetails errors: core.ngsi_ld. Devices follow the Smart Data Models `Device` shape."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import ngsi_geo, ngsi_q
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.deps import CurrentUser, PlatformDep
from onecity.core.errors import NotFound
from onecity.core.models import Device
from onecity.core.ngsi_geo import GeoQuery
from onecity.core.ngsi_ld import (
    CORE_CONTEXT,
    RESPONSES,
    BadRequestData,
    NgsiRoute,
    OperationNotSupported,
    TooComplexQuery,
    TooManyResults,
    key_values_asked,
    negotiate,
    page_links,
    render,
    request_context,
    term,
)
from onecity.core.platform import Platform

router = APIRouter(
    prefix="/ngsi-ld/v1", tags=["ngsi-ld"], route_class=NgsiRoute, responses=RESPONSES
)

__all__ = ["CORE_CONTEXT", "EntityType", "router"]
URN = "urn:ngsi-ld:Device:"
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


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


def _devices_query(who: Principal, device_ids: list[str] | None, geo: GeoQuery | None) -> Any:
    q = select(Device)
    if not who.city_wide:
        q = q.where(Device.department_code == who.department)
    if device_ids is not None:
        q = q.where(Device.id.in_(device_ids))
    box = geo.bbox() if geo is not None else None
    if box is not None:
        w, s_, e, n = box
        q = q.where(Device.lon.between(w, e), Device.lat.between(s_, n))
    return q


@dataclass(frozen=True)
class Filters:
    """What a query asks for beyond type and id, checked for validity before any read."""

    q: ngsi_q.Node | None
    id_pattern: re.Pattern[str] | None
    attrs: list[str] | None
    geo: GeoQuery | None

    def narrows(self) -> bool:
        return any(x is not None for x in (self.q, self.id_pattern, self.attrs, self.geo))

    def keep(self, e: dict[str, Any]) -> bool:
        if self.id_pattern is not None and not self.id_pattern.search(str(e["id"])):
            return False
        if self.attrs is not None and not any(a in e for a in self.attrs):
            return False
        if self.geo is not None and not ngsi_geo.matches(e, self.geo):
            return False
        return self.q is None or ngsi_q.matches(e, self.q)


def _filters(
    q: str | None,
    id_pattern: str | None,
    attrs: str | None,
    geo: tuple[str | None, str | None, str | None, str | None],
) -> Filters:
    try:
        node = ngsi_q.parse(q) if q is not None else None
    except ngsi_q.QueryError as e:
        raise BadRequestData(f"q: {e}", field="q") from None
    except ngsi_q.TooComplex as e:
        raise TooComplexQuery(f"q: {e}", field="q") from None
    try:
        pattern = ngsi_q.safe_pattern(id_pattern) if id_pattern is not None else None
    except ngsi_q.QueryError as e:
        raise BadRequestData(f"idPattern: {e}", field="idPattern") from None
    names = _names(attrs, "attrs") if attrs is not None else None
    return Filters(node, pattern, names, ngsi_geo.parse(*geo))


def _names(raw: str, field: str) -> list[str]:
    names = [term(x.strip()) for x in raw.split(",")]
    if not all(names):
        raise BadRequestData(f"{field} has an empty name", field=field)
    return names


def _types(raw: str | None) -> set[str] | None:
    """The type names asked for: `A,B` or `A|B` (either); AND and groups of the type query
    language cannot match an entity of one type here, so they are not evaluated."""
    if raw is None:
        return None
    if ";" in raw or "(" in raw:
        raise OperationNotSupported("only a list of types (A,B or A|B) is supported", field="type")
    return set(_names(raw.replace("|", ","), "type"))


def _project(e: dict[str, Any], attrs: list[str] | None) -> dict[str, Any]:
    if attrs is None:
        return e
    return {k: v for k, v in e.items() if k in ("id", "type", "@context") or k in attrs}


def _find(
    request: Request,
    who: Principal,
    s: Session,
    types: set[str] | None,
    ids: list[str] | None,
    f: Filters,
    upto: int | None,
) -> list[dict[str, Any]]:
    """Every entity the caller may see that matches, in id order (nearest first for near);
    `upto` bounds the devices read when nothing filters after the read."""
    extra: dict[str, EntityType] = getattr(request.app.state, "ngsi_types", {})
    found: list[dict[str, Any]] = []
    if types is None or "Device" in types:
        # An id that is not a Device URN matches nothing, but does not hide the others.
        dev_ids = None if ids is None else [i[len(URN) :] for i in ids if i.startswith(URN)]
        if dev_ids != []:
            q = _devices_query(who, dev_ids, f.geo).order_by(Device.id)
            if upto is not None:
                q = q.limit(upto)
            found += [entity(d, False) for d in s.execute(q).scalars()]
    for name, et in sorted(extra.items()):
        if types is not None and name not in types:
            continue
        wanted = None if ids is None else [i for i in ids if et.device_of(i) is not None]
        if wanted == []:
            continue
        dev_ids = None if wanted is None else sorted({str(et.device_of(i)) for i in wanted})
        q = _devices_query(who, dev_ids, f.geo).where(Device.type == et.device_type)
        made = et.entities(s, list(s.execute(q.order_by(Device.id)).scalars()))
        found += [e for e in made if wanted is None or e["id"] in wanted]
    found = [e for e in found if f.keep(e)]
    point = f.geo.point() if f.geo is not None else None
    if point is None:
        return sorted(found, key=lambda e: str(e["id"]))
    prop = f.geo.geoproperty if f.geo is not None else "location"

    def far(e: dict[str, Any]) -> float:
        g = ngsi_geo.entity_geometry(e, prop)
        return ngsi_geo.distance_m(g, *point) if g is not None else float("inf")

    return sorted(found, key=far)


def _limit(limit: int | None, count: bool) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit > MAX_LIMIT:
        raise TooManyResults(
            f"at most {MAX_LIMIT} entities a page: page on with offset", field="limit"
        )
    if limit == 0 and not count:
        raise BadRequestData("limit=0 asks only for the count: add count=true", field="limit")
    return limit


@router.get("/entities")
def query_entities(
    request: Request,
    who: CurrentUser,
    p: PlatformDep,
    type: Annotated[str | None, Query(max_length=500)] = None,  # NGSI-LD's parameter names
    id: Annotated[str | None, Query(max_length=2000)] = None,
    id_pattern: Annotated[str | None, Query(alias="idPattern", max_length=200)] = None,
    q: Annotated[str | None, Query(max_length=2000)] = None,
    attrs: Annotated[str | None, Query(max_length=1000)] = None,
    georel: Annotated[str | None, Query(max_length=100)] = None,
    geometry: Annotated[str | None, Query(max_length=20)] = None,
    coordinates: Annotated[str | None, Query(max_length=20_000)] = None,
    geoproperty: Annotated[str | None, Query(max_length=100)] = None,
    options: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    count: bool = False,
) -> Response:
    """Entities by type, id, idPattern, q, attrs and geo-query, paged by limit and offset
    (`Link rel="next"`/`"prev"`); `count=true` adds the NGSILD-Results-Count header, and
    `limit=0&count=true` answers the count alone."""
    require(who, Perm.DEVICES_READ)
    media = negotiate(request)
    request_context(request)
    if not any((type, id, id_pattern, q, attrs, georel)):
        raise BadRequestData(
            "give at least one of type, id, idPattern, attrs, q or a geo-query (NGSI-LD §5.7.2)",
            field="type",
        )
    size = _limit(limit, count)
    kv = key_values_asked(request, options)
    ids = [i.strip() for i in id.split(",") if i.strip()] if id else None
    f = _filters(q, id_pattern, attrs, (georel, geometry, coordinates, geoproperty))
    # One more than the page, so that a next page is known to exist.
    upto = None if count or f.narrows() else offset + size + 1
    with p.db.read() as s:
        found = _find(request, who, s, _types(type), ids, f, upto)
    page = [_project(e, f.attrs) for e in found[offset : offset + size]]
    headers = {"NGSILD-Results-Count": str(len(found))} if count else {}
    resp = render(request, [key_values(e) if kv else e for e in page], media, headers)
    page_links(request, resp, offset, size, len(found))
    return resp


@router.get("/entities/{entity_id}")
def get_entity(
    entity_id: str,
    request: Request,
    who: CurrentUser,
    p: PlatformDep,
    attrs: Annotated[str | None, Query(max_length=1000)] = None,
    options: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    require(who, Perm.DEVICES_READ)
    media = negotiate(request)
    request_context(request)
    kv = key_values_asked(request, options)
    names = _names(attrs, "attrs") if attrs is not None else None
    found = _one(request, who, p, entity_id)
    if found is None:
        raise NotFound(f"no entity '{entity_id}'", code="ResourceNotFound")
    e = _project(found, names)
    return render(request, key_values(e) if kv else e, media, {})


def _one(request: Request, who: Principal, p: Platform, entity_id: str) -> dict[str, Any] | None:
    extra: dict[str, EntityType] = getattr(request.app.state, "ngsi_types", {})
    with p.db.read() as s:
        for et in extra.values():
            dev_id = et.device_of(entity_id)
            if dev_id is None:
                continue
            d = s.get(Device, dev_id)
            if d is None or d.type != et.device_type or not who.sees_department(d.department_code):
                return None
            return next((e for e in et.entities(s, [d]) if e["id"] == entity_id), None)
        if not entity_id.startswith(URN):
            return None
        d = s.get(Device, entity_id[len(URN) :])
        if d is None or not who.sees_department(d.department_code):
            return None
        return entity(d, False)
