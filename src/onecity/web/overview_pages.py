"""The city overview's pages: /overview for staff (every card their role may see) and /city
for citizens (the public cards, no login). Both draw the cards the enabled modules declare
(core.overview) from the JSON API, on one shared map, kept current by server push.

`install(app)` is called where the app mounts its pages, after `pages.install` (it reads the
enabled modules from app.state): it checks the cards, keeps the Overview on app.state and
adds the overview's API and page routes."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from onecity.core import overview_api
from onecity.core.overview import Card, Overview, check_cards
from onecity.core.platform import Platform
from onecity.web import lang as i18n
from onecity.web import pages

router = APIRouter(include_in_schema=False)


def _page(public: bool) -> dict[str, object]:
    api = "/api/v1/overview/public" if public else "/api/v1/overview"
    return {
        "public": public,
        "api": api,
        "stream": "/api/v1/overview/public/stream",
        "login": "/login?next=%2Foverview",
    }


@router.get("/overview", response_class=HTMLResponse)
def staff_overview(request: Request) -> Response:
    """Every card the signed-in role may see (a role with none still gets the public ones)."""
    p: Platform = request.app.state.platform
    who = pages._session(request, p)
    if isinstance(who, str):
        return pages._to_login(request, who)
    data = pages._page_data(who, _page(public=False))
    return pages._render(request, "overview.html", "overview.title", who, data)


@router.get("/city", response_class=HTMLResponse)
def public_overview(request: Request) -> Response:
    """The city at a glance for everybody: the public cards only, whoever is signed in."""
    p: Platform = request.app.state.platform
    who = pages._session(request, p)
    principal = None if isinstance(who, str) else who
    data = _page(public=True)
    if principal is not None:
        data = pages._page_data(principal, data)
    return pages._render(request, "overview_public.html", "overview.city.title", principal, data)


def install(app: FastAPI) -> None:
    cards: list[Card] = [c for m in app.state.modules for c in m.cards]
    check_cards(cards, i18n.catalog("en"))
    for lang in i18n.available():
        missing = [
            k for c in cards for k in (c.title, c.source, c.live) if k not in i18n.catalog(lang)
        ]
        if missing:
            raise ValueError(f"overview cards: no {lang} string for {missing[0]}")
    app.state.overview = Overview(app.state.platform, cards)
    app.include_router(overview_api.router)
    app.include_router(router)
