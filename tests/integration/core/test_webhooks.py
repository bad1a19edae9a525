"""Outbound webhooks against a real HTTP receiver on 127.0.0.1, on both databases. The
receiver is on loopback, so these run with `webhook_egress = "any"`; the egress tests below
show what the default policy refuses."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from onecity.app import create_app
from onecity.bootstrap import seed_reference
from onecity.core import webhooks
from onecity.core.db import utcnow
from onecity.core.events import emit
from onecity.core.models import AuditRecord, Event, Webhook
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.core.webhooks import deliver_once, guarded, httpx_post
from onecity.settings import Settings
from tests.conftest import add_user, login, make_settings


@pytest.fixture
def settings(db_url: str, request: pytest.FixtureRequest) -> Settings:
    return make_settings(db_url, webhook_egress="any", **getattr(request, "param", {}))


@dataclass
class Receiver:
    url: str
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 204
    delay_s: float = 0.0

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(b) for _, b in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(rec.delay_s)
            rec.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(rec.statuses.pop(0) if rec.statuses else 204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


def _emit(p: Platform, type_: str, dept: str | None, n: int) -> None:
    with p.db.session() as s:
        emit(s, type_, {"n": n}, dept)


def _ids(p: Platform, type_: str) -> list[int]:
    with p.db.read() as s:
        return list(
            s.execute(select(Event.id).where(Event.type == type_).order_by(Event.id)).scalars()
        )


def _settled() -> datetime:
    return utcnow() + timedelta(seconds=3)


def _create(client: TestClient, h: dict[str, str], url: str, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "event_types": ["waste.job"], "department": "epb"}
    body.update(over)
    r = client.post("/api/v1/webhooks", headers=h, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-onecity-signature"], want)


def test_delivers_only_matching_events_signed_and_in_order(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    hook = _create(client, admin, receiver.url)
    assert len(hook["secret"]) == 64 and hook["department"] == "epb"
    _emit(platform, "waste.job", "epb", 1)
    _emit(platform, "waste.station", "epb", 2)
    _emit(platform, "waste.job", "police", 3)
    _emit(platform, "waste.job", "epb", 4)
    # Committed events go out at once: no settle delay (the outbox reader waits only for ids
    # that may still appear).
    assert deliver_once(platform.db, httpx_post, utcnow()) == 2
    assert [b["payload"] for b in receiver.bodies()] == [{"n": 1}, {"n": 4}]
    job_ids = _ids(platform, "waste.job")
    assert [b["id"] for b in receiver.bodies()] == [job_ids[0], job_ids[2]]
    for headers, body in receiver.got:
        _verify(hook["secret"], headers, body)
        assert headers["x-onecity-event"] == "waste.job"
        assert headers["x-onecity-event-id"] == str(json.loads(body)["id"])
        assert headers["content-type"] == "application/json"
    assert set(receiver.bodies()[0]) == {"id", "type", "at", "payload"}

    listed = client.get("/api/v1/webhooks", headers=admin).json()
    assert len(listed) == 1 and "secret" not in listed[0]
    assert listed[0]["failures"] == 0 and listed[0]["last_delivered_at"] is not None
    # Events it does not want move the cursor too: nothing left to read.
    assert listed[0]["cursor_event_id"] == max(_ids(platform, "waste.job"))
    assert deliver_once(platform.db, httpx_post, _settled()) == 0
    assert len(receiver.got) == 2


def test_failure_backs_off_then_delivers_each_event_once(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    _create(client, admin, receiver.url)
    _emit(platform, "waste.job", "epb", 1)
    _emit(platform, "waste.job", "epb", 2)
    first, second = _ids(platform, "waste.job")
    receiver.statuses = [500]
    now = _settled()
    assert deliver_once(platform.db, httpx_post, now) == 0
    assert [b["id"] for b in receiver.bodies()] == [first]  # stopped at the failure
    [row] = client.get("/api/v1/webhooks", headers=admin).json()
    assert row["failures"] == 1 and "HTTP 500" in row["last_error"]
    assert datetime.fromisoformat(row["next_attempt_at"]) > now
    assert row["cursor_event_id"] == first - 1

    assert deliver_once(platform.db, httpx_post, now + timedelta(seconds=1)) == 0  # backing off
    assert len(receiver.got) == 1
    assert deliver_once(platform.db, httpx_post, now + timedelta(seconds=6)) == 2
    assert [b["id"] for b in receiver.bodies()] == [first, first, second]
    [row] = client.get("/api/v1/webhooks", headers=admin).json()
    assert (row["failures"], row["next_attempt_at"], row["cursor_event_id"]) == (0, None, second)


def test_unreachable_receiver_counts_failures_with_growing_backoff(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _create(client, admin, "http://127.0.0.1:9/nothing-listens")
    _emit(platform, "waste.job", "epb", 1)
    now = _settled()
    waits = []
    for _ in range(3):
        assert deliver_once(platform.db, httpx_post, now) == 0
        with platform.db.read() as s:
            hook = s.execute(select(Webhook)).scalar_one()
        assert hook.next_attempt_at is not None
        waits.append((hook.next_attempt_at - now).total_seconds())
        now = hook.next_attempt_at
    assert waits == [5, 10, 20]
    assert hook.failures == 3 and hook.last_error and "ConnectError" in hook.last_error


def test_new_hook_skips_history_and_delete_stops_delivery(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    _emit(platform, "waste.job", "epb", 1)
    hook = _create(client, admin, receiver.url)
    assert deliver_once(platform.db, httpx_post, _settled()) == 0
    _emit(platform, "waste.job", "epb", 2)
    assert deliver_once(platform.db, httpx_post, _settled()) == 1
    assert [b["payload"] for b in receiver.bodies()] == [{"n": 2}]

    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=admin).status_code == 204
    _emit(platform, "waste.job", "epb", 3)
    assert deliver_once(platform.db, httpx_post, _settled()) == 0
    assert len(receiver.got) == 1
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=admin).status_code == 404
    with platform.db.read() as s:
        actions = list(
            s.execute(
                select(AuditRecord.action).where(AuditRecord.action.like("webhook.%"))
            ).scalars()
        )
    assert actions == ["webhook.create", "webhook.delete"]


def test_two_deliverers_at_once_send_each_event_once(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    """Two API processes' loops racing on the same hook: one claims it, the other passes."""
    _create(client, admin, receiver.url)
    for n in range(5):
        _emit(platform, "waste.job", "epb", n)
    receiver.delay_s = 0.05
    now = _settled()
    counts: list[int] = []
    threads = [
        threading.Thread(target=lambda: counts.append(deliver_once(platform.db, httpx_post, now)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == [0, 5]
    assert [b["id"] for b in receiver.bodies()] == _ids(platform, "waste.job")


def test_city_wide_hook_gets_every_department_and_star(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    _create(client, admin, receiver.url, event_types=["*"], department=None)
    _emit(platform, "waste.job", "epb", 1)
    _emit(platform, "roadworks.permit", "police", 2)
    _emit(platform, "system.note", None, 3)
    assert deliver_once(platform.db, httpx_post, _settled()) == 3


def test_permissions_and_department_binding(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    add_user(platform, "epb.crew", "crew", "epb")
    add_user(platform, "epb.op", "operator", "epb")
    crew, op = login(client, "epb.crew"), login(client, "epb.op")
    r = client.post(
        "/api/v1/webhooks", headers=crew, json={"url": receiver.url, "event_types": ["waste.job"]}
    )
    assert r.status_code == 403
    assert client.get("/api/v1/webhooks", headers=crew).status_code == 403
    for dept in (None, "police"):
        r = client.post(
            "/api/v1/webhooks",
            headers=op,
            json={"url": receiver.url, "event_types": ["waste.job"], "department": dept},
        )
        assert r.status_code == 403 and r.json()["field"] == "department", r.text
    r = client.post(
        "/api/v1/webhooks", headers=op, json={"url": receiver.url, "event_types": ["waste.job"]}
    )
    assert r.status_code == 201 and r.json()["department"] == "epb"
    police = _create(client, admin, receiver.url, department="police")
    assert [h["department"] for h in client.get("/api/v1/webhooks", headers=op).json()] == ["epb"]
    assert client.delete(f"/api/v1/webhooks/{police['id']}", headers=op).status_code == 404


@pytest.mark.parametrize(
    "over,field",
    [
        ({"url": "ftp://example.org/x"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://" + "a" * 2000}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["Waste.Job"]}, "event_types[0]"),
        ({"event_types": ["waste..job"]}, "event_types[0]"),
        ({"event_types": [f"t{i}" for i in range(21)]}, "event_types"),
        ({"event_types": ["*", "waste.job"]}, "event_types"),
        ({"department": "nowhere"}, "department"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, admin: dict[str, str], platform: Platform, over: dict[str, Any], field: str
) -> None:
    body: dict[str, Any] = {"url": "https://example.org/h", "event_types": ["waste.job"]}
    body.update(over)
    r = client.post("/api/v1/webhooks", headers=admin, json=body)
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    with platform.db.read() as s:
        assert s.execute(select(func.count()).select_from(Webhook)).scalar() == 0
        assert (
            s.execute(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.action.like("webhook%"))
            ).scalar()
            == 0
        )


def test_app_loop_delivers_when_workers_run(
    platform: Platform, receiver: Receiver, db_url: str
) -> None:
    """The lifespan starts the webhooks loop: an event reaches the receiver with no manual pass."""
    settings = make_settings(db_url, run_workers=True, webhook_egress="any")
    working = start_platform(settings)
    try:
        with TestClient(create_app(settings, working)) as c:
            add_user(platform, "root.admin", "admin", "doit")
            _create(c, login(c, "root.admin"), receiver.url)
            _emit(platform, "waste.job", "epb", 7)
            deadline = time.monotonic() + 15
            while not receiver.got and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        working.db.dispose()
    assert [b["payload"] for b in receiver.bodies()] == [{"n": 7}]


def test_pause_holds_events_and_resume_delivers_them_all_in_order(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    hook = _create(client, admin, receiver.url)
    r = client.patch(f"/api/v1/webhooks/{hook['id']}", headers=admin, json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    for n in range(3):
        _emit(platform, "waste.job", "epb", n)
    assert deliver_once(platform.db, httpx_post, _settled()) == 0
    assert receiver.got == []
    paused = client.get("/api/v1/webhooks", headers=admin).json()[0]
    assert paused["cursor_event_id"] == hook["cursor_event_id"]  # the events wait
    r = client.patch(f"/api/v1/webhooks/{hook['id']}", headers=admin, json={"active": True})
    assert r.status_code == 200 and r.json()["active"] is True
    assert deliver_once(platform.db, httpx_post, _settled()) == 3
    assert [b["payload"]["n"] for b in receiver.bodies()] == [0, 1, 2]
    for bad in ({}, {"active": "maybe"}, {"active": True, "url": "https://x.org"}):
        r = client.patch(f"/api/v1/webhooks/{hook['id']}", headers=admin, json=bad)
        assert r.status_code == 422, bad
    missing = client.patch("/api/v1/webhooks/999", headers=admin, json={"active": True})
    assert missing.status_code == 404
    # another process's batch in flight: pausing and resuming does not cut its lease short
    from onecity.core.webhooks import LEASE

    _emit(platform, "waste.job", "epb", 3)
    leased = _settled()
    with platform.db.session() as s:
        s.get(Webhook, hook["id"]).next_attempt_at = leased + LEASE  # type: ignore[union-attr]
    for active in (False, True):
        client.patch(f"/api/v1/webhooks/{hook['id']}", headers=admin, json={"active": active})
    assert deliver_once(platform.db, httpx_post, leased) == 0
    assert deliver_once(platform.db, httpx_post, leased + LEASE) == 1
    with platform.db.read() as s:
        actions = list(
            s.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.action.like("webhook.%"))
                .order_by(AuditRecord.seq)
            )
        )
    assert actions == ["webhook.create", *["webhook.pause", "webhook.resume"] * 2]


def test_a_rotated_secret_signs_what_follows_and_is_shown_once(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    hook = _create(client, admin, receiver.url)
    r = client.post(f"/api/v1/webhooks/{hook['id']}/secret", headers=admin)
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert len(new) == 64 and new != hook["secret"]
    assert all("secret" not in h for h in client.get("/api/v1/webhooks", headers=admin).json())
    _emit(platform, "waste.job", "epb", 1)
    assert deliver_once(platform.db, httpx_post, _settled()) == 1
    headers, body = receiver.got[0]
    _verify(new, headers, body)
    with pytest.raises(AssertionError):
        _verify(hook["secret"], headers, body)
    add_user(platform, "pol.op", "operator", "police")
    other = login(client, "pol.op")
    assert client.post(f"/api/v1/webhooks/{hook['id']}/secret", headers=other).status_code == 404


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data", "AWS"),
        ("http://100.100.100.200/latest/meta-data", "Alibaba"),
        ("http://metadata.google.internal/computeMetadata/v1/", "GCP"),
        ("http://127.0.0.1:6379/", "loopback"),
        ("http://[::1]/h", "loopback"),
        ("http://[::ffff:127.0.0.1]/h", "loopback"),
        ("http://localhost:5432/h", "server itself"),
        ("http://0.0.0.0/h", "unspecified"),
        ("http://224.0.0.1/h", "multicast"),
    ],
)
def test_the_default_policy_refuses_the_server_itself_and_cloud_metadata(
    db_url: str, url: str, why: str
) -> None:
    p = start_platform(make_settings(db_url))  # webhook_egress "private", the default
    try:
        seed_reference(p)
        with TestClient(create_app(p.settings, p)) as c:
            add_user(p, "root.admin", "admin", "doit")
            h = login(c, "root.admin")
            r = c.post("/api/v1/webhooks", headers=h, json={"url": url, "event_types": ["*"]})
            assert r.status_code == 422, r.text
            assert r.json()["field"] == "url" and r.json()["error"] == "egress_refused"
            assert why in r.json()["detail"]
            with p.db.read() as s:
                assert s.scalar(select(func.count()).select_from(Webhook)) == 0
            # a city's own systems on its private network are allowed by default
            ok = {"url": "http://10.20.30.40:8080/h", "event_types": ["*"], "department": None}
            assert c.post("/api/v1/webhooks", headers=h, json=ok).status_code == 201
    finally:
        p.db.dispose()


def test_delivery_checks_where_the_name_points_now(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    """A hook made when it pointed elsewhere (here: made under "any") is not delivered once
    its address is out of bounds: the failure says why, nothing reaches the receiver, and the
    event waits for the policy (or the hook) to change."""
    port = receiver.url.split(":")[2].split("/")[0]
    _create(client, admin, f"http://localhost:{port}/hook")
    _emit(platform, "waste.job", "epb", 1)
    post = guarded(httpx_post, "private")
    assert deliver_once(platform.db, post, _settled()) == 0
    assert receiver.got == []
    hook = client.get("/api/v1/webhooks", headers=admin).json()[0]
    assert hook["failures"] == 1 and "EgressRefused" in hook["last_error"]
    assert "server itself" in hook["last_error"] or "loopback" in hook["last_error"]
    later = _settled() + timedelta(minutes=20)
    assert deliver_once(platform.db, guarded(httpx_post, "any"), later) == 1
    assert [b["payload"] for b in receiver.bodies()] == [{"n": 1}]


def _deliver_until(platform: Platform, receiver: Receiver, want: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while len(receiver.got) < want and time.monotonic() < deadline:
        deliver_once(platform.db, httpx_post, _settled())
        time.sleep(0.1)


@pytest.mark.parametrize("settings", [{"outbox_hole_grace_s": 0.5}], indirect=True)
def test_an_event_whose_transaction_commits_late_is_delivered_once_in_order(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    """Transaction A emits first (smaller id) and stays open 3 s, past the proof's grace,
    while B emits and commits; deliveries run meanwhile. Once A commits the receiver has both,
    once each, in id order."""
    if platform.db.dialect == "sqlite":
        pytest.skip("SQLite has one writer at a time: ids become visible in commit order")
    _create(client, admin, receiver.url, event_types=["*"], department=None)
    with platform.db.session() as a:
        emit(a, "late.first", {"n": 1}, None)
        a.flush()  # the id is taken now, the row is visible at commit
        _emit(platform, "late.second", None, 2)
        held = time.monotonic() + 3
        while time.monotonic() < held:
            deliver_once(platform.db, httpx_post, _settled())
            time.sleep(0.2)
    _deliver_until(platform, receiver, 2, within_s=60)
    deliver_once(platform.db, httpx_post, _settled())  # nothing more to send
    ids = _ids(platform, "late.first") + _ids(platform, "late.second")
    assert [(b["id"], b["type"]) for b in receiver.bodies()] == [
        (ids[0], "late.first"),
        (ids[1], "late.second"),
    ]


@pytest.mark.parametrize("settings", [{"outbox_hole_grace_s": 0.3}], indirect=True)
def test_a_rolled_back_event_id_holds_delivery_only_briefly(
    client: TestClient, admin: dict[str, str], platform: Platform, receiver: Receiver
) -> None:
    _create(client, admin, receiver.url, event_types=["*"], department=None)
    with pytest.raises(RuntimeError), platform.db.session() as s:
        emit(s, "doomed", {}, None)
        s.flush()
        raise RuntimeError("rolled back")
    _emit(platform, "kept", None, 1)
    # the proof waits for every transaction on the server: parallel test runs share it
    _deliver_until(platform, receiver, 1, within_s=60)
    assert [b["type"] for b in receiver.bodies()] == ["kept"]
    [row] = client.get("/api/v1/webhooks", headers=admin).json()
    assert row["cursor_event_id"] == _ids(platform, "kept")[0] and row["failures"] == 0


def _resolver(monkeypatch: pytest.MonkeyPatch, name: str, answers: list[str]) -> list[str]:
    """`name` resolves to answers[0], then answers[1], ... (the last one for good); other
    names as usual. Returns the log of lookups of `name`."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name or kwargs.get("flags", 0) & socket.AI_NUMERICHOST:
            return real(host, port, *args, **kwargs)
        answer = answers[min(len(lookups), len(answers) - 1)]
        lookups.append(answer)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return lookups


def test_a_name_that_rebinds_after_the_check_cannot_reach_the_server_itself(
    client: TestClient,
    admin: dict[str, str],
    platform: Platform,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the name answers an allowed address for the egress check and 127.0.0.1
    a moment later. The delivery goes to the checked address, never to the receiver on
    loopback, and the name is looked up once per attempt."""
    port = int(receiver.url.split(":")[2].split("/")[0])
    monkeypatch.setattr(webhooks, "TIMEOUT_S", 0.5)
    _create(client, admin, f"http://rebind.example:{port}/hook")
    lookups = _resolver(monkeypatch, "rebind.example", ["10.255.255.1", "127.0.0.1"])
    _emit(platform, "waste.job", "epb", 1)
    deliver_once(platform.db, guarded(httpx_post, "private"), _settled())
    assert receiver.got == []
    assert lookups == ["10.255.255.1"]


def test_a_stable_name_is_delivered_to_with_its_own_host_header(
    client: TestClient,
    admin: dict[str, str],
    platform: Platform,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = int(receiver.url.split(":")[2].split("/")[0])
    _create(client, admin, f"http://hooks.example:{port}/hook")
    lookups = _resolver(monkeypatch, "hooks.example", ["127.0.0.1"])
    _emit(platform, "waste.job", "epb", 1)
    assert deliver_once(platform.db, guarded(httpx_post, "any"), _settled()) == 1
    [(headers, _)] = receiver.got
    assert headers["host"] == f"hooks.example:{port}"
    assert lookups == ["127.0.0.1"]


def test_a_pinned_https_delivery_keeps_the_name_for_tls() -> None:
    """Connecting to the checked address, the request still names the host for SNI and the
    certificate check (httpcore's sni_hostname), and in the Host header."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    url = "https://hooks.example:8443/in?x=1"
    status = httpx_post(url, b"{}", {}, "192.0.2.7", transport=httpx.MockTransport(answer))
    assert status == 204
    [req] = seen
    assert (req.url.host, req.url.port, req.url.path) == ("192.0.2.7", 8443, "/in")
    assert req.headers["host"] == "hooks.example:8443"
    assert req.extensions["sni_hostname"] == "hooks.example"


def _tls_receiver(name: str, tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A CA and a certificate for `name` signed by it: (server context, client context)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def cert(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        now = datetime.now(UTC)
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), False)
        return b.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("test CA", ca_key, "test CA", ca_key, True)
    leaf = cert(name, key, "test CA", ca_key, False)
    (tmp / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp / "leaf.pem", tmp / "key.pem")
    client = ssl.create_default_context(cafile=str(tmp / "ca.pem"))
    return server, client


@pytest.mark.parametrize(("cert_name", "delivered"), [("hooks.example", 1), ("other.example", 0)])
def test_a_pinned_https_delivery_verifies_the_certificate_for_the_name(
    client: TestClient,
    admin: dict[str, str],
    platform: Platform,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    cert_name: str,
    delivered: int,
) -> None:
    """Connected to the checked address (127.0.0.1), TLS still checks the certificate against
    the hook's host name: a certificate for another name is a failed delivery."""
    server_ctx, client_ctx = _tls_receiver(cert_name, tmp_path)
    port = int(receiver.url.split(":")[2].split("/")[0])
    tls = ThreadingHTTPServer(("127.0.0.1", 0), _forward_to(port))
    tls.socket = server_ctx.wrap_socket(tls.socket, server_side=True)
    threading.Thread(target=tls.serve_forever, daemon=True).start()
    try:
        _create(client, admin, f"https://hooks.example:{tls.server_address[1]}/hook")
        _resolver(monkeypatch, "hooks.example", ["127.0.0.1"])
        _emit(platform, "waste.job", "epb", 1)
        post = guarded(functools.partial(httpx_post, verify=client_ctx), "any")
        assert deliver_once(platform.db, post, _settled()) == delivered
    finally:
        tls.shutdown()
        tls.server_close()
    assert len(receiver.got) == delivered
    if not delivered:
        [row] = client.get("/api/v1/webhooks", headers=admin).json()
        assert (
            "CERTIFICATE_VERIFY_FAILED" in row["last_error"] or "certificate" in row["last_error"]
        )


def _forward_to(port: int) -> type[BaseHTTPRequestHandler]:
    """A handler that passes each POST on to the plain receiver on `port`."""

    class Forward(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            r = httpx.post(
                f"http://127.0.0.1:{port}/hook", content=body, headers=dict(self.headers)
            )
            self.send_response(r.status_code)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    return Forward
