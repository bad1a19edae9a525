"""Guards at the HTTP edge that every route shares: cross-site requests riding on the session
cookie, the media type of a body, security headers on every response, and who may scrape
/metrics."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, params
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onecity.core.errors import Forbidden, UnsupportedMediaType

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --- cross-site request forgery ----------------------------------------------------------------
def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _own(origin: str, request: Request, public: frozenset[str]) -> bool:
    if origin in public:
        return True
    # Compared by host (and port) as the client addressed us: behind a TLS proxy the scheme
    # the app sees may be http while the browser's is https.
    host = request.headers.get("host", "").lower()
    return bool(host) and urlsplit(origin).netloc == host


def refuse_cross_site(request: Request, public: frozenset[str]) -> None:
    """403 for an unsafe request that a browser sent from another site.

    Browsers say where a request comes from: Sec-Fetch-Site (every current browser), Origin
    (every browser on a cross-origin POST), Referer (older ones, unless suppressed). When
    a request carries none of the three it did not come from a page in a current browser
    (a script, curl, the test client): those are let through, because an attacker who can
    send them already holds the cookie, and the session cookie is SameSite=Strict, so the
    browsers that would omit all three headers do not attach it to a cross-site request."""
    if request.method in SAFE_METHODS:
        return
    fetch_site = request.headers.get("sec-fetch-site", "").lower()
    origin_header = request.headers.get("origin")
    if origin_header is not None:
        origin = _origin_of(origin_header)  # "null" (a sandboxed or privacy-redirected page)
        if origin is not None and _own(origin, request, public):
            return
        if fetch_site in ("same-origin", "none") and origin is not None:
            return  # the browser itself says same origin: a proxy renamed the host
        _refuse(origin_header)
    if fetch_site:
        if fetch_site in ("same-origin", "none"):
            return
        _refuse(fetch_site)
    referer = request.headers.get("referer")
    if referer:
        origin = _origin_of(referer)
        if origin is None or not _own(origin, request, public):
            _refuse(origin or "unknown")


def _refuse(where: str) -> None:
    raise Forbidden(
        f"refused a request from another site ({where[:80]}) that carries this site's "
        "session cookie; use this site's own pages, or send 'Authorization: Bearer <token>'",
        code="csrf_refused",
    )


# --- media types -------------------------------------------------------------------------------
def _json_type(ctype: str) -> bool:
    main = ctype.split(";", 1)[0].strip().lower()
    return main == "application/json" or (
        main.startswith("application/") and main.endswith("+json")
    )


def _form_type(ctype: str) -> bool:
    main = ctype.split(";", 1)[0].strip().lower()
    return main in ("multipart/form-data", "application/x-www-form-urlencoded")


async def check_media_type(request: Request) -> None:
    """415 when a body is sent to a JSON endpoint in another media type (or to a form/upload
    endpoint as anything but a form), instead of a puzzling 422 about the fields."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return  # no declared body: the handler reads the request itself (Open311, telemetry)
    has_body = request.headers.get("content-length", "0") not in ("", "0") or (
        "transfer-encoding" in request.headers
    )
    if not has_body:
        return
    ctype = request.headers.get("content-type", "")
    if isinstance(route.body_field.field_info, params.Form):
        if not _form_type(ctype):
            raise UnsupportedMediaType(
                f"send this as multipart/form-data, not {ctype or 'an untyped body'}",
                field="content-type",
            )
    elif not _json_type(ctype):
        raise UnsupportedMediaType(
            f"send JSON with 'Content-Type: application/json', not {ctype or 'an untyped body'}",
            field="content-type",
        )


# --- security headers --------------------------------------------------------------------------
# JSON, CSV, GeoJSON and photos: nothing in them may run or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PERMISSIONS = "camera=(), microphone=(), geolocation=(self), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"


def docs_csp(html: str) -> str:
    """The policy for the Swagger UI page: its vendored files, and its one inline start-up
    script allowed by hash (the page is built once, so the hash is fixed)."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        for code in re.findall(r"<script>(.*?)</script>", html, re.S)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; "
        # Swagger UI sets style attributes from its scripts (highlighting, collapsing).
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Adds the security headers to every response that does not set its own (the pages set a
    Content-Security-Policy of their own, with the map tile host)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.fixed: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", PERMISSIONS.encode()),
            (b"content-security-policy", API_CSP.encode()),
        ]
        if hsts:
            self.fixed.append((b"strict-transport-security", HSTS.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                present = {bytes(k).lower() for k, _ in headers}
                headers.extend((k, v) for k, v in self.fixed if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
