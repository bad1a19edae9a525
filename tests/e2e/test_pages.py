"""The dashboard's pages over plain HTTP: login gate, language choice, string catalogs, and
that nothing a page loads comes from another site."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from onecity.app import create_app
from onecity.core.auth.permissions import Role
from onecity.core.modules import start_platform
from onecity.web.pages import safe_next

from .conftest import PASSWORD, LiveServer

WEB = Path(__file__).resolve().parents[2] / "src" / "onecity" / "web"
PAGES = ["/login", "/dashboard", "/alerts", "/devices/{device}"]
URL = re.compile(r"https?://[^\s\"'<>()]+", re.IGNORECASE)
# What may look like a URL without being one the browser fetches.
NOT_FETCHED = {
    "http://www.w3.org/2000/svg",  # the SVG XML namespace, an identifier
}
# Leaflet's default attribution prefix links to its site; the dashboard turns the prefix off
# (attributionControl.setPrefix(false)) so it is never shown, but the vendored file keeps it.
VENDOR_ONLY = {"/static/vendor/leaflet/leaflet.js": {"https://leafletjs.com"}}


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "poster", "srcset") and value:
                self.refs.append(value)


@contextmanager
def _session(live: LiveServer, username: str = "admin") -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=10) as c:
        r = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield c


def _external(text: str, path: str) -> list[str]:
    if path.endswith(".css"):
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)  # comments are not fetched
    allowed = NOT_FETCHED | VENDOR_ONLY.get(path, set())
    return [u for u in URL.findall(text) if u.rstrip("/.,;") not in allowed]


def test_root_and_pages_need_a_session(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as c:
        # Without a session "/" is the public city page.
        assert c.get("/").headers["location"] == "/city"
        for path in ("/dashboard", "/alerts", "/devices/x"):
            r = c.get(path)
            assert r.status_code == 303
            q = parse_qs(urlsplit(r.headers["location"]).query)
            assert urlsplit(r.headers["location"]).path == "/login"
            assert q == {"next": [path], "reason": ["not_logged_in"]}


def test_idle_session_sends_you_to_login_with_the_reason(live_server: LiveServer) -> None:
    with _session(live_server, "police.supervisor") as c:
        assert c.get("/alerts").status_code == 200
        live_server.age_sessions("police.supervisor", 31)
        r = c.get("/alerts")
        assert r.status_code == 303
        assert "reason=session_idle" in r.headers["location"]
        assert c.get("/api/v1/alerts").json()["error"] == "session_idle"
        page = c.get(r.headers["location"]).text
        assert "閒置超過 30 分鐘" in page


def test_language_is_the_city_default_then_the_cookie(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as c:
        zh = c.get("/login").text
        assert '<html lang="zh-TW">' in zh and "臺北市" in zh and "帳號" in zh
        r = c.get("/lang/en", params={"next": "/login?x=1"})
        assert r.status_code == 303 and r.headers["location"] == "/login?x=1"
        assert c.cookies.get("onecity_lang") == "en"
        en = c.get("/login").text
        assert '<html lang="en">' in en and "Taipei City" in en and "Username" in en
        # An unknown language changes nothing; another site is never a place to go back to.
        r = c.get("/lang/xx", params={"next": "https://example.org/"})
        assert r.headers["location"] == "/"  # each user's own landing page
        assert c.cookies.get("onecity_lang") == "en"


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        (None, "/"),
        ("/alerts?state=open", "/alerts?state=open"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_safe_next(raw: str | None, want: str) -> None:
    assert safe_next(raw) == want


def test_no_page_loads_anything_from_another_site(live_server: LiveServer) -> None:
    device = live_server.bins()[0]
    with _session(live_server) as c:
        seen: set[str] = set()
        queue: list[str] = []
        for page in PAGES:
            path = page.format(device=device)
            r = c.get(path)
            assert r.status_code == 200, path
            assert _external(r.text, path) == [], path
            csp = r.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "http" not in csp
            parser = _Refs()
            parser.feed(r.text)
            queue += [urljoin(path, ref) for ref in parser.refs]
        while queue:
            ref = queue.pop()
            parts = urlsplit(ref)
            assert not parts.scheme and not parts.netloc, ref
            if parts.path in seen or not parts.path.startswith("/static/"):
                continue
            seen.add(parts.path)
            r = c.get(ref)
            assert r.status_code == 200, ref
            if parts.path.endswith((".js", ".css", ".svg")):
                assert _external(r.text, parts.path) == [], parts.path
            if parts.path.endswith(".css"):
                for inner in re.findall(r"url\(\s*['\"]?([^'\")]+)", r.text):
                    if not inner.startswith("data:"):
                        queue.append(urljoin(ref, inner))
        assert {
            "/static/app.css",
            "/static/js/core.js",
            "/static/vendor/leaflet/leaflet.js",
            "/static/vendor/leaflet/images/layers.png",
        } <= seen


def test_a_configured_tile_server_is_the_only_outside_address(live_server: LiveServer) -> None:
    tiles = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    settings = live_server.platform.settings.model_copy(
        update={"map_tile_url": tiles, "run_workers": False}
    )
    app = create_app(settings, start_platform(settings, live_server.platform.db))
    with TestClient(app, base_url="http://testserver") as c:
        r = c.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200
        page = c.get("/dashboard")
        assert (
            "img-src 'self' data: https://*.tiles.example.org"
            in (page.headers["content-security-policy"])
        )
        assert json.dumps(tiles) in page.text
        assert [
            u
            for u in _external(page.text, "/dashboard")
            if not u.startswith("https://{s}.tiles.example.org")
        ] == []


def _catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((WEB / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def test_both_languages_have_every_string() -> None:
    en, zh = _catalog("en"), _catalog("zh-TW")
    assert set(en) == set(zh)
    for key in en:
        assert en[key].strip() and zh[key].strip(), key
        holes = re.compile(r"\{(\w+)\}")
        assert set(holes.findall(en[key])) == set(holes.findall(zh[key])), key
    used: set[str] = set()
    for tpl in (WEB / "templates").glob("*.html"):
        used |= set(re.findall(r"\bt\('([\w.]+)'", tpl.read_text("utf-8")))
    for js in (WEB / "static" / "js").glob("*.js"):
        # t("sev." + a.severity) is a family, listed below; only whole keys here.
        used |= set(re.findall(r"\bt\(\"([\w.]+)\"(?!\s*\+)", js.read_text("utf-8")))
    # Keys built at run time from API values.
    for family, values in {
        "sev": ["info", "warning", "critical"],
        "conn": ["online", "offline", "unknown"],
        "state": ["open", "acknowledged", "resolved", "active"],
        "status": ["active", "maintenance", "retired"],
        "alerts.done": ["acknowledge", "resolve"],
        "reason": [
            "session_idle",
            "session_expired",
            "session_ended",
            "bad_token",
            "not_logged_in",
            "logged_out",
            "default",
        ],
        "fresh": ["live", "stale", "live_hint", "stale_hint"],
        "role": [r.value for r in Role],
    }.items():
        sep = "_" if family == "alerts.done" else "."
        used |= {f"{family}{sep}{v}" for v in values}
    assert used - set(en) == set()
    assert len(used) > 80
