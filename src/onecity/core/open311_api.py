"""Open311 GeoReport v2 over HTTP (JSON only), the city's one endpoint for citizens' reports,
plus the staff route that answers them.

The spec routes answer errors the spec's way, a JSON list of {"code", "description"}, so they
use their own route class; they are left out of /openapi.json because that document promises
the platform's {"error", "detail", "field"} body (docs/open311.md describes them instead)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from onecity.core import media
from onecity.core import open311_service as service
from onecity.core.auth.permissions import Principal
from onecity.core.db import utcnow
from onecity.core.errors import AppError, Invalid, NotFound, Unauthenticated
from onecity.core.geo import CityProfile
from onecity.core.http import MAX_INT64, platform, principal, session_token, source
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
from onecity.core.open311_limits import Limits, client_names
from onecity.core.platform import Platform

PREFIX = "/open311/v2"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


def spec_error(
    status: int, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status, headers)


class SpecErrors(APIRoute):
    """Every error of a spec route, whatever raised it, in the spec's error format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except AppError as exc:
                # The spec answers bad input with 400; the platform's 422 means the same.
                status = 400 if exc.status == 422 else exc.status
                return spec_error(status, exc.detail, getattr(exc, "headers", None))
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                return spec_error(400, f"{first.get('loc', '')}: {first.get('msg', 'invalid')}")
            except StarletteHTTPException as exc:
                return spec_error(exc.status_code, str(exc.detail))

        return handler


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=SpecErrors)
staff_router = APIRouter(prefix="/api/v1/open311", tags=["open311"])


async def catalog(request: Request) -> Catalog:
    c: Catalog = request.app.state.open311
    return c


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


@router.get("/services.json", include_in_schema=False)
def list_services(
    request: Request, p: Platform = Depends(platform), c: Catalog = Depends(catalog)
) -> JSONResponse:
    lang = _language(request, p)
    return JSONResponse([_service_out(s, lang, p.city.default_language) for s in c.services()])


@router.get("/services/{service_code}.json", include_in_schema=False)
def service_definition(
    service_code: str,
    request: Request,
    p: Platform = Depends(platform),
    c: Catalog = Depends(catalog),
) -> JSONResponse:
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
    return JSONResponse({"service_code": svc.service_code, "attributes": attributes})


async def submitted(request: Request) -> dict[str, list[str]]:
    """The POST body as field -> values, from a form (as the spec sends it) or from JSON."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, list[str]] = {}
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form(max_files=1, max_part_size=media.MAX_BYTES + 1)
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "media":
                    raise Invalid("the only file a report takes is its photo, 'media'", field=name)
                # Read at most one byte past the limit: media.check refuses anything larger.
                request.state.media = await value.read(media.MAX_BYTES + 1)
                continue
            fields.setdefault(name, []).append(value)
        return fields
    if kind == "application/json" or kind.endswith("+json"):
        try:
            doc = json.loads(await request.body())
        except (ValueError, RecursionError):
            raise Invalid("the request body is not valid JSON") from None
        return _flatten_json(doc)
    raise UnsupportedMediaType(
        "send the request as application/x-www-form-urlencoded (the spec) or application/json"
    )


def _scalar(value: object, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    raise Invalid(f"'{name}' must be a string or a number", field=name)


def _flatten_json(doc: object) -> dict[str, list[str]]:
    if not isinstance(doc, dict):
        raise Invalid("the JSON body must be an object of the spec's fields")
    fields: dict[str, list[str]] = {}
    for name, value in doc.items():
        if value is None:
            continue
        if name == "attribute" and isinstance(value, dict):
            for code, answer in value.items():
                answers = answer if isinstance(answer, list) else [answer]
                key = f"attribute[{code}]"
                fields[key] = [_scalar(a, key) for a in answers if a is not None]
        elif isinstance(value, list):
            fields[name] = [_scalar(v, name) for v in value]
        else:
            fields[name] = [_scalar(value, name)]
    return fields


@router.post("/requests.json", include_in_schema=False, status_code=201)
def create_request(
    request: Request,
    fields: dict[str, list[str]] = Depends(submitted),
    p: Platform = Depends(platform),
    c: Catalog = Depends(catalog),
) -> JSONResponse:
    # `api_key` and `jurisdiction_id` may be sent and are ignored: citizens file without a key.
    new = parse_submission(fields, c, p.city)
    photo: bytes | None = getattr(request.state, "media", None)
    if photo is not None:
        media.check(photo, "media")  # before anything is written
    row = service.file_request(
        p.db,
        new,
        source(request),
        photo=photo,
        photo_url=lambda media_id: str(request.url_for("media", media_id=media_id)),
        limits=Limits.from_settings(p.settings, _tz(p.city)),
        clients=client_names(source(request), new.contact.get("device_id"), _account(request, p)),
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
    return JSONResponse(body, 201)


def _account(request: Request, p: Platform) -> str | None:
    """Who is logged in, if anyone: a citizen files without logging in, and a stale token
    does not stop a report (it only loses the account's own counters)."""
    token = session_token(request)
    if not token:
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


@router.get("/requests.json", include_in_schema=False)
def list_requests(
    request: Request, p: Platform = Depends(platform), c: Catalog = Depends(catalog)
) -> JSONResponse:
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    q = parse_query(params, utcnow(), _tz(p.city))
    lang = _language(request, p)
    return JSONResponse([request_out(r, c, p.city, lang) for r in service.find(p.db, q)])


def _request_id(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) <= MAX_INT64:
        raise NotFound(f"no service request '{raw}'")
    return int(raw)


@router.get("/requests/{service_request_id}.json", include_in_schema=False)
def get_request(
    service_request_id: str,
    request: Request,
    p: Platform = Depends(platform),
    c: Catalog = Depends(catalog),
) -> JSONResponse:
    row = service.get(p.db, _request_id(service_request_id))
    return JSONResponse([request_out(row, c, p.city, _language(request, p))])


_KNOWN = ("services.json", "requests.json")


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
def elsewhere(rest: str, request: Request) -> JSONResponse:
    """Anything else under the prefix, in the spec's error format (e.g. a .xml request)."""
    if rest in _KNOWN or (
        rest.startswith(("services/", "requests/"))
        and rest.endswith(".json")
        and rest.count("/") == 1
    ):
        return spec_error(405, f"{request.method} is not offered on {PREFIX}/{rest}")
    return spec_error(
        404,
        f"no Open311 resource at {PREFIX}/{rest}; this server speaks GeoReport v2 in JSON "
        "only (services.json, services/{code}.json, requests.json, requests/{id}.json)",
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
    who: Principal = Depends(principal),
    p: Platform = Depends(platform),
) -> StaffRequestOut:
    row = service.update(
        p.db,
        who,
        request_id,
        status=body.status,
        status_notes=body.status_notes,
        source=source(request),
    )
    out = request_out(row, request.app.state.open311, p.city, p.city.default_language)
    return StaffRequestOut.model_validate({**out, "department": row.department_code})
