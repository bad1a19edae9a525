"""The audit log is a hash chain: tampering is found and named; audited actions are there."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from onecity.core import audit
from onecity.core.models import AuditRecord
from onecity.core.platform import Platform
from tests.conftest import add_user, login


def _activity(client: TestClient, admin: dict[str, str], platform: Platform) -> None:
    """A morning's work: a device, a key issued and revoked, a user, a role change, an export."""
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": "bin-1",
            "name": "Bin",
            "type": "litter_bin",
            "department": "epb",
            "location": {"type": "Point", "coordinates": [121.5645, 25.0375]},
        },
    )
    assert r.status_code == 201
    key_id = client.post("/api/v1/devices/bin-1/keys", headers=admin).json()["key_id"]
    assert client.delete(f"/api/v1/devices/bin-1/keys/{key_id}", headers=admin).status_code == 204
    add_user(platform, "epb.crew", "crew", "epb")
    client.put(
        "/api/v1/users/epb.crew/role", headers=admin, json={"role": "operator", "department": "epb"}
    )
    assert (
        client.get(
            "/api/v1/devices/bin-1/telemetry.csv", headers=admin, params={"key": "fill"}
        ).status_code
        == 200
    )


def _verify(client: TestClient, admin: dict[str, str]) -> dict[str, object]:
    r = client.get("/api/v1/audit/verify", headers=admin)
    assert r.status_code == 200
    body: dict[str, object] = r.json()
    return body


def _tamper(platform: Platform, sql: str, **params: object) -> None:
    with platform.db.engine.begin() as c:
        c.execute(text(sql), params)


def _count(platform: Platform) -> int:
    with platform.db.read() as s:
        return len(s.execute(select(AuditRecord.seq)).all())


def test_chain_is_intact_after_activity(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin, platform)
    v = _verify(client, admin)
    assert v == {"records": _count(platform), "intact": True, "findings": []}
    with platform.db.read() as s:
        rows = s.execute(
            select(AuditRecord.seq, AuditRecord.action).order_by(AuditRecord.seq)
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "login"),
        (2, "device.create"),
        (3, "device.key_issue"),
        (4, "device.key_revoke"),
        (5, "permission.change"),
        (6, "data.export"),
    ]


def test_edited_record_is_named(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin, platform)
    _tamper(platform, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    v = _verify(client, admin)
    assert v["intact"] is False
    assert v["findings"] == [{"seq": 3, "problem": "record edited: contents do not match its hash"}]


def test_edit_with_a_recomputed_hash_breaks_the_next_link(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin, platform)
    with platform.db.session() as s:
        rec = s.get(AuditRecord, 3)
        assert rec is not None
        rec.actor = "mallory"
        rec.hash = audit.record_hash(
            seq=rec.seq,
            at=rec.at,
            actor=rec.actor,
            action=rec.action,
            target=rec.target,
            source=rec.source,
            outcome=rec.outcome,
            detail=rec.detail,
            prev_hash=rec.prev_hash,
        )
    v = _verify(client, admin)
    assert v["intact"] is False
    assert [f["seq"] for f in v["findings"]] == [4]  # type: ignore[index, union-attr]


def test_deleted_middle_record_is_named(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin, platform)
    _tamper(platform, "DELETE FROM audit_log WHERE seq = 4")
    v = _verify(client, admin)
    assert v["intact"] is False
    findings = v["findings"]
    assert {"seq": 4, "problem": "record deleted (sequence gap)"} in findings  # type: ignore
    assert all(f["seq"] in (4, 5) for f in findings)  # type: ignore[attr-defined, index]


def test_deleted_last_record_is_detected(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin, platform)
    last = _count(platform)
    _tamper(platform, "DELETE FROM audit_log WHERE seq = :seq", seq=last)
    v = _verify(client, admin)
    assert v["intact"] is False
    assert v["findings"] == [{"seq": last, "problem": "record deleted (after the last one kept)"}]


def test_deleted_chain_tip_is_detected(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin, platform)
    last = _count(platform)
    _tamper(platform, "DELETE FROM audit_log WHERE seq = :seq", seq=last)
    _tamper(platform, "DELETE FROM audit_head")
    with platform.db.read() as s:
        _, findings = audit.verify(s)
    assert findings != []


def test_audited_actions_are_recorded_with_who_and_what(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin, platform)
    rows = client.get("/api/v1/audit", headers=admin).json()
    assert [r["seq"] for r in rows] == sorted((r["seq"] for r in rows), reverse=True)
    by_action = {r["action"]: r for r in rows}
    key_issue, key_revoke = by_action["device.key_issue"], by_action["device.key_revoke"]
    assert key_issue["actor"] == "root.admin" and key_issue["target"].startswith("bin-1/")
    assert key_revoke["target"] == key_issue["target"]
    export = by_action["data.export"]
    assert (export["actor"], export["target"]) == ("root.admin", "bin-1/fill")
    assert export["detail"]["rows"] == 0 and "from" in export["detail"]
    change = by_action["permission.change"]
    assert change["target"] == "epb.crew"
    assert change["detail"]["after"] == {"role": "operator", "department": "epb"}
    assert all(r["source"] == "testclient" for r in rows)
    older = client.get("/api/v1/audit", headers=admin, params={"before": 3, "limit": 10}).json()
    assert [r["seq"] for r in older] == [2, 1]


def test_refused_actions_leave_no_success_record(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    add_user(platform, "epb.crew", "crew", "epb")
    crew = login(client, "epb.crew")
    before = _count(platform)
    assert (
        client.post(
            "/api/v1/devices",
            headers=crew,
            json={"id": "x", "name": "x", "type": "litter_bin", "department": "epb"},
        ).status_code
        == 403
    )
    assert (
        client.get(
            "/api/v1/devices/none/telemetry.csv", headers=admin, params={"key": "fill"}
        ).status_code
        == 404
    )
    assert _count(platform) == before


def test_concurrent_appends_keep_one_chain(platform: Platform) -> None:
    """Several threads appending at once, starting from an empty log (so the first append
    races too), end with one gap-free chain that verifies."""
    threads_n, each = 8, 15
    start = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            for j in range(each):
                with platform.db.session() as s:
                    audit.append(s, actor=f"t{i}", action="test.append", target=str(j))
                time.sleep(0)
        except BaseException as e:  # reported below, not swallowed
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    with platform.db.read() as s:
        n, findings = audit.verify(s)
        seqs = [r for (r,) in s.execute(select(AuditRecord.seq).order_by(AuditRecord.seq))]
        per_actor = {
            a: c for a, c in s.execute(text("SELECT actor, COUNT(*) FROM audit_log GROUP BY actor"))
        }
    assert findings == []
    assert n == threads_n * each and seqs == list(range(1, n + 1))
    assert per_actor == {f"t{i}": each for i in range(threads_n)}
