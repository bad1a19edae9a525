"""HTTP edge shared by every router: the platform, the caller, and the error format."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from onecity.core.auth.permissions import Principal
from onecity.core.errors import AppError, Invalid, Throttled, Unauthenticated
from onecity.core.http_guards import refuse_cross_site
from onecity.core.platform import Platform

SESSION_COOKIE = "onecity_session"

# How a caller proves who it is, declared so that OpenAPI names the security schemes and a
# generated client sends them. None of them refuses by itself (auto_error=False): the
# dependencies below decide, with the platform's error body.
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="The token from POST /api/v1/auth/login, as 'Authorization: Bearer <token>' "
    "(a device may send its key this way too).",
)
SESSION = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session_cookie",
    description="The dashboard's session cookie (set by the login page).",
)
DEVICE_KEY = APIKeyHeader(
    name="X-Device-Key",
    auto_error=False,
    scheme_name="device_key",
    description="A device's key, issued by POST /api/v1/devices/{device_id}/keys.",
)


async def platform(request: Request) -> Platform:
    # async, though it does no I/O: a plain `def` dependency costs every request a hop
    # through the thread pool.
    p: Platform = request.app.state.platform
    return p


def source(request: Request) -> str:
    return request.client.host if request.client else ""


def session_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


def principal(
    request: Request,
    p: Platform = Depends(platform),
    _bearer: HTTPAuthorizationCredentials | None = Depends(BEARER),
    _cookie: str | None = Depends(SESSION),
) -> Principal:
    token = session_token(request)
    if not token:
        raise Unauthenticated(
            "log in first: send 'Authorization: Bearer <token>'", code="not_logged_in"
        )
    if not request.headers.get("authorization", "").lower().startswith("bearer "):
        # The browser attaches the cookie by itself, also to requests other sites make it send.
        refuse_cross_site(request, p.settings.public_origin_set)
    # A request the browser marks as background (a timer poll while nobody is using the page)
    # is authenticated as usual but does not count as activity for the idle limit.
    background = request.headers.get("x-onecity-background") == "1"
    who = p.auth.authenticate(token, touch=not background)
    request.state.principal = who
    return who


async def device_key_header(
    request: Request,
    _key: str | None = Depends(DEVICE_KEY),
    _bearer: HTTPAuthorizationCredentials | None = Depends(BEARER),
) -> str:
    """The device key a request carries, not yet checked (401 when there is none). For hot
    handlers that check it themselves in their own worker thread: `device_key` costs a request
    a second hop through the thread pool."""
    key = request.headers.get("x-device-key")
    if not key:
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    if not key:
        raise Unauthenticated(
            "send the device key in the X-Device-Key header", code="no_device_key"
        )
    return key


def device_key(key: str = Depends(device_key_header), p: Platform = Depends(platform)) -> str:
    """The id of the device whose key the request carries (401 unknown or revoked)."""
    return p.devices.authenticate_key(key)


# Largest ids the tables can hold: alerts use INTEGER, the audit sequence BIGINT. Bounding
# path and query ids by them keeps an absurd number a 422 instead of a database error.
MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1


def _nul_path(doc: Any) -> str | None:
    """Where in a parsed JSON document the first string (or key) with a NUL character is.
    Iterative, so a deeply nested document cannot exhaust the stack."""
    todo: list[tuple[Any, str]] = [(doc, "")]
    while todo:
        value, at = todo.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return at
        elif isinstance(value, list):
            todo.extend((item, f"{at}[{i}]") for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, dict):
            for k in value:
                if "\x00" in k:
                    return f"{at}.{k}" if at else k
            todo.extend(
                (item, f"{at}.{k}" if at else k) for k, item in reversed(list(value.items()))
            )
    return None


async def reject_nul(request: Request) -> None:
    """PostgreSQL text cannot hold a NUL character, so refuse one at the door (422, naming the
    field) rather than fail in the database (500). Applies to path, query and JSON body."""
    where: str | None = None
    for name, value in request.path_params.items():
        if "\x00" in str(value):
            where = name
    for name, value in request.query_params.multi_items():
        if where is None and ("\x00" in name or "\x00" in value):
            where = name
    if where is None and "\x00" in request.scope.get("path", ""):
        where = "path"
    if where is None and "json" in request.headers.get("content-type", ""):
        body = await request.body()
        if b"\\u0000" in body:  # only then is a (slower) walk of the document needed
            try:
                where = _nul_path(json.loads(body))
            except (ValueError, RecursionError):
                return  # body validation answers malformed JSON itself
    if where is not None:
        field = where.replace("\x00", "\\u0000") or None
        raise Invalid(
            f"{field or 'request body'}: contains a NUL character (\\u0000), "
            "which cannot be stored",
            field=field,
        )


def error_body(code: str, detail: str, field: str | None) -> dict[str, Any]:
    return {"error": code, "detail": detail, "field": field}


# Pydantic names the union member that failed inside `loc`; a client needs only the field.
_UNION_TAGS = {
    "float",
    "int",
    "bool",
    "str",
    "datetime",
    "list",
    "dict",
    "constrained-int",
    "constrained-str",
    "GeoPoint",
    "none",
}


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts = [
        str(x)
        for x in loc
        if x not in ("body", "query", "path", "header", "cookie")
        and not (isinstance(x, str) and (x in _UNION_TAGS or "[" in x))
    ]
    out = ""
    for part in parts:
        if part.isdigit():
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_req: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, Throttled):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse(error_body(exc.code, exc.detail, exc.field), exc.status, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {"loc": (), "msg": "invalid request"}
        field = _loc_to_field(first.get("loc", ()))
        if first.get("type") == "json_invalid":
            return JSONResponse(
                error_body(
                    "malformed_json", f"request body is not valid JSON: {first['msg']}", None
                ),
                400,
            )
        detail = f"{field or 'request'}: {first.get('msg', 'invalid')}"
        if len(errs) > 1:
            detail += f" (and {len(errs) - 1} more problem(s))"
        return JSONResponse(error_body("invalid", detail, field or None), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            400: "malformed_body",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), str(exc.detail), None),
            exc.status_code,
            getattr(exc, "headers", None),
        )
