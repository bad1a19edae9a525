"""A read-only NGSI-LD subset (ETSI GS CIM 009) so FIWARE tools can read OneCity devices and
the entity types modules add (`EntityType`).

GET /ngsi-ld/v1/entities: type (names or IRIs, `A,B` or `A|B`), id, idPattern, q (the query
language, core.ngsi_q), attrs (match and projection), geo-queries (core.ngsi_geo),
options=keyValues, limit/offset with Link rel="next"/"prev", count=true
(NGSILD-Results-Count; `limit=0&count=true` for the count alone). GET
/ngsi-ld/v1/entities/{id} with attrs and options. Content negotiation, contexts and
ProblemDetails errors: core.ngsi_ld. Devices follow the Smart Data Models `Device` shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from onecity.core import ngsi_entities as entities
from onecity.core import ngsi_geo, ngsi_q
from onecity.core.auth.permissions import Perm, require
from onecity.core.deps import CurrentUser, PlatformDep
from onecity.core.errors import NotFound
from onecity.core.ngsi_entities import EntityType, Filters, key_values
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

router = APIRouter(
    prefix="/ngsi-ld/v1", tags=["ngsi-ld"], route_class=NgsiRoute, responses=RESPONSES
)

__all__ = ["CORE_CONTEXT", "EntityType", "router"]
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def _extra(request: Request) -> Mapping[str, EntityType]:
    """The entity types the enabled modules serve, by name."""
    got: Mapping[str, EntityType] = getattr(request.app.state, "ngsi_types", {})
    return got


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
    found = entities.find(p.db, who, _extra(request), _types(type), ids, f, upto)
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
    found = entities.one(p.db, who, _extra(request), entity_id)
    if found is None:
        raise NotFound(f"no entity '{entity_id}'", code="ResourceNotFound")
    e = _project(found, names)
    return render(request, key_values(e) if kv else e, media, {})
