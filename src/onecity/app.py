"""create_app(settings): the ASGI application with every enabled module mounted."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from onecity import __version__
from onecity.core import (
    alerts_api,
    media_api,
    modules,
    ngsi,
    open311,
    open311_api,
    openapi,
    ops,
    webhooks_api,
)
from onecity.core.auth import api as auth_api
from onecity.core.devices import api as devices_api
from onecity.core.http import error_body, install_error_handlers, reject_nul
from onecity.core.http_guards import SecurityHeaders, check_media_type, docs_csp
from onecity.core.platform import Platform
from onecity.core.webhooks import webhook_loop
from onecity.core.workers import Loop, audit_checkpoint_loop, liveness_loop, retention_loop
from onecity.settings import Settings
from onecity.web import overview_pages, pages

MAX_BODY = 4 * 1024 * 1024

REQUESTS = Counter("onecity_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("onecity_http_request_seconds", "HTTP request latency", ["method", "route"])


class BodyLimit:
    """Refuse request bodies over MAX_BODY with 413 before reading them whole."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY:
                await _send_json(
                    send,
                    413,
                    error_body(
                        "too_large", f"request body over {MAX_BODY // 1024 // 1024} MiB", None
                    ),
                )
                return
        seen = 0

        async def limited() -> MutableMapping[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > MAX_BODY:
                    raise _TooBig
            return msg

        try:
            await self.app(scope, limited, send)
        except _TooBig as exc:
            await _send_json(send, 413, error_body("too_large", str(exc.detail), None))


class Metrics:
    """Request count and latency per route template, as plain ASGI (no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = str(scope.get("method", ""))
            LATENCY.labels(method, route).observe(time.perf_counter() - t0)
            REQUESTS.labels(method, route, str(status)).inc()


class _TooBig(StarletteHTTPException):
    """Raised from `receive` once a body (chunked or not) passes MAX_BODY. An HTTPException,
    so that body parsing passes it on (413) instead of wrapping it into a 400."""

    def __init__(self) -> None:
        super().__init__(413, f"request body over {MAX_BODY // 1024 // 1024} MiB")


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    import json

    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def _routed(
    svc: open311.Open311Service, m: modules.Module, plat: Platform
) -> open311.Open311Service:
    """A module's citizen reports go to the department that runs it in this city."""
    if m.department and svc.department_code == m.department:
        return replace(svc, department_code=plat.department(m.name))
    return svc


def _lifespan(
    settings: Settings, plat: Platform
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start-up and shutdown: the thread pool, the collector's settings and, where this
    process runs them, the core's and the modules' worker loops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loops: list[Loop] = []
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        before = gc.get_threshold()
        if settings.gc_threshold:
            # What is alive once the app has started lives as long as the process: out of the
            # collector's way. The rest is collected less often, so that a full pass does not
            # stall requests. Both undone at shutdown (tests start many apps in one process).
            gc.collect()
            gc.freeze()
            gc.set_threshold(*(int(x) for x in settings.gc_threshold.split(",")))
        if settings.run_workers:
            loops.extend([liveness_loop(plat), retention_loop(plat), webhook_loop(plat)])
            loops.append(audit_checkpoint_loop(plat))
            for module in app.state.modules:
                loops.extend(make(plat) for make in module.loops)
            for loop in loops:
                loop.start()
        yield
        for loop in loops:
            loop.stop()
        if settings.gc_threshold:
            gc.unfreeze()
            gc.set_threshold(*before)

    return lifespan


def _install_docs(app: FastAPI) -> None:
    """/docs from the vendored Swagger UI: no CDN, and a CSP that admits its one script."""
    vendor = "/static/vendor/swagger-ui"
    docs_page = bytes(
        get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="OneCity API",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        ).body
    ).decode()
    docs_policy = docs_csp(docs_page)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_page, headers={"Content-Security-Policy": docs_policy})


def _install_routes(app: FastAPI, settings: Settings, plat: Platform) -> None:
    """Core's routers, then the enabled modules' (their services installed on the platform
    first), then the endpoints that serve every module: Open311, media, NGSI-LD, pages."""
    for router in (
        auth_api.router,
        devices_api.router,
        alerts_api.router,
        webhooks_api.router,
        ops.router,
        ngsi.router,
        pages.router,
    ):
        app.include_router(router)
    app.state.modules = modules.load(settings.modules)
    if not plat.started:
        modules.install(plat, app.state.modules)
    for module in app.state.modules:
        for router in module.routers:
            app.include_router(router)
    # The city's one citizen-report endpoint, serving every enabled module's service codes.
    app.state.open311 = open311.Catalog(
        ((m.name, _routed(svc, m, plat)) for m in app.state.modules for svc in m.open311_services),
        {d.code for d in plat.city.departments},
    )
    app.include_router(open311_api.router)
    app.include_router(open311_api.discovery_router)
    app.include_router(media_api.router)
    app.state.ngsi_types = {t.type: t for m in app.state.modules for t in m.ngsi_types}
    app.include_router(open311_api.staff_router)
    pages.install(app, app.state.modules)
    overview_pages.install(app)


def _install_static(app: FastAPI) -> None:
    # Each module's files under /static/<name>/, mounted before the shell's /static so that
    # the longer prefix is the one that matches.
    for module in app.state.modules:
        if module.static is not None:
            app.mount(
                f"/static/{module.name}",
                StaticFiles(directory=module.static),
                name=f"static-{module.name}",
            )
    app.mount("/static", StaticFiles(packages=[("onecity.web", "static")]), name="static")


def create_app(settings: Settings | None = None, platform: Platform | None = None) -> FastAPI:
    settings = settings or Settings()
    plat = platform or modules.start_platform(settings)
    app = FastAPI(
        title="OneCity API",
        version=__version__,
        description="Smart Taipei, One City: devices, telemetry, alerts and city modules.",
        lifespan=_lifespan(settings, plat),
        docs_url=None,  # served below from vendored assets: no CDN
        redoc_url=None,
        openapi_url="/openapi.json",
        # Every route, core or module: a NUL byte is refused before it can reach the database.
        # A body in the wrong media type is a 415 (core/http_guards.py).
        dependencies=[Depends(reject_nul), Depends(check_media_type)],
    )
    _install_docs(app)
    app.state.platform = plat
    install_error_handlers(app)
    openapi.install(app)
    _install_routes(app, settings, plat)
    _install_static(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, hsts=settings.environment == "production")
    app.add_middleware(Metrics)
    return app
