"""HTTP edge shared by every router: the platform, the caller, and the error format."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from onecity.core.auth.permissions import Principal
from onecity.core.errors import AppError, Unauthenticated
from onecity.core.platform import Platform

SESSION_COOKIE = "onecity_session"


def platform(request: Request) -> Platform:
    p: Platform = request.app.state.platform
    return p


def source(request: Request) -> str:
    return request.client.host if request.client else ""


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


def principal(request: Request, p: Platform = Depends(platform)) -> Principal:
    token = _token(request)
    if not token:
        raise Unauthenticated("log in first: send 'Authorization: Bearer <token>'",
                              code="not_logged_in")
    who = p.auth.authenticate(token)
    request.state.principal = who
    return who


def device_key(request: Request, p: Platform = Depends(platform)) -> str:
    key = request.headers.get("x-device-key")
    if not key:
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    if not key:
        raise Unauthenticated("send the device key in the X-Device-Key header",
                              code="no_device_key")
    return p.devices.authenticate_key(key)


def error_body(code: str, detail: str, field: str | None) -> dict[str, Any]:
    return {"error": code, "detail": detail, "field": field}


# Pydantic names the union member that failed inside `loc`; a client needs only the field.
_UNION_TAGS = {"float", "int", "bool", "str", "datetime", "list", "dict", "constrained-int",
               "constrained-str", "GeoPoint", "none"}


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts = [
        str(x) for x in loc
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
        return JSONResponse(error_body(exc.code, exc.detail, exc.field), exc.status, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {"loc": (), "msg": "invalid request"}
        field = _loc_to_field(first.get("loc", ()))
        if first.get("type") == "json_invalid":
            return JSONResponse(
                error_body("malformed_json", f"request body is not valid JSON: {first['msg']}",
                           None), 400)
        detail = f"{field or 'request'}: {first.get('msg', 'invalid')}"
        if len(errs) > 1:
            detail += f" (and {len(errs) - 1} more problem(s))"
        return JSONResponse(error_body("invalid", detail, field or None), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), str(exc.detail), None),
            exc.status_code,
            getattr(exc, "headers", None),
        )
