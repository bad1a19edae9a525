"""Dashboard pages. Each page is a server-rendered shell in the chosen language; its data comes
from the JSON API in the browser, with the session cookie."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from onecity import __version__
from onecity.core.auth.permissions import Perm, Principal
from onecity.core.errors import Unauthenticated
from onecity.core.http import SESSION_COOKIE
from onecity.core.platform import Platform
from onecity.web import lang as i18n

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

HOME = "/dashboard"
# A panel whose data is older than this, or whose live connection is down, is marked stale.
LIVE_WINDOW_S = 60
# Devices fetched per view: pages of PAGE_SIZE, at most MAX_PAGES of them.
PAGE_SIZE = 1000
MAX_PAGES = 5
# Where to go back to after logging in or switching language (checked by safe_next).
NextParam = Annotated[str | None, Query(alias="next", max_length=2000)]


def _platform(request: Request) -> Platform:
    p: Platform = request.app.state.platform
    return p


def safe_next(raw: str | None) -> str:
    """A same-site path to go back to after logging in; anything else becomes the home page,
    so the login form cannot be used to send people to another site."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return HOME
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return HOME
    return raw


def _here(request: Request) -> str:
    q = request.url.query
    return request.url.path + (f"?{q}" if q else "")


def _session(request: Request, p: Platform) -> Principal | str:
    """The logged-in principal, or the error code that says why there is none."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return "not_logged_in"
    try:
        return p.auth.authenticate(token)
    except Unauthenticated as exc:
        return exc.code


def _csp(tile_url: str) -> str:
    """Everything from this server only; map tiles also from the configured tile host."""
    img = "'self' data:"
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "*"))
        if parts.scheme in ("http", "https") and parts.netloc:
            img += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


def _credits(p: Platform) -> dict[str, Any]:
    """What the map must credit: the boundary data (when the city profile names its source
    under [boundaries] attribution, a string or {lang: text}) and the tile server (when tiles
    are used and a `map_tile_attribution` setting exists)."""
    raw = p.city.raw.get("boundaries", {}).get("attribution")
    return {
        "boundaries": raw if isinstance(raw, str | dict) else None,
        "tiles": str(getattr(p.settings, "map_tile_attribution", "") or ""),
    }


def _config(p: Platform, lang: str, page: dict[str, Any]) -> dict[str, Any]:
    """What the page's scripts need: the city profile, strings, settings and page data."""
    city = p.city
    return {
        "lang": lang,
        "timezone": city.timezone,
        "city": {
            "name": city.name,
            "center": city.center,
            "bounds": city.bounds,
            "zoom": city.zoom,
            "departments": {d.code: {"zh-TW": d.zh, "en": d.en} for d in city.departments},
        },
        "tile_url": p.settings.map_tile_url,
        "credits": _credits(p),
        "live_window_s": LIVE_WINDOW_S,
        "idle_minutes": p.settings.session_idle_minutes,
        "messages": {**i18n.catalog("en"), **i18n.catalog(lang)},
        "page": page,
    }


def _switch(p: Platform, lang: str, here: str) -> list[dict[str, str]]:
    """Links to the city's other languages, each coming back to this page."""
    return [
        {
            "code": code,
            "name": i18n.language_name(code),
            "href": f"/lang/{quote(code)}?next={quote(here, safe='')}",
        }
        for code in p.city.languages
        if code != lang and code in i18n.available()
    ]


def _render(
    request: Request, name: str, title_key: str, who: Principal | None, page: dict[str, Any]
) -> HTMLResponse:
    p = _platform(request)
    city = p.city
    lang = i18n.choose(request, city.languages, city.default_language)
    t = partial(i18n.translate, lang)
    ctx = {
        "lang": lang,
        "t": t,
        "title": t(title_key),
        "city_name": city.name.get(lang) or next(iter(city.name.values()), city.id),
        "who": who,
        "nav": name.removesuffix(".html"),
        "switch": _switch(p, lang, _here(request)),
        "config": _config(p, lang, page),
        "v": __version__,
    }
    response = templates.TemplateResponse(request, name, ctx)
    response.headers["Content-Security-Policy"] = _csp(p.settings.map_tile_url)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _guarded(
    request: Request, name: str, title_key: str, page: dict[str, Any] | None = None
) -> Response:
    p = _platform(request)
    who = _session(request, p)
    if isinstance(who, str):
        target = f"/login?next={quote(_here(request), safe='')}&reason={quote(who)}"
        return RedirectResponse(target, status_code=303)
    extra = dict(page or {})
    extra.update(
        {
            "can_handle": who.can(Perm.ALERTS_HANDLE),
            "can_export": who.can(Perm.TELEMETRY_EXPORT),
            "username": who.username,
        }
    )
    return _render(request, name, title_key, who, extra)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next_: NextParam = None, reason: str | None = None
) -> HTMLResponse:
    p = _platform(request)
    lang = i18n.choose(request, p.city.languages, p.city.default_language)
    notice = ""
    if reason:
        key = f"reason.{reason}"
        if key not in i18n.catalog(lang):
            key = "reason.default"
        notice = i18n.translate(lang, key, minutes=p.settings.session_idle_minutes)
    return _render(
        request, "login.html", "login.title", None, {"next": safe_next(next_), "notice": notice}
    )


@router.get("/dashboard")
def dashboard(request: Request) -> Response:
    return _guarded(
        request, "dashboard.html", "map.title", {"page_size": PAGE_SIZE, "max_pages": MAX_PAGES}
    )


@router.get("/alerts")
def alerts_page(request: Request) -> Response:
    return _guarded(request, "alerts.html", "alerts.title")


@router.get("/devices/{device_id}")
def device_page(request: Request, device_id: str) -> Response:
    return _guarded(request, "device.html", "device.title", {"device_id": device_id})


@router.get("/lang/{code}")
def set_language(request: Request, code: str, next_: NextParam = None) -> RedirectResponse:
    """Remember the chosen language in a cookie and go back to the page it was chosen on."""
    p = _platform(request)
    response = RedirectResponse(safe_next(next_), status_code=303)
    if code in p.city.languages and code in i18n.available():
        response.set_cookie(
            i18n.LANG_COOKIE,
            code,
            max_age=365 * 86400,
            samesite="lax",
            secure=p.settings.environment == "production",
        )
    return response
