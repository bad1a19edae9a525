"""Open311 GeoReport v2 over HTTP (XML and JSON, by the path's suffix), the city's one endpoint
for citizens' reports, plus service discovery and the staff route that answers reports.

The spec routes answer errors the spec's way, a JSON list of {"code", "description"}, so they
use their own route class; they are left out of /openapi.json because that document promises
the platform's {"error", "detail", "field"} body (docs/open311.md describes them instead)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

from onecity.core import media, open311_xml
from onecity.core import open311_service as service
from onecity.core.db import utcnow
from onecity.core.deps import ClientSource, CurrentUser, PlatformDep
from onecity.core.errors import AppError, Forbidden, NotFound, Unauthenticated
from onecity.core.geo import CityProfile
from onecity.core.http import MAX_INT64, session_token
from onecity.core.http_guards import refuse_cross_site
from onecity.core.models import Open311Request
from onecity.core.open311 import (
    MAX_DESCRIPTION,
    Catalog,
    Open311Service,
    localize,
    parse_query,
    parse_submission,
    pick_language,
)
from onecity.core.open311_body import submitted
from onecity.core.open311_limits import Limits, client_names
from onecity.core.platform import Platform

PREFIX = "/open311/v2"


FORMATS = ("json", "xml")
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


def answer(
    fmt: str,
    root: str,
    content: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """`content` as JSON, or as the XML document `root` (open311_xml)."""
    if fmt == "xml":
        return open311_xml.response(root, content, status, headers)
    return JSONResponse(content, status, headers)


def spec_error(
    status: int, description: str, headers: Mapping[str, str] | None = None, fmt: str = "json"
) -> Response:
    return answer(fmt, "errors", [{"code": status, "description": description}], status, headers)


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"this server speaks GeoReport v2 in XML and JSON, not '{fmt}'")
    return fmt


def _split(name: str) -> tuple[str, str]:
    """`waste.station_full.xml` -> (`waste.station_full`, `xml`)."""
    stem, _, fmt = name.rpartition(".")
    return stem, _format(fmt)


class SpecErrors(APIRoute):
    """Every error of a spec route, whatever raised it, in the spec's error format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            # Errors in the format the path asked for (JSON when it asked for none we speak).
            fmt = "xml" if request.url.path.endswith(".xml") else "json"
            try:
                return await inner(request)
            except AppError as exc:
                # The spec answers bad input with 400; the platform's 422 means the same.
                status = 400 if exc.status == 422 else exc.status
                return spec_error(status, exc.detail, getattr(exc, "headers", None), fmt)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                why = f"{first.get('loc', '')}: {first.get('msg', 'invalid')}"
                return spec_error(400, why, fmt=fmt)
            except StarletteHTTPException as exc:
                return spec_error(exc.status_code, str(exc.detail), exc.headers, fmt)

        return handler


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=SpecErrors)
# Service discovery where the spec looks for it, one level above the versioned endpoint.
discovery_router = APIRouter(prefix="/open311", tags=["open311"], route_class=SpecErrors)
staff_router = APIRouter(prefix="/api/v1/open311", tags=["open311"])


async def catalog(request: Request) -> Catalog:
    c: Catalog = request.app.state.open311
    return c


# The enabled modules' service codes (app.state.open311).
CatalogDep = Annotated[Catalog, Depends(catalog)]


def _language(request: Request, p: Platform) -> str:
    asked = request.query_params.get("locale") or request.headers.get("accept-language")
    return pick_language(asked, p.city)


def _service_out(svc: Open311Service, lang: str, default: str) -> dict[str, Any]:
    return {
        "service_code": svc.service_code,
        "service_name": localize(svc.service_name, lang, default),
        "description": localize(svc.description, lang, default),
        "metadata": svc.metadata,
        # Every request is stored, and its id returned, while the citizen waits.
        "type": "realtime",
        "keywords": ", ".join(svc.keywords),
        "group": localize(svc.group, lang, default),
    }


@router.get("/services.{fmt}", include_in_schema=False)
def list_services(fmt: str, request: Request, p: PlatformDep, c: CatalogDep) -> Response:
    lang = _language(request, p)
    out = [_service_out(s, lang, p.city.default_language) for s in c.services()]
    return answer(_format(fmt), "services", out)


@router.get("/services/{name}", include_in_schema=False)
def service_definition(
    name: str,
    request: Request,
    p: PlatformDep,
    c: CatalogDep,
) -> Response:
    service_code, fmt = _split(name)
    svc = c.get(service_code)
    if svc is None:
        raise NotFound(f"no service '{service_code}' (see {PREFIX}/services.json)")
    lang, default = _language(request, p), p.city.default_language
    attributes = [
        {
            "variable": a.variable,
            "code": a.code,
            "datatype": a.datatype,
            "required": a.required,
            "datatype_description": localize(a.datatype_description, lang, default),
            "order": i + 1,
            "description": localize(a.description, lang, default),
            "values": [{"key": v.key, "name": localize(v.name, lang, default)} for v in a.values],
        }
        for i, a in enumerate(svc.attributes)
    ]
    content = {"service_code": svc.service_code, "attributes": attributes}
    return answer(fmt, "service_definition", content)


def not_past_limits(request: Request, p: PlatformDep, src: ClientSource) -> Limits:
    """The limits, and a 429 before the body is read for a client already past them (by its
    address or account: the device id is in the body)."""
    limits = Limits.from_settings(p.settings, _tz(p.city))
    service.check_limits(p.db, limits, client_names(src, None, _account(request, p)))
    return limits


@router.post("/requests.{fmt}", include_in_schema=False, status_code=201)
def create_request(
    fmt: str,
    request: Request,
    limits: Annotated[Limits, Depends(not_past_limits)],  # before `fields`: refused unread
    fields: Annotated[dict[str, list[str]], Depends(submitted)],
    p: PlatformDep,
    c: CatalogDep,
    src: ClientSource,
) -> Response:
    # `api_key` and `jurisdiction_id` may be sent and are ignored: citizens file without a key,
    # and this endpoint serves one jurisdiction.
    fmt = _format(fmt)
    new = parse_submission(fields, c, p.city)
    photo: bytes | None = getattr(request.state, "media", None)
    if photo is not None:
        media.check(photo, "media")  # before anything is written
    row = service.file_request(
        p.db,
        new,
        src,
        photo=photo,
        photo_url=lambda media_id: str(request.url_for("media", media_id=media_id)),
        limits=limits,
        clients=client_names(src, new.contact.get("device_id"), _account(request, p)),
    )
    lang = _language(request, p)
    notice = localize(new.service.service_notice, lang, p.city.default_language)
    body = [
        {
            "service_request_id": str(row.id),
            "service_notice": notice or None,
            "account_id": row.account_id,
        }
    ]
    return answer(fmt, "service_requests", body, 201)


def _account(request: Request, p: Platform) -> str | None:
    """Who is logged in, if anyone: a citizen files without logging in, and a stale token
    does not stop a report (it only loses the account's own counters)."""
    token = session_token(request)
    if not token:
        return None
    if not request.headers.get("authorization", "").lower().startswith("bearer "):
        # A cookie another site made the browser send does not put the report on the
        # account (its counters and its list); the report is filed as an anonymous one.
        try:
            refuse_cross_site(request, p.settings.public_origin_set)
        except Forbidden:
            return None
    try:
        return p.auth.authenticate(token, touch=False).username
    except Unauthenticated:
        return None


def _tz(city: CityProfile) -> ZoneInfo:
    return ZoneInfo(city.timezone)


def request_out(row: Open311Request, c: Catalog, city: CityProfile, lang: str) -> dict[str, Any]:
    """The public view of a request: the spec's fields only, never contact details."""
    default, tz = city.default_language, _tz(city)
    svc = c.get(row.service_code)
    dept = next((d for d in city.departments if d.code == row.department_code), None)
    agency = (dept.zh if lang.startswith("zh") else dept.en) if dept else row.department_code
    return {
        "service_request_id": str(row.id),
        "status": row.status,
        "status_notes": row.status_notes,
        "service_name": localize(svc.service_name, lang, default) if svc else row.service_code,
        "service_code": row.service_code,
        "description": row.description,
        "agency_responsible": agency,
        "service_notice": (localize(svc.service_notice, lang, default) or None) if svc else None,
        "requested_datetime": row.requested_at.astimezone(tz).isoformat(timespec="seconds"),
        "updated_datetime": row.updated_at.astimezone(tz).isoformat(timespec="seconds"),
        "expected_datetime": None,
        "address": row.address,
        "address_id": row.address_id,
        "zipcode": row.zipcode,
        "lat": row.lat,
        "long": row.lon,
        "media_url": row.media_url,
    }


@router.get("/requests.{fmt}", include_in_schema=False)
def list_requests(fmt: str, request: Request, p: PlatformDep, c: CatalogDep) -> Response:
    fmt = _format(fmt)
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    q = parse_query(params, utcnow(), _tz(p.city))
    lang = _language(request, p)
    out = [request_out(r, c, p.city, lang) for r in service.find(p.db, q)]
    return answer(fmt, "service_requests", out)


def _request_id(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) <= MAX_INT64:
        raise NotFound(f"no service request '{raw}'")
    return int(raw)


@router.get("/requests/{name}", include_in_schema=False)
def get_request(
    name: str,
    request: Request,
    p: PlatformDep,
    c: CatalogDep,
) -> Response:
    service_request_id, fmt = _split(name)
    row = service.get(p.db, _request_id(service_request_id))
    return answer(fmt, "service_requests", [request_out(row, c, p.city, _language(request, p))])


@router.get("/discovery.{fmt}", include_in_schema=False)
@discovery_router.get("/discovery.{fmt}", include_in_schema=False)
def discovery(fmt: str, request: Request, p: PlatformDep, c: CatalogDep) -> Response:
    """Service discovery (wiki.open311.org/Service_Discovery): where the endpoint is, which
    spec and formats it speaks, and when its service list last changed."""
    changeset = c.changeset.isoformat().replace("+00:00", "Z")
    name = localize(p.city.name, _language(request, p), p.city.default_language)
    content = {
        "changeset": changeset,
        "contact": f"{name}: OneCity citizens' reports",
        "key_service": "No key is needed: citizens file without one.",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": str(request.base_url).rstrip("/") + PREFIX,
                "changeset": changeset,
                "type": "production" if p.settings.environment == "production" else "test",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return answer(_format(fmt), "discovery", content)


def _allowed(rest: str) -> str | None:
    """The methods a known resource takes (for a 405's Allow), None for an unknown one."""
    stem, _, fmt = rest.rpartition(".")
    if fmt not in FORMATS:
        return None
    if stem == "requests":
        return "GET, POST"
    if stem in ("services", "discovery"):
        return "GET"
    head, _, tail = stem.partition("/")
    if head in ("services", "requests") and tail and "/" not in tail:
        return "GET"
    return None


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
def elsewhere(rest: str, request: Request) -> Response:
    """Anything else under the prefix, in the spec's error format."""
    fmt = "xml" if rest.endswith(".xml") else "json"
    allow = _allowed(rest)
    if allow is not None:
        why = f"{request.method} is not offered on {PREFIX}/{rest}; use {allow}"
        return spec_error(405, why, {"Allow": allow}, fmt)
    return spec_error(
        404,
        f"no Open311 resource at {PREFIX}/{rest}; this server speaks GeoReport v2 in XML and "
        "JSON (services.xml, services/{code}.xml, requests.xml, requests/{id}.xml, "
        "discovery.xml, or .json)",
        fmt=fmt,
    )


class RequestUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "closed"] | None = None
    status_notes: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)] | None = None


class StaffRequestOut(BaseModel):
    """What staff see after an update: the public fields plus the owning department."""

    service_request_id: str
    department: str
    status: str
    status_notes: str | None
    service_code: str
    description: str
    requested_datetime: str
    updated_datetime: str
    address: str | None
    lat: float | None
    long: float | None
    media_url: str | None


@staff_router.patch("/requests/{request_id}", response_model=StaffRequestOut)
def update_request(
    request_id: Annotated[int, Path(ge=1, le=MAX_INT64)],
    body: RequestUpdate,
    request: Request,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
) -> StaffRequestOut:
    row = service.update(
        p.db,
        who,
        request_id,
        status=body.status,
        status_notes=body.status_notes,
        source=src,
    )
    out = request_out(row, request.app.state.open311, p.city, p.city.default_language)
    return StaffRequestOut.model_validate({**out, "department": row.department_code})
