"""Logging in and staying logged in: passwords, throttling, TOTP, idle sessions, logout, audit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from onecity.app import create_app
from onecity.bootstrap import seed_reference
from onecity.core.db import utcnow
from onecity.core.errors import AppError
from onecity.core.models import AuditRecord, AuthSession, LoginThrottle, User
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from tests.conftest import PASSWORD, add_user, login, make_settings


def _login(
    client: TestClient, username: str, password: str = PASSWORD, totp: str | None = None
) -> tuple[int, dict[str, object]]:
    body: dict[str, object] = {"username": username, "password": password}
    if totp is not None:
        body["totp"] = totp
    r = client.post("/api/v1/auth/login", json=body)
    return r.status_code, r.json()


def _audit(platform: Platform, action: str | None = None) -> list[tuple[str, str, str, str]]:
    with platform.db.read() as s:
        q = select(AuditRecord).order_by(AuditRecord.seq)
        if action:
            q = q.where(AuditRecord.action == action)
        return [(r.actor, r.action, r.outcome, r.target) for r in s.execute(q).scalars()]


def _user(platform: Platform, username: str) -> User:
    with platform.db.read() as s:
        return s.execute(select(User).where(User.username == username)).scalar_one()


def test_login_ok_and_who_am_i(client: TestClient, platform: Platform) -> None:
    add_user(platform, "epb.crew", "crew", "epb")
    status, body = _login(client, "epb.crew")
    assert status == 200
    assert (body["username"], body["role"], body["department"]) == ("epb.crew", "crew", "epb")
    assert body["idle_timeout_s"] == 30 * 60 and body["token_type"] == "bearer"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["permissions"] == [
        "alerts:handle",
        "alerts:read",
        "devices:read",
        "open311:handle",
        "telemetry:read",
        "waste:jobs",
    ]
    with platform.db.read() as s:
        tokens = [t for (t,) in s.execute(select(AuthSession.token_hash))]
    assert body["token"] not in tokens  # only its hash is stored


@pytest.mark.parametrize(
    "username,password", [("epb.crew", "wrong-password"), ("no.such.user", PASSWORD)]
)
def test_wrong_credentials_are_401_and_say_nothing_more(
    client: TestClient, platform: Platform, username: str, password: str
) -> None:
    add_user(platform, "epb.crew", "crew", "epb")
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 401
    assert r.json() == {
        "error": "bad_credentials",
        "detail": "wrong username or password",
        "field": None,
    }
    assert "onecity_session" not in r.cookies


def test_five_failures_make_this_client_wait_a_minute(
    client: TestClient, platform: Platform
) -> None:
    """Issue 14: no more 423 lock of the account itself (anyone could lock anyone out); the
    client that failed five times waits, with 429 and Retry-After (test_login_throttle.py)."""
    add_user(platform, "epb.crew", "crew", "epb")
    for _ in range(4):
        assert _login(client, "epb.crew", "nope-nope")[0] == 401
    assert _login(client, "epb.crew")[0] == 200  # a success resets the count
    for _ in range(5):
        assert _login(client, "epb.crew", "nope-nope")[0] == 401
    status, body = _login(client, "epb.crew")
    assert status == 429 and body["error"] == "login_throttled"
    assert "1 minute" in str(body["detail"])
    assert _login(client, "epb.crew", "nope-nope")[0] == 429

    with platform.db.session() as s:  # the minute passes
        s.execute(update(LoginThrottle).values(blocked_until=utcnow() - timedelta(seconds=1)))
    assert _login(client, "epb.crew")[0] == 200
    # The slate is clean: one more mistake is a 401, not a new wait.
    assert _login(client, "epb.crew", "nope-nope")[0] == 401
    assert _login(client, "epb.crew")[0] == 200


def test_concurrent_failures_still_lock(platform: Platform) -> None:
    """Five wrong passwords at once must count as five, not as one lost update."""
    add_user(platform, "epb.crew", "crew", "epb")

    def attempt(_: int) -> int:
        try:
            platform.auth.login("epb.crew", "nope-nope", None)
        except AppError as e:
            return type(e).status
        return 200

    with ThreadPoolExecutor(5) as pool:
        assert sorted(pool.map(attempt, range(5))) == [401] * 5
    with pytest.raises(AppError) as e:
        platform.auth.login("epb.crew", PASSWORD, None)
    assert e.value.status == 429


@pytest.fixture
def totp_client(db_url: str) -> Iterator[tuple[TestClient, Platform]]:
    p = start_platform(make_settings(db_url, totp_required_roles="admin,supervisor"))
    seed_reference(p)
    with TestClient(create_app(p.settings, p)) as c:
        yield c, p
    p.db.dispose()


def test_totp_enrolled_user_needs_a_valid_code(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    add_user(platform, "police.sup", "supervisor", "police")
    r = client.post("/api/v1/users/police.sup/totp", headers=admin)
    assert r.status_code == 200
    secret = r.json()["secret"]
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/OneCity:police.sup")

    status, body = _login(client, "police.sup")
    assert (status, body["error"], body["field"]) == (401, "totp_required", "totp")
    code = pyotp.TOTP(secret).now()
    wrong = f"{(int(code) + 500_000) % 1_000_000:06d}"
    status, body = _login(client, "police.sup", totp=wrong)
    assert (status, body["error"], body["field"]) == (401, "bad_totp", "totp")
    status, body = _login(client, "police.sup", password="nope-nope", totp=code)
    assert (status, body["error"]) == (401, "bad_credentials")
    status, body = _login(client, "police.sup", totp=code)
    assert status == 200 and body["role"] == "supervisor"
    assert _login(client, "police.sup", totp="12345")[0] == 422  # not six digits


def test_role_that_requires_totp_cannot_log_in_without_enrolment(
    totp_client: tuple[TestClient, Platform],
) -> None:
    client, p = totp_client
    add_user(p, "police.sup", "supervisor", "police")
    add_user(p, "police.officer", "officer", "police")
    status, body = _login(client, "police.sup")
    assert (status, body["error"]) == (401, "totp_enrolment_required")
    assert "enrol" in str(body["detail"])
    assert _login(client, "police.officer")[0] == 200  # officers are not on the list
    secret = p.auth.enrol_totp("cli:test", "police.sup")
    status, body = _login(client, "police.sup", totp=pyotp.TOTP(secret).now())
    assert status == 200


def test_idle_session_ends_after_thirty_minutes(client: TestClient, platform: Platform) -> None:
    add_user(platform, "epb.crew", "crew", "epb")
    h = login(client, "epb.crew")
    client.cookies.clear()

    def idle_for(minutes: int) -> None:
        with platform.db.session() as s:
            s.execute(
                update(AuthSession).values(last_seen_at=utcnow() - timedelta(minutes=minutes))
            )

    idle_for(29)
    assert client.get("/api/v1/auth/me", headers=h).status_code == 200
    # That request counted as activity, so the clock restarted.
    with platform.db.read() as s:
        seen = s.execute(select(AuthSession.last_seen_at)).scalar_one()
    assert utcnow() - seen < timedelta(minutes=1)
    idle_for(31)
    r = client.get("/api/v1/auth/me", headers=h)
    assert r.status_code == 401 and r.json()["error"] == "session_idle"
    assert r.headers["www-authenticate"] == "Bearer"
    fresh = login(client, "epb.crew")
    assert fresh != h and client.get("/api/v1/auth/me", headers=fresh).status_code == 200


def test_background_requests_do_not_keep_an_idle_session_alive(
    client: TestClient, platform: Platform
) -> None:
    """A dashboard left open polls the API on timers; those requests carry
    X-OneCity-Background: 1 and must not count as activity, or it would never time out."""
    add_user(platform, "epb.crew", "crew", "epb")
    h = login(client, "epb.crew")
    client.cookies.clear()
    bg = {**h, "X-OneCity-Background": "1"}

    def idle_for(minutes: int) -> None:
        with platform.db.session() as s:
            s.execute(
                update(AuthSession).values(last_seen_at=utcnow() - timedelta(minutes=minutes))
            )

    def last_seen() -> datetime:
        with platform.db.read() as s:
            return s.execute(select(AuthSession.last_seen_at)).scalar_one()

    idle_for(10)
    before = last_seen()
    for url in ["/api/v1/auth/me", "/api/v1/alerts", "/api/v1/devices"]:
        assert client.get(url, headers=bg).status_code == 200, url  # still authenticated
    assert last_seen() == before  # ... but the session did not move
    # Only "1" marks a request as background; anything else is an ordinary request.
    assert (
        client.get("/api/v1/auth/me", headers={**h, "X-OneCity-Background": "0"}).status_code == 200
    )
    assert utcnow() - last_seen() < timedelta(minutes=1)

    # Polled every half minute for the whole idle window, the session still ends.
    idle_for(29)
    before = last_seen()
    assert client.get("/api/v1/auth/me", headers=bg).status_code == 200
    assert last_seen() == before
    idle_for(31)
    r = client.get("/api/v1/auth/me", headers=bg)
    assert r.status_code == 401 and r.json()["error"] == "session_idle"
    assert r.headers["www-authenticate"] == "Bearer"
    # Ended is ended: a person coming back to it is sent to log in too.
    assert client.get("/api/v1/auth/me", headers=h).json()["error"] == "session_idle"


def test_background_request_still_needs_a_valid_session(client: TestClient) -> None:
    client.cookies.clear()
    r = client.get("/api/v1/auth/me", headers={"X-OneCity-Background": "1"})
    assert r.status_code == 401 and r.json()["error"] == "not_logged_in"
    r = client.get(
        "/api/v1/auth/me",
        headers={"X-OneCity-Background": "1", "Authorization": "Bearer nonsense"},
    )
    assert r.status_code == 401 and r.json()["error"] == "bad_token"


def test_logout_ends_the_token(client: TestClient, platform: Platform) -> None:
    add_user(platform, "epb.crew", "crew", "epb")
    h = login(client, "epb.crew")
    other = login(client, "epb.crew")
    r = client.post("/api/v1/auth/logout", headers=h)
    assert r.status_code == 204
    assert 'onecity_session=""' in r.headers["set-cookie"]
    client.cookies.clear()
    r = client.get("/api/v1/auth/me", headers=h)
    assert r.status_code == 401 and r.json()["error"] == "session_ended"
    assert client.post("/api/v1/auth/logout", headers=h).status_code == 401
    # Only that session ended; the user's other login still works.
    assert client.get("/api/v1/auth/me", headers=other).status_code == 200


def test_every_login_and_permission_change_is_audited(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    add_user(platform, "epb.crew", "crew", "epb")
    _login(client, "epb.crew")
    _login(client, "epb.crew", "nope-nope")
    _login(client, "ghost", "nope-nope")
    for _ in range(4):  # the fifth failure in a row from this client makes it wait
        _login(client, "epb.crew", "nope-nope")
    _login(client, "epb.crew", "nope-nope")  # refused: throttled
    _login(client, "epb.crew")  # refused: throttled, even with the right password
    logins = [(a, o) for a, _, o, _ in _audit(platform, "login")]
    assert (
        logins
        == [("root.admin", "ok"), ("epb.crew", "ok"), ("epb.crew", "denied"), ("ghost", "denied")]
        + [("epb.crew", "denied")] * 4
        + [("epb.crew", "throttled")] * 2
    )

    client.put(
        "/api/v1/users/epb.crew/role", headers=admin, json={"role": "operator", "department": "epb"}
    )
    client.post(
        "/api/v1/users",
        headers=admin,
        json={
            "username": "new.guard",
            "password": "long-enough",
            "role": "school_guard",
            "department": "edu",
        },
    )
    client.post("/api/v1/users/new.guard/totp", headers=admin)
    assert _audit(platform, "permission.change") == [
        ("root.admin", "permission.change", "ok", "epb.crew")
    ]
    assert _audit(platform, "user.create") == [("root.admin", "user.create", "ok", "new.guard")]
    assert _audit(platform, "user.totp_enrol") == [
        ("root.admin", "user.totp_enrol", "ok", "new.guard")
    ]
    rows = client.get("/api/v1/audit", headers=admin, params={"limit": 3}).json()
    change = next(r for r in rows if r["action"] == "permission.change")
    assert change["detail"] == {
        "before": {"role": "crew", "department": "epb"},
        "after": {"role": "operator", "department": "epb"},
    }


def test_totp_attempts_without_a_code_and_with_a_bad_code_are_audited(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    add_user(platform, "police.sup", "supervisor", "police")
    client.post("/api/v1/users/police.sup/totp", headers=admin)
    _login(client, "police.sup")
    _login(client, "police.sup", totp="000000")
    assert [o for a, _, o, _ in _audit(platform, "login") if a == "police.sup"] == [
        "denied",
        "denied",
    ]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"username": "a", "password": "p", "extra": 1}, "extra"),
        ({"username": "", "password": "p"}, "username"),
        ({"password": "p"}, "username"),
        ({"username": "a" * 65, "password": "p"}, "username"),
    ],
)
def test_malformed_login_is_422_with_field(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    r = client.post("/api/v1/auth/login", json=body)
    assert r.status_code == 422
    assert r.json()["field"] == field and r.json()["error"] == "invalid"


def test_user_admin_errors(client: TestClient, admin: dict[str, str]) -> None:
    def create(**kw: object) -> tuple[int, dict[str, object]]:
        body: dict[str, object] = {
            "username": "new.one",
            "password": "long-enough",
            "role": "crew",
            "department": "epb",
        }
        body.update(kw)
        r = client.post("/api/v1/users", headers=admin, json=body)
        return r.status_code, r.json()

    assert create(role="mayor")[0] == 422 and create(role="mayor")[1]["field"] == "role"
    assert create(department="nasa")[1]["field"] == "department"
    assert create(password="short")[1]["field"] == "password"
    assert create()[0] == 201
    status, body = create()
    assert (status, body["field"]) == (409, "username")
    r = client.put("/api/v1/users/nobody/role", headers=admin, json={"role": "crew"})
    assert r.status_code == 404


def test_racing_creates_of_one_username_give_one_user_and_409s(platform: Platform) -> None:
    start = threading.Barrier(4)
    outcomes: list[object] = []

    def create() -> None:
        start.wait()
        try:
            platform.auth.create_user(
                "t", username="dup", password="long-enough", role="crew", department="epb"
            )
            outcomes.append(201)
        except AppError as e:
            outcomes.append(e.status)
        except Exception as e:  # reported by the assertion below
            outcomes.append(type(e).__name__)

    ts = [threading.Thread(target=create) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(outcomes, key=str) == [201, 409, 409, 409]


def test_self_enrolment_cannot_replace_an_existing_factor(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    add_user(platform, "police.sup", "supervisor", "police")
    add_user(platform, "police.officer", "officer", "police")
    sup = login(client, "police.sup")
    officer = login(client, "police.officer")
    assert client.post("/api/v1/users/police.sup/totp", headers=officer).status_code == 403
    first = client.post("/api/v1/users/police.sup/totp", headers=sup)
    assert first.status_code == 200
    secret = first.json()["secret"]
    # A second self-enrolment (say, from a stolen session) must not swap the factor.
    again = client.post("/api/v1/users/police.sup/totp", headers=sup)
    assert again.status_code == 403 and again.json()["error"] == "totp_already_enrolled"
    assert _login(client, "police.sup", totp=pyotp.TOTP(secret).now())[0] == 200
    # An administrator can reset it (a lost phone), and the old code stops working.
    reset = client.post("/api/v1/users/police.sup/totp", headers=admin)
    assert reset.status_code == 200 and reset.json()["secret"] != secret
    new_code = pyotp.TOTP(reset.json()["secret"]).now()
    old_code = pyotp.TOTP(secret).now()
    if old_code != new_code:  # one chance in a million that they coincide
        assert _login(client, "police.sup", totp=old_code)[0] == 401
    assert _login(client, "police.sup", totp=new_code)[0] == 200
