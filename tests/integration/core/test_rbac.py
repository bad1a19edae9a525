"""Who may do what, over HTTP, for every role and every endpoint group, on both databases.

The matrix below is the access policy written out by hand, not read from the code under test:
if someone widens or narrows a role in permissions.py, this test says which door moved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from onecity.app import create_app
from onecity.core import alerts
from onecity.core.models import Open311Request
from onecity.core.platform import Platform
from tests.conftest import add_user, login, serving

ROLES = [
    "admin",
    "operator",
    "crew",
    "officer",
    "supervisor",
    "dispatcher",
    "contractor",
    "school_guard",
    "citizen",
]

# Y = allowed (2xx), - = refused (403). Columns in the order of ROLES.
MATRIX = """
endpoint          admin operator crew officer supervisor dispatcher contractor school_guard citizen
users.list          Y      -      -     -        -          -          -           -         -
users.create        Y      -      -     -        -          -          -           -         -
users.set_role      Y      -      -     -        -          -          -           -         -
users.totp_other    Y      -      -     -        -          -          -           -         -
users.totp_self     Y      Y      Y     Y        Y          Y          Y           Y         Y
auth.me             Y      Y      Y     Y        Y          Y          Y           Y         Y
devices.list        Y      Y      Y     Y        Y          Y          Y           Y         -
devices.get         Y      Y      Y     Y        Y          Y          Y           Y         -
devices.create      Y      Y      -     -        Y          -          -           -         -
devices.patch       Y      Y      -     -        Y          -          -           -         -
keys.issue          Y      Y      -     -        -          -          -           -         -
keys.list           Y      Y      -     -        -          -          -           -         -
keys.revoke         Y      Y      -     -        -          -          -           -         -
telemetry.read      Y      Y      Y     Y        Y          Y          -           -         -
telemetry.export    Y      -      -     -        Y          -          -           -         -
alerts.list         Y      Y      Y     Y        Y          Y          -           Y         -
alerts.ack          Y      Y      Y     -        Y          Y          -           Y         -
alerts.resolve      Y      Y      Y     -        Y          Y          -           Y         -
rules.list          Y      Y      Y     Y        Y          Y          -           Y         -
rules.create        Y      -      -     -        Y          -          -           -         -
audit.list          Y      -      -     -        -          -          -           -         -
audit.verify        Y      -      -     -        -          -          -           -         -
ngsi.query          Y      Y      Y     Y        Y          Y          Y           Y         -
ngsi.get            Y      Y      Y     Y        Y          Y          Y           Y         -
events.stream       Y      Y      Y     Y        Y          Y          Y           Y         Y
open311.update      Y      Y      Y     -        Y          Y          -           -         -
webhooks.list       Y      Y      -     -        Y          -          -           -         -
webhooks.create     Y      Y      -     -        Y          -          -           -         -
webhooks.pause      Y      Y      -     -        Y          -          -           -         -
webhooks.rotate     Y      Y      -     -        Y          -          -           -         -
webhooks.delete     Y      Y      -     -        Y          -          -           -         -
auth.logout         Y      Y      Y     Y        Y          Y          Y           Y         Y
"""

# Which route each matrix row exercises, as the OpenAPI schema names it (method, path).
ROUTES: dict[str, tuple[str, str]] = {
    "users.list": ("GET", "/api/v1/users"),
    "users.create": ("POST", "/api/v1/users"),
    "users.set_role": ("PUT", "/api/v1/users/{username}/role"),
    "users.totp_other": ("POST", "/api/v1/users/{username}/totp"),
    "users.totp_self": ("POST", "/api/v1/users/{username}/totp"),
    "auth.me": ("GET", "/api/v1/auth/me"),
    "devices.list": ("GET", "/api/v1/devices"),
    "devices.get": ("GET", "/api/v1/devices/{device_id}"),
    "devices.create": ("POST", "/api/v1/devices"),
    "devices.patch": ("PATCH", "/api/v1/devices/{device_id}"),
    "keys.issue": ("POST", "/api/v1/devices/{device_id}/keys"),
    "keys.list": ("GET", "/api/v1/devices/{device_id}/keys"),
    "keys.revoke": ("DELETE", "/api/v1/devices/{device_id}/keys/{key_id}"),
    "telemetry.read": ("GET", "/api/v1/devices/{device_id}/telemetry"),
    "telemetry.export": ("GET", "/api/v1/devices/{device_id}/telemetry.csv"),
    "alerts.list": ("GET", "/api/v1/alerts"),
    "alerts.ack": ("POST", "/api/v1/alerts/{alert_id}/acknowledge"),
    "alerts.resolve": ("POST", "/api/v1/alerts/{alert_id}/resolve"),
    "rules.list": ("GET", "/api/v1/alert-rules"),
    "rules.create": ("POST", "/api/v1/alert-rules"),
    "audit.list": ("GET", "/api/v1/audit"),
    "audit.verify": ("GET", "/api/v1/audit/verify"),
    "ngsi.query": ("GET", "/ngsi-ld/v1/entities"),
    "ngsi.get": ("GET", "/ngsi-ld/v1/entities/{entity_id}"),
    "events.stream": ("GET", "/api/v1/events/stream"),
    "open311.update": ("PATCH", "/api/v1/open311/requests/{request_id}"),
    "webhooks.list": ("GET", "/api/v1/webhooks"),
    "webhooks.create": ("POST", "/api/v1/webhooks"),
    "webhooks.pause": ("PATCH", "/api/v1/webhooks/{webhook_id}"),
    "webhooks.rotate": ("POST", "/api/v1/webhooks/{webhook_id}/secret"),
    "webhooks.delete": ("DELETE", "/api/v1/webhooks/{webhook_id}"),
    "auth.logout": ("POST", "/api/v1/auth/logout"),
}

# Routes deliberately outside the matrix, each with the reason. Anything else the app serves
# must have a matrix row, so a new endpoint cannot slip past this test unexamined.
_CARDS = "any session; each card says who sees it (per role: tests/integration/test_overview_api)"
_PUBLIC = "public cards only, no session (anonymous: tests/integration/test_overview_api)"
EXEMPT: dict[tuple[str, str], str] = {
    (
        "GET",
        "/api/v1/overview",
    ): _CARDS,
    (
        "GET",
        "/api/v1/overview/cards/{card_id}",
    ): _CARDS,
    (
        "GET",
        "/api/v1/overview/cards/{card_id}/history",
    ): _CARDS,
    (
        "GET",
        "/api/v1/overview/cards/{card_id}/history.csv",
    ): _CARDS,
    (
        "GET",
        "/api/v1/overview/cards/{card_id}/map.geojson",
    ): _CARDS,
    (
        "GET",
        "/api/v1/overview/public",
    ): _PUBLIC,
    (
        "GET",
        "/api/v1/overview/public/cards/{card_id}",
    ): _PUBLIC,
    (
        "GET",
        "/api/v1/overview/public/cards/{card_id}/history",
    ): _PUBLIC,
    (
        "GET",
        "/api/v1/overview/public/cards/{card_id}/history.csv",
    ): _PUBLIC,
    (
        "GET",
        "/api/v1/overview/public/cards/{card_id}/map.geojson",
    ): _PUBLIC,
    (
        "GET",
        "/api/v1/overview/public/stream",
    ): _PUBLIC,
    ("GET", "/healthz"): "public liveness probe, no session",
    ("GET", "/readyz"): "public readiness probe, no session",
    ("GET", "/metrics"): "the scraper's bearer token (ONECITY_METRICS_TOKEN) or audit:read "
    "(tests/integration/core/test_edge_guards.py)",
    ("GET", "/api/v1/city"): "public city description the login page needs",
    ("GET", "/api/v1/geo/districts"): "public district boundaries (map base layer)",
    ("GET", "/api/v1/geo/place"): "public place lookup on the city's own geodata",
    ("POST", "/api/v1/auth/login"): "public by nature: it is how a session starts",
    ("GET", "/media/{media_id}"): "public photos of public Open311 reports, named by their "
    "content's SHA-256 (tests/integration/waste/test_station_reports.py)",
    ("POST", "/api/v1/telemetry"): "devices authenticate with a device key, not a role "
    "(tests/integration/core/test_telemetry.py)",
}


def _expected() -> dict[str, dict[str, bool]]:
    lines = [ln.split() for ln in MATRIX.strip().splitlines()]
    header, rows = lines[0][1:], lines[1:]
    assert header == ROLES
    return {role: {r[0]: r[1 + i] == "Y" for r in rows} for i, role in enumerate(ROLES)}


EXPECTED = _expected()
POINT = {"type": "Point", "coordinates": [121.5645, 25.0375]}


@dataclass
class World:
    """Things each role's requests act on, made fresh for that role so writes do not collide."""

    role: str
    key_id: str
    alert_ack: int
    alert_resolve: int
    report: int  # a citizen's Open311 report in the epb queue
    webhook: int  # an epb webhook the admin made
    base_url: str  # a real server on the same database, for the endless SSE stream


def _device(client: TestClient, admin: dict[str, str], device_id: str, dept: str) -> None:
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": device_id,
            "name": device_id,
            "type": "litter_bin",
            "department": dept,
            "location": POINT,
        },
    )
    assert r.status_code == 201, r.text


def _alert(platform: Platform, device_id: str, tag: str) -> int:
    with platform.db.session() as s:
        got = alerts.open_alert(
            s,
            device_id=device_id,
            department="epb",
            kind="threshold",
            dedupe_key=tag,
            severity="warning",
            message=tag,
        )
    assert got is not None
    return got


def _world(
    client: TestClient, admin: dict[str, str], platform: Platform, role: str, base_url: str
) -> World:
    k = client.post("/api/v1/devices/bin-1/keys", headers=admin, json={"label": role})
    assert k.status_code == 201, k.text
    return World(
        role,
        k.json()["key_id"],
        _alert(platform, "bin-1", f"{role}:a"),
        _alert(platform, "bin-1", f"{role}:r"),
        _report(platform, role),
        _webhook(client, admin),
        base_url,
    )


def _webhook(client: TestClient, admin: dict[str, str]) -> int:
    r = client.post(
        "/api/v1/webhooks",
        headers=admin,
        json={"url": "https://example.org/hook", "event_types": ["waste.job"], "department": "epb"},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _report(platform: Platform, role: str) -> int:
    with platform.db.session() as s:
        row = Open311Request(
            service_code="pothole", department_code="epb", description=f"for {role}"
        )
        s.add(row)
        s.flush()
        return int(row.id)


def _open_stream(w: World, h: dict[str, str]) -> Response:
    with httpx.stream("GET", f"{w.base_url}/api/v1/events/stream", headers=h, timeout=5) as r:
        if r.status_code != 200:
            r.read()
            return httpx.Response(r.status_code, content=r.content)
        assert r.headers["content-type"].startswith("text/event-stream")
        first = next(r.iter_text())
        assert "event: hello" in first, first
        return httpx.Response(200, text=first)


Call = Callable[[TestClient, dict[str, str], World], Response]

CALLS: dict[str, tuple[Call, int]] = {
    "users.list": (lambda c, h, w: c.get("/api/v1/users", headers=h), 200),
    "users.create": (
        lambda c, h, w: c.post(
            "/api/v1/users",
            headers=h,
            json={
                "username": f"new.{w.role}",
                "password": "a-long-password",
                "role": "crew",
                "department": "epb",
            },
        ),
        201,
    ),
    "users.set_role": (
        lambda c, h, w: c.put(
            "/api/v1/users/target.user/role",
            headers=h,
            json={"role": "officer", "department": "police"},
        ),
        200,
    ),
    # Someone else's second factor: an administrator's job.
    "users.totp_other": (lambda c, h, w: c.post("/api/v1/users/target.user/totp", headers=h), 200),
    # One's own, while none is enrolled yet: anyone may (replacing one is refused, see
    # test_auth.py's test_self_enrolment_cannot_replace_an_existing_factor).
    "users.totp_self": (lambda c, h, w: c.post(f"/api/v1/users/the.{w.role}/totp", headers=h), 200),
    "auth.me": (lambda c, h, w: c.get("/api/v1/auth/me", headers=h), 200),
    "devices.list": (lambda c, h, w: c.get("/api/v1/devices", headers=h), 200),
    "devices.get": (lambda c, h, w: c.get("/api/v1/devices/bin-1", headers=h), 200),
    "devices.create": (
        lambda c, h, w: c.post(
            "/api/v1/devices",
            headers=h,
            json={"id": f"new-{w.role}", "name": "n", "type": "litter_bin", "department": "epb"},
        ),
        201,
    ),
    "devices.patch": (
        lambda c, h, w: c.patch(
            "/api/v1/devices/bin-1", headers=h, json={"name": f"renamed by {w.role}"}
        ),
        200,
    ),
    "keys.issue": (lambda c, h, w: c.post("/api/v1/devices/bin-1/keys", headers=h, json={}), 201),
    "keys.list": (lambda c, h, w: c.get("/api/v1/devices/bin-1/keys", headers=h), 200),
    "keys.revoke": (
        lambda c, h, w: c.delete(f"/api/v1/devices/bin-1/keys/{w.key_id}", headers=h),
        204,
    ),
    "telemetry.read": (
        lambda c, h, w: c.get("/api/v1/devices/bin-1/telemetry", headers=h, params={"key": "fill"}),
        200,
    ),
    "telemetry.export": (
        lambda c, h, w: c.get(
            "/api/v1/devices/bin-1/telemetry.csv", headers=h, params={"key": "fill"}
        ),
        200,
    ),
    "alerts.list": (lambda c, h, w: c.get("/api/v1/alerts", headers=h), 200),
    "alerts.ack": (
        lambda c, h, w: c.post(f"/api/v1/alerts/{w.alert_ack}/acknowledge", headers=h),
        200,
    ),
    "alerts.resolve": (
        lambda c, h, w: c.post(f"/api/v1/alerts/{w.alert_resolve}/resolve", headers=h),
        200,
    ),
    "rules.list": (lambda c, h, w: c.get("/api/v1/alert-rules", headers=h), 200),
    "rules.create": (
        lambda c, h, w: c.post(
            "/api/v1/alert-rules",
            headers=h,
            json={
                "name": w.role,
                "key": "fill",
                "direction": "above",
                "raise_at": 1,
                "clear_at": 0.5,
            },
        ),
        201,
    ),
    "audit.list": (lambda c, h, w: c.get("/api/v1/audit", headers=h), 200),
    "audit.verify": (lambda c, h, w: c.get("/api/v1/audit/verify", headers=h), 200),
    "ngsi.query": (
        lambda c, h, w: c.get("/ngsi-ld/v1/entities", headers=h, params={"type": "Device"}),
        200,
    ),
    "ngsi.get": (
        lambda c, h, w: c.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Device:bin-1", headers=h),
        200,
    ),
    "events.stream": (lambda c, h, w: _open_stream(w, h), 200),
    "open311.update": (
        lambda c, h, w: c.patch(
            f"/api/v1/open311/requests/{w.report}", headers=h, json={"status": "closed"}
        ),
        200,
    ),
    "webhooks.list": (lambda c, h, w: c.get("/api/v1/webhooks", headers=h), 200),
    # Omitting the department binds the hook to the caller's own (epb).
    "webhooks.create": (
        lambda c, h, w: c.post(
            "/api/v1/webhooks",
            headers=h,
            json={"url": "https://example.org/hook", "event_types": ["waste.job"]},
        ),
        201,
    ),
    "webhooks.pause": (
        lambda c, h, w: c.patch(f"/api/v1/webhooks/{w.webhook}", headers=h, json={"active": False}),
        200,
    ),
    "webhooks.rotate": (
        lambda c, h, w: c.post(f"/api/v1/webhooks/{w.webhook}/secret", headers=h),
        200,
    ),
    "webhooks.delete": (
        lambda c, h, w: c.delete(f"/api/v1/webhooks/{w.webhook}", headers=h),
        204,
    ),
    # Ends the session the other rows use, so test_role_matrix runs it last.
    "auth.logout": (lambda c, h, w: c.post("/api/v1/auth/logout", headers=h), 204),
}


def test_matrix_rows_calls_and_routes_agree() -> None:
    assert set(CALLS) == set(EXPECTED["admin"]) == set(ROUTES)


def test_every_route_is_in_the_matrix_or_exempt(platform: Platform) -> None:
    """The routes come from the application itself, not from a list kept beside this one."""
    schema = create_app(platform.settings, platform).openapi()
    served = {
        (method.upper(), path)
        for path, ops in schema["paths"].items()
        for method in ops
        if method in {"get", "post", "put", "patch", "delete", "head", "options"}
    }
    assert served, "the app serves no routes?"
    covered = set(ROUTES.values())
    missing = served - covered - set(EXEMPT)
    assert missing == set(), f"routes with no row in MATRIX and no exemption: {sorted(missing)}"
    assert covered & set(EXEMPT) == set(), "a route is both in the matrix and exempt"
    gone = (covered | set(EXEMPT)) - served
    assert gone == set(), f"MATRIX or EXEMPT names routes the app no longer serves: {sorted(gone)}"


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(
    client: TestClient, admin: dict[str, str], platform: Platform, role: str
) -> None:
    _device(client, admin, "bin-1", "epb")
    add_user(platform, "target.user", "crew", "epb")
    add_user(platform, f"the.{role}", role, None if role == "citizen" else "epb")
    who = login(client, f"the.{role}")
    wrong: dict[str, str] = {}
    with serving(create_app(platform.settings, platform)) as base_url:
        world = _world(client, admin, platform, role, base_url)
        for name in sorted(CALLS, key=lambda n: n == "auth.logout"):  # logout last
            call, ok_status = CALLS[name]
            r = call(client, who, world)
            want = ok_status if EXPECTED[role][name] else 403
            if r.status_code != want:
                wrong[name] = f"expected {want}, got {r.status_code}: {r.text[:120]}"
            elif want == 403:
                body = r.json()
                if name.startswith("ngsi."):  # a ProblemDetails that keeps the same three
                    assert body["type"] == "about:blank" and body["status"] == 403
                    body = {k: body[k] for k in ("error", "detail", "field")}
                assert body == {"error": "forbidden", "detail": body["detail"], "field": None}
                assert role in body["detail"]
    assert wrong == {}


SAMPLE = [
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/devices"),
    ("GET", "/api/v1/devices/bin-1"),
    ("POST", "/api/v1/devices/bin-1/keys"),
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/audit/verify"),
    ("GET", "/ngsi-ld/v1/entities?type=Device"),
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/logout"),
]


def test_no_token_is_401_with_challenge(client: TestClient) -> None:
    client.cookies.clear()
    for method, url in SAMPLE:
        r = client.request(method, url)
        assert r.status_code == 401, (url, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"] == "not_logged_in"
        keys = {"error", "detail", "field"}
        if url.startswith("/ngsi-ld/"):  # ProblemDetails
            keys |= {"type", "title", "status"}
        assert set(r.json()) == keys


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz"])
def test_bad_token_is_401(client: TestClient, admin: dict[str, str], header: str) -> None:
    client.cookies.clear()
    for method, url in SAMPLE:
        r = client.request(method, url, headers={"Authorization": header})
        assert r.status_code == 401, (url, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"] in {"bad_token", "not_logged_in"}


def test_session_cookie_works_like_the_bearer_token(client: TestClient, platform: Platform) -> None:
    add_user(platform, "epb.crew", "crew", "epb")
    login(client, "epb.crew")  # the client keeps the HttpOnly cookie the login set
    assert client.get("/api/v1/auth/me").json()["username"] == "epb.crew"
    assert client.get("/api/v1/users").status_code == 403


def test_department_scoping(client: TestClient, admin: dict[str, str], platform: Platform) -> None:
    _device(client, admin, "bin-1", "epb")
    _device(client, admin, "cam-9", "police")
    police_alert = _alert(platform, "cam-9", "p")
    add_user(platform, "epb.op", "operator", "epb")
    op = login(client, "epb.op")

    listed = client.get("/api/v1/devices", headers=op).json()
    assert [d["id"] for d in listed["items"]] == ["bin-1"] and listed["total"] == 1
    assert (
        client.get("/api/v1/devices", headers=op, params={"department": "police"}).json()["items"]
        == []
    )
    for method, url in [
        ("GET", "/api/v1/devices/cam-9"),
        ("PATCH", "/api/v1/devices/cam-9"),
        ("GET", "/api/v1/devices/cam-9/keys"),
        ("POST", "/api/v1/devices/cam-9/keys"),
        ("GET", "/api/v1/devices/cam-9/telemetry?key=fill"),
        ("POST", f"/api/v1/alerts/{police_alert}/acknowledge"),
        ("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Device:cam-9"),
    ]:
        r = client.request(method, url, headers=op, json={} if method != "GET" else None)
        assert r.status_code == 404, (url, r.text)
        assert "cam-9" in r.text or str(police_alert) in r.text
    # A missing device and another department's device look the same from outside.
    assert client.get("/api/v1/devices/nope", headers=op).json()["detail"] == "no device 'nope'"
    assert client.get("/api/v1/devices/cam-9", headers=op).json()["detail"] == "no device 'cam-9'"
    r = client.post(
        "/api/v1/devices",
        headers=op,
        json={"id": "cam-10", "name": "c", "type": "camera", "department": "police"},
    )
    assert r.status_code == 403 and r.json()["field"] == "department"
    assert [a["device_id"] for a in client.get("/api/v1/alerts", headers=op).json()["items"]] == []
    ngsi = client.get("/ngsi-ld/v1/entities", headers=op, params={"type": "Device"}).json()
    assert [e["id"] for e in ngsi] == ["urn:ngsi-ld:Device:bin-1"]

    everything = client.get("/api/v1/devices", headers=admin).json()
    assert sorted(d["id"] for d in everything["items"]) == ["bin-1", "cam-9"]
    assert client.get("/api/v1/devices/cam-9", headers=admin).status_code == 200
    assert [a["id"] for a in client.get("/api/v1/alerts", headers=admin).json()["items"]] == [
        police_alert
    ]


def test_role_change_takes_effect_on_the_next_request(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    add_user(platform, "epb.officer", "officer", "epb")
    h = login(client, "epb.officer")
    body = {"id": "x-1", "name": "x", "type": "litter_bin", "department": "epb"}
    assert client.post("/api/v1/devices", headers=h, json=body).status_code == 403
    r = client.put(
        "/api/v1/users/epb.officer/role",
        headers=admin,
        json={"role": "operator", "department": "epb"},
    )
    assert r.status_code == 200 and r.json()["role"] == "operator"
    assert client.post("/api/v1/devices", headers=h, json=body).status_code == 201
    r = client.put(
        "/api/v1/users/epb.officer/role",
        headers=admin,
        json={"role": "citizen", "department": None},
    )
    assert client.get("/api/v1/devices", headers=h).status_code == 403
