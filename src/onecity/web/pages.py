"""Dashboard pages. Each page is a server-rendered shell in the chosen language; its data comes
from the JSON API in the browser, with the session cookie.

Enabled modules ship pages too (core.modules.Page): `install` puts their templates beside the
web's, merges their strings into the catalogs and builds a route per page, guarded like the
core pages. A page the user's role may not use answers with a clear 403 page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from onecity import __version__
from onecity.core.auth.permissions import Perm, Principal
from onecity.core.deps import PlatformDep
from onecity.core.errors import Unauthenticated
from onecity.core.http import SESSION_COOKIE
from onecity.core.modules import Module, Page
from onecity.core.platform import Platform
from onecity.web import lang as i18n

router = APIRouter(include_in_schema=False)
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# The web shell's own templates; an app with modules renders with app.state.templates.
templates = Jinja2Templates(directory=str(TEMPLATES))

# Where "/" and a login without a `next` go: each user's own landing page (home_for).
HOME = "/"
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
        # The language the city's own data (addresses, station and road names) is written in.
        "data_language": city.default_language,
        "currency": city.currency,
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


@dataclass(frozen=True)
class ModulePage:
    """A module's page as the shell serves it."""

    module: str
    page: Page

    def may_open(self, who: Principal, p: Platform) -> bool:
        return _refusal(who, p, self.page) is None


def _module_pages(request: Request) -> Sequence[ModulePage]:
    got: Sequence[ModulePage] = getattr(request.app.state, "module_pages", ())
    return got


def _templates(request: Request) -> Jinja2Templates:
    got = getattr(request.app.state, "templates", None)
    return got if isinstance(got, Jinja2Templates) else templates


def _refusal(who: Principal, p: Platform, page: Page) -> tuple[str, dict[str, str]] | None:
    """Why `who` may not open `page` (an i18n key and its values), or None if they may."""
    if page.public:
        return None
    if page.permission is not None and not who.can(Perm(page.permission)):
        return "forbidden.permission", {"perm": page.permission}
    if page.check is not None and not page.check(who, p):
        return page.refused or "forbidden.scope", {}
    return None


# The core pages in the header, each with the permission whose data it shows.
CORE_NAV = (
    ("/dashboard", "nav.map", Perm.DEVICES_READ),
    ("/alerts", "nav.alerts", Perm.ALERTS_READ),
)
# A core page that is not always there: the city overview, once its routes are installed.
OVERVIEW = "/overview"
PUBLIC_OVERVIEW = "/city"


def _has_overview(request: Request) -> bool:
    """Whether the city overview's pages are installed (web.overview_pages sets its state)."""
    return getattr(request.app.state, "overview", None) is not None


def _core_links(request: Request, who: Principal) -> list[tuple[str, str]]:
    found = [(href, key) for href, key, perm in CORE_NAV if who.can(perm)]
    if who.can(Perm.DEVICES_READ) and _has_overview(request):
        found.insert(0, (OVERVIEW, "nav.overview"))
    return found


def _offered(request: Request, who: Principal | None) -> list[ModulePage]:
    """The module pages with a header link that `who` may open (anonymous: the public ones)."""
    p = _platform(request)
    return [
        mp
        for mp in _module_pages(request)
        if mp.page.nav
        and "{" not in mp.page.path
        and (mp.page.public if who is None else mp.may_open(who, p))
    ]


def _group_label(t: Callable[..., str], key: str) -> str:
    label = t(f"nav.group.{key}")
    return key if label == f"nav.group.{key}" else label


def _nav(request: Request, who: Principal | None, t: Callable[..., str]) -> list[dict[str, Any]]:
    """The header: the pages this user may open — the same permission table and page checks
    the routes use — grouped by system (the city's core pages first, then each module's, its
    public pages last). A link is marked "page" on its page and "true" on a page under it (a
    card under the card list); a group holding such a link is marked current too."""
    here = request.url.path
    groups: list[tuple[str, list[tuple[str, str, bool]]]] = []
    if who is not None:
        core = [(href, t(key), False) for href, key in _core_links(request, who)]
        if core:
            groups.append(("core", core))
    by_module: dict[str, list[tuple[str, str, bool]]] = {}
    for mp in sorted(_offered(request, who), key=lambda mp: mp.page.public):
        assert mp.page.nav is not None
        by_module.setdefault(mp.module, []).append((mp.page.path, t(mp.page.nav), mp.page.public))
    groups += list(by_module.items())
    out = []
    for key, links in groups:
        items = []
        for href, label, public in links:
            current = "page" if here == href else "true" if here.startswith(href + "/") else None
            items.append({"href": href, "label": label, "current": current, "public": public})
        out.append(
            {
                "key": key,
                "label": _group_label(t, key),
                "links": items,
                "current": any(i["current"] for i in items),
            }
        )
    return out


def home_for(request: Request, who: Principal) -> str | None:
    """Where `who` lands after logging in: a page its module made for this role (the crew's
    job list, a contractor's permits, a citizen's cards), the city overview for city-wide
    roles, the map for staff who see devices, else the first page they may open."""
    offered = _offered(request, who)
    for mp in offered:
        if who.role.value in mp.page.home_for:
            return mp.page.path
    core = [href for href, _key in _core_links(request, who)]
    if OVERVIEW in core and who.city_wide:
        return OVERVIEW
    staff = [href for href in core if href != OVERVIEW]
    if staff:
        return staff[0]
    # A page made for this role before one that is open to everybody.
    for mp in sorted(offered, key=lambda mp: mp.page.public):
        return mp.page.path
    return None


def _render(
    request: Request,
    name: str,
    title_key: str,
    who: Principal | None,
    page: dict[str, Any],
    status_code: int = 200,
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
        "nav": name.removesuffix(".html").replace("/", "-"),
        "groups": _nav(request, who, t),
        # A public page offers the way in; the login page itself does not.
        "login_href": None
        if who is not None or name == "login.html"
        else f"/login?next={quote(_here(request), safe='')}",
        "switch": _switch(p, lang, _here(request)),
        "config": _config(p, lang, page),
        "v": __version__,
    }
    response = _templates(request).TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers["Content-Security-Policy"] = _csp(p.settings.map_tile_url)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _to_login(request: Request, why: str) -> RedirectResponse:
    target = f"/login?next={quote(_here(request), safe='')}&reason={quote(why)}"
    return RedirectResponse(target, status_code=303)


def _page_data(who: Principal, page: dict[str, Any] | None) -> dict[str, Any]:
    extra = dict(page or {})
    extra.update(
        {
            "can_handle": who.can(Perm.ALERTS_HANDLE),
            "can_export": who.can(Perm.TELEMETRY_EXPORT),
            "can": sorted(perm.value for perm in Perm if who.can(perm)),
            "username": who.username,
        }
    )
    return extra


def _forbidden(
    request: Request, who: Principal, title_key: str, why: tuple[str, dict[str, str]]
) -> HTMLResponse:
    """403 as a page a person can read: what they tried to open, why not, and where to go."""
    lang = i18n.choose(
        request, _platform(request).city.languages, _platform(request).city.default_language
    )
    key, values = why
    page = {
        "denied": i18n.translate(lang, title_key),
        "reason": i18n.translate(lang, key, **values),
        "home": home_for(request, who),
    }
    return _render(request, "forbidden.html", "forbidden.title", who, _page_data(who, page), 403)


def _guarded(
    request: Request,
    name: str,
    title_key: str,
    page: dict[str, Any] | None = None,
    perm: Perm | None = None,
) -> Response:
    p = _platform(request)
    who = _session(request, p)
    if isinstance(who, str):
        return _to_login(request, who)
    if perm is not None and not who.can(perm):
        return _forbidden(request, who, title_key, ("forbidden.permission", {"perm": perm.value}))
    return _render(request, name, title_key, who, _page_data(who, page))


def _serve_module_page(request: Request, entry: ModulePage) -> Response:
    p = _platform(request)
    page = entry.page
    data: dict[str, Any] = {"module": entry.module, **request.path_params}
    who = _session(request, p)
    if page.public:
        principal = who if isinstance(who, Principal) else None
        extra = _page_data(principal, data) if principal else data
        return _render(request, page.template, page.title, principal, extra)
    if isinstance(who, str):
        return _to_login(request, who)
    why = _refusal(who, p, page)
    if why is not None:
        return _forbidden(request, who, page.title, why)
    return _render(request, page.template, page.title, who, _page_data(who, data))


def _check_page(module: Module, page: Page) -> None:
    """Mistakes in a module's pages stop the start-up, with the module and page named."""
    where = f"module '{module.name}' page {page.path}"
    if not (page.path == f"/{module.name}" or page.path.startswith(f"/{module.name}/")):
        raise ValueError(f"{where}: module pages live under /{module.name}/")
    if not page.template.startswith(f"{module.name}/"):
        raise ValueError(f"{where}: the template must be under '{module.name}/' in its folder")
    if module.templates is None or not (module.templates / page.template).is_file():
        raise ValueError(f"{where}: no template {page.template} in {module.templates}")
    if page.permission is not None and page.permission not in {p.value for p in Perm}:
        raise ValueError(f"{where}: unknown permission '{page.permission}'")
    for key in (page.title, page.nav, page.refused):
        if key is not None and key not in i18n.catalog("en"):
            raise ValueError(f"{where}: no string '{key}' in the catalogs")


def _handler(entry: ModulePage) -> Callable[[Request], Response]:
    def serve(request: Request) -> Response:
        return _serve_module_page(request, entry)

    serve.__name__ = f"{entry.module}_page"
    return serve


def install(app: FastAPI, modules: Sequence[Module]) -> None:
    """Serve the enabled modules' pages: their templates beside the web's (a ChoiceLoader, the
    web's first so "base.html" is always the shell's), their strings in the catalogs, one route
    per page. Their static folders are mounted by the app (at /static/<module>/)."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(TEMPLATES)]
    entries: list[ModulePage] = []
    for m in modules:
        if m.i18n is not None:
            i18n.add_catalogs(m.name, m.i18n)
        if m.templates is not None:
            loaders.append(jinja2.FileSystemLoader(m.templates))
        if m.static is not None and (STATIC / m.name).exists():
            raise ValueError(f"module '{m.name}': /static/{m.name} is taken by the web shell")
        for page in m.pages:
            _check_page(m, page)
            entries.append(ModulePage(m.name, page))
    paths = [e.page.path for e in entries]
    if len(set(paths)) != len(paths):
        raise ValueError(f"two module pages share a path: {sorted(paths)}")
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders), autoescape=jinja2.select_autoescape()
    )
    app.state.templates = Jinja2Templates(env=env)
    app.state.module_pages = tuple(entries)
    # The city map's overlays from the enabled modules (e.g. road works), drawn on /dashboard.
    app.state.map_layers = tuple(layer for m in modules for layer in m.layers)
    pages = APIRouter(include_in_schema=False)
    for entry in entries:
        pages.add_api_route(
            entry.page.path,
            _handler(entry),
            methods=["GET"],
            response_class=HTMLResponse,
            name=f"{entry.module}:{entry.page.path}",
        )
    app.include_router(pages)


@router.get("/")
def root(request: Request, p: PlatformDep) -> Response:
    """A logged-in user's landing page; anyone else gets the public city page when the city
    overview is installed, else the login page."""
    who = _session(request, p)
    if isinstance(who, str):
        if _has_overview(request):
            return RedirectResponse(PUBLIC_OVERVIEW, status_code=303)
        return _to_login(request, who)
    home = home_for(request, who)
    if home is None:
        return _forbidden(request, who, "app.dashboard", ("forbidden.no_home", {}))
    return RedirectResponse(home, status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, p: PlatformDep, next_: NextParam = None, reason: str | None = None
) -> HTMLResponse:
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
def dashboard(request: Request, p: PlatformDep) -> Response:
    """The city map; a role that cannot see devices (a citizen) goes to the first page it can
    use instead of a map full of refusals."""
    who = _session(request, p)
    if isinstance(who, str):
        return _to_login(request, who)
    if not who.can(Perm.DEVICES_READ):
        home = home_for(request, who)
        if home is not None:
            return RedirectResponse(home, status_code=303)
        why = ("forbidden.permission", {"perm": Perm.DEVICES_READ.value})
        return _forbidden(request, who, "map.title", why)
    layers = [
        {"id": layer.id, "title": layer.title, "url": layer.geojson_url}
        for layer in getattr(request.app.state, "map_layers", ())
    ]
    page = _page_data(who, {"page_size": PAGE_SIZE, "max_pages": MAX_PAGES, "layers": layers})
    return _render(request, "dashboard.html", "map.title", who, page)


@router.get("/alerts")
def alerts_page(request: Request) -> Response:
    return _guarded(request, "alerts.html", "alerts.title", perm=Perm.ALERTS_READ)


@router.get("/devices/{device_id}")
def device_page(request: Request, device_id: str) -> Response:
    return _guarded(
        request, "device.html", "device.title", {"device_id": device_id}, Perm.DEVICES_READ
    )


@router.get("/lang/{code}")
def set_language(code: str, p: PlatformDep, next_: NextParam = None) -> RedirectResponse:
    """Remember the chosen language in a cookie and go back to the page it was chosen on."""
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
