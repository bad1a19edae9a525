"""Alerts: people acknowledge and resolve with who and when; liveness raises one offline alert
and clears it when the device is back; every change has its event in the outbox."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from onecity.core import alerts
from onecity.core.db import utcnow
from onecity.core.models import Alert, AuditRecord, Device, Event
from onecity.core.platform import Platform
from tests.conftest import add_user, login


def _device(
    client: TestClient,
    admin: dict[str, str],
    device_id: str = "bin-1",
    dept: str = "epb",
    heartbeat_s: int = 60,
) -> str:
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": device_id,
            "name": device_id,
            "type": "litter_bin",
            "department": dept,
            "heartbeat_s": heartbeat_s,
            "location": {"type": "Point", "coordinates": [121.5645, 25.0375]},
        },
    )
    assert r.status_code == 201, r.text
    key: str = client.post(f"/api/v1/devices/{device_id}/keys", headers=admin).json()["key"]
    return key


def _send(client: TestClient, key: str, seq: int, **values: float) -> None:
    r = client.post(
        "/api/v1/telemetry",
        headers={"X-Device-Key": key},
        json={"messages": [{"seq": seq, "ts": int(time.time() * 1000), "values": values}]},
    )
    assert r.status_code == 200, r.text


def _events(platform: Platform, *types: str) -> list[tuple[str, dict[str, Any], str | None]]:
    with platform.db.read() as s:
        q = select(Event).order_by(Event.id)
        if types:
            q = q.where(Event.type.in_(types))
        return [(e.type, e.payload, e.department_code) for e in s.execute(q).scalars()]


def _alerts(platform: Platform) -> list[Alert]:
    with platform.db.read() as s:
        return list(s.execute(select(Alert).order_by(Alert.id)).scalars())


def _fill_alert(client: TestClient, admin: dict[str, str]) -> int:
    key = _device(client, admin)
    r = client.post(
        "/api/v1/alert-rules",
        headers=admin,
        json={
            "name": "Bin full",
            "key": "fill",
            "direction": "above",
            "raise_at": 0.8,
            "clear_at": 0.5,
            "device_type": "litter_bin",
            "severity": "critical",
        },
    )
    assert r.status_code == 201, r.text
    _send(client, key, 1, fill=0.9)
    items = client.get("/api/v1/alerts", headers=admin).json()["items"]
    assert len(items) == 1 and items[0]["severity"] == "critical"
    alert_id: int = items[0]["id"]
    return alert_id


def _near_now(raw: str) -> bool:
    return abs(datetime.fromisoformat(raw) - utcnow()) < timedelta(seconds=30)


def test_acknowledge_then_resolve_records_who_and_when(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    alert_id = _fill_alert(client, admin)
    add_user(platform, "epb.crew", "crew", "epb")
    add_user(platform, "epb.op", "operator", "epb")
    crew, op = login(client, "epb.crew"), login(client, "epb.op")

    r = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=crew)
    assert r.status_code == 200
    a = r.json()
    assert (a["state"], a["acknowledged_by"], a["resolved_by"]) == (
        "acknowledged",
        "epb.crew",
        None,
    )
    assert _near_now(a["acknowledged_at"]) and a["resolved_at"] is None
    err = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=op)
    assert err.status_code == 409 and err.json()["error"] == "already_acknowledged"

    r = client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=op)
    b = r.json()
    assert (b["state"], b["resolved_by"], b["acknowledged_by"]) == (
        "resolved",
        "epb.op",
        "epb.crew",
    )
    assert b["acknowledged_at"] == a["acknowledged_at"] and _near_now(b["resolved_at"])
    listed = client.get("/api/v1/alerts", headers=op, params={"state": "resolved"}).json()
    assert listed["items"][0]["resolved_by"] == "epb.op"
    assert client.get("/api/v1/alerts", headers=op).json()["items"] == []  # none active

    assert [
        (t, p["by"]) for t, p, _ in _events(platform, "alert.acknowledged", "alert.resolved")
    ] == [("alert.acknowledged", "epb.crew"), ("alert.resolved", "epb.op")]
    with platform.db.read() as s:
        actions = [
            (r.actor, r.action, r.target)
            for r in s.execute(
                select(AuditRecord).where(AuditRecord.action.like("alert.%"))
            ).scalars()
        ]
    assert actions == [
        ("epb.crew", "alert.acknowledge", f"alert:{alert_id}"),
        ("epb.op", "alert.resolve", f"alert:{alert_id}"),
    ]


def test_resolving_twice_is_409_and_changes_nothing(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    alert_id = _fill_alert(client, admin)
    first = client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=admin).json()
    # Resolving straight away also counts as acknowledging it.
    assert first["acknowledged_by"] == "root.admin"
    assert first["acknowledged_at"] == first["resolved_at"]
    add_user(platform, "epb.op", "operator", "epb")
    op = login(client, "epb.op")
    events_before, audit_before = len(_events(platform)), _audit_count(platform)
    for action in ("resolve", "acknowledge"):
        r = client.post(f"/api/v1/alerts/{alert_id}/{action}", headers=op)
        assert r.status_code == 409
        assert r.json() == {
            "error": "already_resolved",
            "detail": f"alert {alert_id} is already resolved",
            "field": None,
        }
    (a,) = _alerts(platform)
    assert (a.resolved_by, a.acknowledged_by) == ("root.admin", "root.admin")
    assert a.resolved_at is not None
    assert a.resolved_at.isoformat().startswith(first["resolved_at"][:19])
    assert len(_events(platform)) == events_before
    assert _audit_count(platform) == audit_before


def _audit_count(platform: Platform) -> int:
    with platform.db.read() as s:
        return int(s.execute(select(func.count()).select_from(AuditRecord)).scalar() or 0)


def test_unknown_alert_and_other_departments_alert_are_404(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    alert_id = _fill_alert(client, admin)
    add_user(platform, "police.sup", "supervisor", "police")
    sup = login(client, "police.sup")
    for url in (f"/api/v1/alerts/{alert_id}/acknowledge", "/api/v1/alerts/999999/resolve"):
        r = client.post(url, headers=sup)
        assert r.status_code == 404 and set(r.json()) == {"error", "detail", "field"}
    assert _alerts(platform)[0].state == "open"
    r = client.post("/api/v1/alerts/not-a-number/resolve", headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "alert_id"


def test_alert_list_paging_and_filters(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _device(client, admin)
    _device(client, admin, "bin-2")
    with platform.db.session() as s:
        ids = [
            alerts.open_alert(
                s,
                device_id="bin-1" if i % 2 else "bin-2",
                department="epb",
                kind="threshold",
                dedupe_key=f"k{i}",
                severity="info",
                message=f"m{i}",
            )
            for i in range(7)
        ]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/alerts", headers=admin, params=params).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)  # type: ignore[type-var]
    only = client.get("/api/v1/alerts", headers=admin, params={"device_id": "bin-1"}).json()
    assert {a["device_id"] for a in only["items"]} == {"bin-1"} and len(only["items"]) == 3
    r = client.get("/api/v1/alerts", headers=admin, params={"state": "asleep"})
    assert r.status_code == 422 and r.json()["field"] == "state"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"direction": "above", "raise_at": 0.5, "clear_at": 0.8}, "clear_at"),
        ({"direction": "below", "raise_at": 5, "clear_at": 1}, "clear_at"),
        ({"direction": "up", "raise_at": 1, "clear_at": 0}, "direction"),
        ({"direction": "above", "raise_at": "high", "clear_at": 0}, "raise_at"),
        ({"direction": "above", "raise_at": 1, "clear_at": 0, "severity": "meh"}, "severity"),
        ({"direction": "above", "raise_at": 1, "clear_at": 0, "key": "bad key"}, "key"),
    ],
)
def test_bad_rules_are_422(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    r = client.post("/api/v1/alert-rules", headers=admin, json={"name": "r", "key": "fill", **body})
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert client.get("/api/v1/alert-rules", headers=admin).json() == []


def _liveness_state(platform: Platform, device_id: str = "bin-1") -> str:
    with platform.db.read() as s:
        d = s.get(Device, device_id)
        assert d is not None
        return d.connectivity


def test_offline_device_gets_exactly_one_alert_and_it_clears_when_back(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    key = _device(client, admin, heartbeat_s=60)
    # Never reported, but its deadline (3 h) is later than anything below: no alert yet.
    _device(client, admin, "bin-quiet", heartbeat_s=3600)
    assert platform.devices.mark_offline() == []  # reported? not yet
    _send(client, key, 1, fill=0.1)
    assert _liveness_state(platform) == "online"
    assert platform.devices.mark_offline() == []  # within its heartbeat window

    later = utcnow() + timedelta(minutes=4)  # past 60 s x grace factor 3
    assert platform.devices.mark_offline(later) == ["bin-1"]
    assert platform.devices.mark_offline(later) == []
    assert platform.devices.mark_offline(later + timedelta(hours=1)) == []
    assert _liveness_state(platform) == "offline"
    (a,) = _alerts(platform)
    assert (a.kind, a.state, a.device_id, a.severity) == ("offline", "open", "bin-1", "warning")
    assert [t for t, _, _ in _events(platform, "device.offline", "alert.opened")] == [
        "alert.opened",
        "device.offline",
    ]

    _send(client, key, 2, fill=0.2)
    assert _liveness_state(platform) == "online"
    (a,) = _alerts(platform)
    assert (a.state, a.resolved_by) == ("resolved", "system")
    assert [(t, p["alert_id"]) for t, p, _ in _events(platform, "alert.resolved")] == [
        ("alert.resolved", a.id)
    ]
    # Online on its first report (from "unknown") and again now (from "offline").
    assert [t for t, _, _ in _events(platform, "device.online")] == ["device.online"] * 2

    # Silent again later: a new offline alert, since the first is closed.
    assert platform.devices.mark_offline(utcnow() + timedelta(minutes=4)) == ["bin-1"]
    assert [x.state for x in _alerts(platform)] == ["resolved", "open"]


def test_devices_in_maintenance_are_not_declared_offline(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    key = _device(client, admin)
    _send(client, key, 1, fill=0.1)
    client.patch("/api/v1/devices/bin-1", headers=admin, json={"status": "maintenance"})
    assert platform.devices.mark_offline(utcnow() + timedelta(hours=1)) == []
    assert _alerts(platform) == []


def test_events_commit_with_their_change_and_roll_back_with_it(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _device(client, admin, dept="epb")
    before = _events(platform)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), platform.db.session() as s:
        got = alerts.open_alert(
            s,
            device_id="bin-1",
            department="epb",
            kind="threshold",
            dedupe_key="x",
            severity="info",
            message="half-done",
        )
        assert got is not None
        raise Boom
    assert _events(platform) == before and _alerts(platform) == []

    with platform.db.session() as s:
        got = alerts.open_alert(
            s,
            device_id="bin-1",
            department="epb",
            kind="threshold",
            dedupe_key="x",
            severity="info",
            message="done",
        )
    opened = _events(platform, "alert.opened")
    assert len(opened) == 1
    _, payload, dept = opened[0]
    assert (payload["alert_id"], payload["device_id"], dept) == (got, "bin-1", "epb")
    # The same condition again is not a second alert, and so not a second event.
    with platform.db.session() as s:
        assert (
            alerts.open_alert(
                s,
                device_id="bin-1",
                department="epb",
                kind="threshold",
                dedupe_key="x",
                severity="info",
                message="again",
            )
            is None
        )
    assert len(_events(platform, "alert.opened")) == 1
    # Registering the device emitted its own event in the same unit of work.
    assert ("device.registered", {"device_id": "bin-1"}, "epb") in before


def test_racing_resolves_give_one_resolution(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    alert_id = _fill_alert(client, admin)
    people = [f"op.{i}" for i in range(4)]
    heads = []
    for name in people:
        add_user(platform, name, "operator", "epb")
        heads.append(login(client, name))
    start = threading.Barrier(len(heads))
    codes: list[int] = []

    def resolve(h: dict[str, str]) -> None:
        start.wait()
        codes.append(client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=h).status_code)

    ts = [threading.Thread(target=resolve, args=(h,)) for h in heads]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(codes) == [200, 409, 409, 409]
    (a,) = _alerts(platform)
    assert a.resolved_by in people
    assert [p["by"] for _, p, _ in _events(platform, "alert.resolved")] == [a.resolved_by]


def test_racing_liveness_passes_raise_one_alert(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    key = _device(client, admin)
    _send(client, key, 1, fill=0.1)
    later = utcnow() + timedelta(minutes=10)
    start = threading.Barrier(4)
    found: list[list[str]] = []

    def sweep() -> None:
        start.wait()
        found.append(platform.devices.mark_offline(later))

    ts = [threading.Thread(target=sweep) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(found) == [[], [], [], ["bin-1"]]
    assert [a.kind for a in _alerts(platform)] == ["offline"]
    assert len(_events(platform, "device.offline")) == 1


def test_device_that_never_reports_goes_offline(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    from datetime import timedelta as _td

    from onecity.core.db import utcnow as _now

    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": "silent-1",
            "name": "never installed",
            "type": "air",
            "department": "doit",
            "heartbeat_s": 60,
        },
    )
    assert r.status_code == 201
    assert platform.devices.mark_offline(_now()) == []  # not yet: within 3 heartbeats
    assert platform.devices.mark_offline(_now() + _td(seconds=181)) == ["silent-1"]
    active = client.get("/api/v1/alerts", headers=admin, params={"device_id": "silent-1"})
    assert [a["kind"] for a in active.json()["items"]] == ["offline"]


def test_longer_heartbeat_moves_the_deadline(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    from datetime import timedelta as _td

    from onecity.core.db import utcnow as _now

    client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": "slow-1",
            "name": "daily reporter",
            "type": "air",
            "department": "doit",
            "heartbeat_s": 60,
        },
    )
    r = client.patch("/api/v1/devices/slow-1", headers=admin, json={"heartbeat_s": 86400})
    assert r.status_code == 200
    assert platform.devices.mark_offline(_now() + _td(hours=1)) == []


def test_a_departments_rule_never_touches_another_departments_devices(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    from tests.conftest import add_user, login

    key = _device(client, admin, "bin-epb")  # an environmental-protection bin
    add_user(platform, "police.sup", "supervisor", "police")
    police = login(client, "police.sup")
    r = client.post(
        "/api/v1/alert-rules",
        headers=police,
        json={
            "name": "anything above 0.5",
            "key": "fill",
            "direction": "above",
            "raise_at": 0.5,
            "clear_at": 0.2,
        },
    )
    assert r.status_code == 201 and r.json()["department"] == "police"
    spy = client.post(
        "/api/v1/alert-rules",
        headers=police,
        json={
            "name": "watch that bin",
            "key": "fill",
            "direction": "above",
            "raise_at": 0.5,
            "clear_at": 0.2,
            "device_id": "bin-epb",
        },
    )
    assert spy.status_code == 422 and spy.json()["field"] == "device_id"
    _send(client, key, 1, fill=0.9)
    assert _alerts(platform) == []  # the police rule did not fire on the EPB bin
    add_user(platform, "epb.sup", "supervisor", "epb")
    epb = login(client, "epb.sup")
    assert [x["name"] for x in client.get("/api/v1/alert-rules", headers=epb).json()] == []
    city = client.post(
        "/api/v1/alert-rules",
        headers=admin,
        json={
            "name": "city-wide full",
            "key": "fill",
            "direction": "above",
            "raise_at": 0.8,
            "clear_at": 0.5,
        },
    )
    assert city.json()["department"] is None
    assert [x["name"] for x in client.get("/api/v1/alert-rules", headers=epb).json()] == [
        "city-wide full"
    ]
    _send(client, key, 2, fill=0.95)
    assert [a.kind for a in _alerts(platform)] == ["threshold"]


def test_a_threshold_alert_carries_what_each_language_words_it_from(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    """The stored sentence stays (older readers), and beside it the facts a page words in its
    own language: the rule's names, the metric, the value and limit, their unit (a share)."""
    key = _device(client, admin)
    names = {"zh-TW": "清潔箱將滿", "en": "Bin nearly full"}
    r = client.post(
        "/api/v1/alert-rules",
        headers=admin,
        json={"name": "清潔箱將滿", "names": names, "key": "fill", "direction": "above"}
        | {"raise_at": 0.8, "clear_at": 0.5, "device_type": "litter_bin"},
    )
    assert r.status_code == 201 and r.json()["names"] == names, r.text
    _send(client, key, 1, fill=0.808)
    (a,) = client.get("/api/v1/alerts", headers=admin).json()["items"]
    assert a["message"] == "清潔箱將滿: fill = 0.808 (≥ 0.8)"
    assert a["rule_name"] == names and a["rule_id"] == r.json()["id"]
    assert (a["metric"], a["value"], a["threshold"], a["comparison"], a["unit"]) == (
        "fill",
        0.808,
        0.8,
        "above",
        "share",
    )
    (ev,) = [p for t, p, _ in _events(platform, "alert.opened")]
    assert ev["rule_name"] == names and ev["unit"] == "share"


@pytest.mark.parametrize(
    "names",
    [{"english": "x"}, {"en": ""}, {"en": "x" * 101}, "Bin full"],
)
def test_bad_rule_names_are_422(client: TestClient, admin: dict[str, str], names: Any) -> None:
    r = client.post(
        "/api/v1/alert-rules",
        headers=admin,
        json={"name": "r", "names": names, "key": "fill", "direction": "above"}
        | {"raise_at": 0.8, "clear_at": 0.5},
    )
    assert r.status_code == 422 and r.json()["field"].startswith("names"), r.text
