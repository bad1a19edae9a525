"""The HTTP edge (issue 14): cross-site requests with the session cookie, security headers,
/metrics behind a token, dates out of range, oversized and mistyped bodies."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from onecity.app import create_app
from onecity.bootstrap import seed_reference
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.settings import Settings
from tests.conftest import PASSWORD, add_user, login, make_settings

EVIL = "https://evil.example"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(
        db_url,
        modules="waste,roadworks",
        public_origins="https://onecity.example",
        metrics_token="scrape-me-please",
    )


def _cookie_login(client: TestClient, username: str) -> None:
    """Log in the way the dashboard does: the session rides in the cookie only."""
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert client.cookies.get("onecity_session")


# --- CSRF ------------------------------------------------------------------------------------
def test_cross_site_cookie_posts_are_refused(client: TestClient, platform: Platform) -> None:
    """Before: TOTP self-enrolment from evil.example with the victim's cookie succeeded (and
    locked the victim out)."""
    add_user(platform, "epb.crew", "crew", "epb")
    _cookie_login(client, "epb.crew")
    enrol = "/api/v1/users/epb.crew/totp"
    for headers in (
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://sub.testserver"},
        {"Referer": f"{EVIL}/page.html"},
    ):
        r = client.post(enrol, headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.json()["error"] == "csrf_refused"
    with platform.db.read() as s:
        from onecity.core.models import User

        u = s.query(User).filter_by(username="epb.crew").one()
        assert u.totp_secret is None  # nothing changed
    # Logging out from another site is refused too (the session still works).
    assert client.post("/api/v1/auth/logout", headers={"Origin": EVIL}).status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://testserver"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "https://onecity.example"},  # the public name behind the proxy
        {"Referer": "http://testserver/dashboard"},
        {},  # no browser headers at all: not a browser, SameSite=Strict covers old ones
    ],
    ids=["fetch", "origin", "sec-fetch", "public-origin", "referer", "none"],
)
def test_same_origin_cookie_posts_go_through(
    client: TestClient, platform: Platform, headers: dict[str, str]
) -> None:
    add_user(platform, "epb.crew", "crew", "epb")
    _cookie_login(client, "epb.crew")
    r = client.post("/api/v1/users/epb.crew/totp", headers=headers)
    assert r.status_code == 200, r.text


def test_bearer_tokens_are_not_subject_to_the_origin_check(
    client: TestClient, platform: Platform
) -> None:
    add_user(platform, "epb.crew", "crew", "epb")
    auth = login(client, "epb.crew")
    client.cookies.clear()
    r = client.post("/api/v1/users/epb.crew/totp", headers={**auth, "Origin": EVIL})
    assert r.status_code == 200, r.text


def test_login_from_another_site_is_refused(client: TestClient, platform: Platform) -> None:
    """Login CSRF: another site must not log the browser into an account of its choosing."""
    add_user(platform, "epb.crew", "crew", "epb")
    body = {"username": "epb.crew", "password": PASSWORD}
    r = client.post("/api/v1/auth/login", json=body, headers={"Origin": EVIL})
    assert r.status_code == 403 and r.json()["error"] == "csrf_refused"
    assert client.post("/api/v1/auth/login", json=body).status_code == 200


# --- security headers and /metrics -----------------------------------------------------------
def test_api_responses_carry_security_headers(client: TestClient) -> None:
    """Before: none of these on API responses."""
    for path in ("/api/v1/city", "/api/v1/auth/me", "/healthz"):
        h = client.get(path).headers
        assert h["x-content-type-options"] == "nosniff", path
        assert h["x-frame-options"] == "DENY", path
        assert h["referrer-policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in h["content-security-policy"], path
        assert "camera=()" in h["permissions-policy"], path
        assert "strict-transport-security" not in h, path  # not in production


def test_hsts_only_in_production(db_url: str) -> None:
    # Production needs its own secrets: an audit signing key (a 32-byte seed) among them.
    settings = make_settings(
        db_url,
        environment="production",
        metrics_token="t" * 32,
        audit_signing_key=base64.b64encode(bytes(range(32))).decode(),
        card_link_secret="c" * 32,
    )
    p = start_platform(settings)
    seed_reference(p)
    try:
        with TestClient(create_app(settings, p)) as c:
            h = c.get("/healthz").headers
            assert h["strict-transport-security"].startswith("max-age=")
    finally:
        p.db.dispose()


def test_docs_page_policy_allows_exactly_what_it_serves(client: TestClient) -> None:
    """/docs is Swagger UI from vendored files plus one inline script: the policy names the
    script's hash and this server only, no CDN."""
    r = client.get("/docs")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    for src in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', r.text):
        assert src.startswith("/static/"), src  # vendored, same origin
        assert client.get(src).status_code == 200, src
    inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    assert inline
    for code in inline:
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "https:" not in csp and "cdn" not in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_pages_keep_their_own_policy(client: TestClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    assert r.headers["content-security-policy"].count("default-src") == 1
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_metrics_needs_the_token_or_staff(client: TestClient, admin: dict[str, str]) -> None:
    """Before: /metrics answered anyone."""
    client.cookies.clear()  # the admin fixture's login left its cookie
    r = client.get("/metrics")
    assert r.status_code == 401 and r.json()["error"] == "not_logged_in"
    bad = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    assert ok.status_code == 200 and "onecity_http_requests_total" in ok.text
    assert client.get("/metrics", headers=admin).status_code == 200


# --- dates -----------------------------------------------------------------------------------
@pytest.fixture
def staff(client: TestClient, platform: Platform) -> dict[str, str]:
    add_user(platform, "city.admin", "admin", "epb")
    return login(client, "city.admin")


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31", "2101-01-01"])
@pytest.mark.parametrize(
    "path,field",
    [
        ("/api/v1/waste/transactions?day={d}", "day"),
        ("/api/v1/roadworks/monitor?day={d}", "day"),
        ("/api/v1/waste/plans?day={d}", "day"),
        ("/api/v1/waste/reports/summary?from={d}&to=2026-01-01", "from"),
        ("/api/v1/waste/reports/summary.csv?from=2026-01-01&to={d}", "to"),
        ("/api/v1/roadworks/public/works.geojson?day={d}", "day"),
    ],
)
def test_dates_out_of_range_are_422_with_the_field(
    client: TestClient, staff: dict[str, str], path: str, field: str, day: str
) -> None:
    """Before: 9999-12-31 and 0001-01-01 raised OverflowError (500)."""
    r = client.get(path.format(d=day), headers=staff)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_a_date_range_is_ordered_and_bounded(client: TestClient, staff: dict[str, str]) -> None:
    base = "/api/v1/waste/reports/summary"
    r = client.get(f"{base}?from=2026-02-01&to=2026-01-01", headers=staff)
    assert r.status_code == 422 and r.json()["field"] == "to"
    r = client.get(f"{base}?from=2024-01-01&to=2026-01-01", headers=staff)
    assert r.status_code == 422 and r.json()["field"] == "to"
    assert client.get(f"{base}?from=2026-01-01&to=2026-01-31", headers=staff).status_code == 200


def test_dates_in_bodies_are_bounded_too(client: TestClient, staff: dict[str, str]) -> None:
    r = client.post("/api/v1/waste/plans", json={"day": "9999-12-31"}, headers=staff)
    assert r.status_code == 422 and r.json()["field"] == "day", r.text


# --- bodies ----------------------------------------------------------------------------------
def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    yield b'{"username": "x", "password": "'
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size
    yield b'"}'


def test_a_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    """Before: 400 'There was an error parsing the body'."""
    r = client.post(
        "/api/v1/auth/login",
        content=_chunks(5 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "too_large"


def test_a_declared_length_over_the_limit_is_413(client: TestClient) -> None:
    r = client.post(
        "/api/v1/auth/login",
        content=b"x" * (4 * 1024 * 1024 + 1),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_a_json_endpoint_refuses_other_content_types_with_415(client: TestClient) -> None:
    """Before: 422 (the body was taken as a string)."""
    body = b'{"username": "x", "password": "y"}'
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        r = client.post("/api/v1/auth/login", content=body, headers={"content-type": ctype})
        assert r.status_code == 415, (ctype, r.text)
        assert r.json()["error"] == "unsupported_media_type"
    ok = client.post(
        "/api/v1/auth/login",
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 401  # parsed, then refused as wrong credentials


def test_a_multipart_endpoint_refuses_json_with_415(
    client: TestClient, staff: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/roadworks/permits/RW-1/photos",
        json={"stage": "before", "lon": 121.5, "lat": 25.0},
        headers=staff,
    )
    assert r.status_code == 415, r.text
    assert r.json()["error"] == "unsupported_media_type"
