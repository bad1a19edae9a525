"""The `onecity` command against a real database: audit verify, users, schema upgrade."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from onecity.cli import app
from onecity.core.auth.service import AuthService
from onecity.core.db import Database
from onecity.core.models import AuditRecord, Department, User
from onecity.core.platform import Platform
from tests.conftest import make_settings

runner = CliRunner()


def _run(db_url: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    r = runner.invoke(
        app,
        list(args),
        input=stdin,
        env={
            "ONECITY_DATABASE_URL": db_url,
            "USER": "ops.person",
            "ONECITY_TOTP_REQUIRED_ROLES": "",
            # Not the working directory's var/audit: this database has no checkpoints.
            "ONECITY_AUDIT_CHECKPOINT_DIR": tempfile.mkdtemp(prefix="onecity-audit-"),
        },
    )
    return r.exit_code, r.output


def _some_activity(client: TestClient, admin: dict[str, str]) -> None:
    for i in range(3):
        r = client.post(
            "/api/v1/devices",
            headers=admin,
            json={"id": f"bin-{i}", "name": "b", "type": "litter_bin", "department": "epb"},
        )
        assert r.status_code == 201


def test_audit_verify_exits_0_when_intact(
    client: TestClient, admin: dict[str, str], db_url: str
) -> None:
    _some_activity(client, admin)
    code, out = _run(db_url, "audit", "verify")
    assert code == 0, out
    assert "audit log intact: 4 records verified" in out


def test_audit_verify_exits_1_and_names_the_edited_record(
    client: TestClient, admin: dict[str, str], db_url: str, platform: Platform
) -> None:
    _some_activity(client, admin)
    with platform.db.engine.begin() as c:
        c.execute(text("UPDATE audit_log SET target = 'bin-x' WHERE seq = 3"))
    code, out = _run(db_url, "audit", "verify")
    assert code == 1
    assert "record 3: record edited" in out
    assert "TAMPERED: 1 problem(s) in 4 records" in out


def test_audit_verify_names_a_deleted_record(
    client: TestClient, admin: dict[str, str], db_url: str, platform: Platform
) -> None:
    _some_activity(client, admin)
    with platform.db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    code, out = _run(db_url, "audit", "verify")
    assert code == 1
    assert "record 2: record deleted" in out


def test_users_create_then_log_in(client: TestClient, db_url: str, platform: Platform) -> None:
    code, out = _run(
        db_url,
        "users",
        "create",
        "epb.op",
        "--role",
        "operator",
        "--department",
        "epb",
        stdin="a-long-password\na-long-password\n",
    )
    assert code == 0, out
    assert "created epb.op (operator, epb)" in out
    r = client.post(
        "/api/v1/auth/login", json={"username": "epb.op", "password": "a-long-password"}
    )
    assert r.status_code == 200 and r.json()["role"] == "operator"
    with platform.db.read() as s:
        rec = s.execute(select(AuditRecord).where(AuditRecord.action == "user.create")).scalar_one()
    assert (rec.actor, rec.target) == ("cli:ops.person", "epb.op")


def test_users_create_refusals_say_why(db_url: str, platform: Platform) -> None:
    pw = "a-long-password\na-long-password\n"
    code, out = _run(db_url, "users", "create", "x.y", "--role", "mayor", stdin=pw)
    assert code == 2 and "unknown role 'mayor'" in out
    code, out = _run(
        db_url, "users", "create", "x.y", "--role", "crew", "--department", "nasa", stdin=pw
    )
    assert code == 2 and "unknown department 'nasa'" in out
    code, out = _run(db_url, "users", "create", "x.y", "--role", "crew", stdin="short\nshort\n")
    assert code == 2 and "at least 8 characters" in out
    assert _run(db_url, "users", "create", "x.y", "--role", "crew", stdin=pw)[0] == 0
    code, out = _run(db_url, "users", "create", "x.y", "--role", "crew", stdin=pw)
    assert code == 2 and "already exists" in out
    with platform.db.read() as s:
        assert [u for (u,) in s.execute(select(User.username))] == ["x.y"]


def test_users_totp_prints_a_working_secret(
    client: TestClient, db_url: str, platform: Platform
) -> None:
    pw = "a-long-password"
    assert (
        _run(
            db_url,
            "users",
            "create",
            "sup",
            "--role",
            "supervisor",
            "--department",
            "police",
            stdin=f"{pw}\n{pw}\n",
        )[0]
        == 0
    )
    code, out = _run(db_url, "users", "totp", "sup")
    assert code == 0, out
    secret = out.split(":")[-1].strip()
    ok = client.post(
        "/api/v1/auth/login",
        json={"username": "sup", "password": pw, "totp": pyotp.TOTP(secret).now()},
    )
    assert ok.status_code == 200
    no_code = client.post("/api/v1/auth/login", json={"username": "sup", "password": pw})
    assert no_code.status_code == 401 and no_code.json()["error"] == "totp_required"


def test_users_totp_for_unknown_user_is_a_message_not_a_traceback(
    db_url: str, platform: Platform
) -> None:
    code, out = _run(db_url, "users", "totp", "nobody")
    assert code == 2
    assert "no user 'nobody'" in out and "Traceback" not in out


def test_db_upgrade_builds_an_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, out = _run(url, "db", "upgrade")
    assert code == 0, out
    assert "database at head" in out
    db = Database(url)
    with db.read() as s:
        depts = sorted(c for (c,) in s.execute(select(Department.code)))
    assert depts == ["doit", "edu", "epb", "fire", "police", "pwd"]
    # And it is usable straight away.
    auth = AuthService(db, make_settings(url))
    auth.create_user(
        "t", username="first.admin", password="long-enough", role="admin", department="doit"
    )
    assert auth.login("first.admin", "long-enough", None).principal.role == "admin"
    db.dispose()
    assert _run(url, "db", "upgrade")[0] == 0  # running it again is harmless


def test_lists_are_tables_a_page_at_a_time(
    client: TestClient, admin: dict[str, str], db_url: str
) -> None:
    _some_activity(client, admin)  # bin-0, bin-1, bin-2
    code, out = _run(db_url, "devices", "list", "--limit", "2")
    assert code == 0, out
    assert "bin-0" in out and "bin-1" in out and "bin-2" not in out
    assert "showing 1–2 of 3 (next: --offset 2)" in out
    assert "┃ id" in out and "connectivity" in out  # a table with its header
    code, out = _run(db_url, "devices", "list", "--limit", "2", "--offset", "2")
    assert code == 0 and "bin-2" in out and "showing 3–3 of 3" in out and "next" not in out
    code, out = _run(db_url, "devices", "list", "--offset", "9")
    assert code == 0 and "nothing at offset 9: there are 3" in out
    code, out = _run(db_url, "devices", "list", "--type", "bike_dock")
    assert code == 0 and "nothing to show" in out
    code, out = _run(db_url, "devices", "list", "--limit", "0")
    assert code == 2 and "--limit must be from 1 to 500" in out
    code, out = _run(db_url, "users", "list")
    assert code == 0 and "admin" in out and "showing 1–" in out
    code, out = _run(db_url, "alerts", "list", "--state", "closed")
    assert code == 2 and "--state must be" in out
    code, out = _run(db_url, "alerts", "list")
    assert code == 0 and "nothing to show" in out


def test_status_is_a_table_of_the_platform(
    client: TestClient, admin: dict[str, str], db_url: str
) -> None:
    _some_activity(client, admin)
    code, out = _run(db_url, "status")
    assert code == 0, out
    assert "OneCity status" in out
    assert "3: 0 online, 0 offline, 3 unknown" in out
    assert "0: 0 critical, 0 warning, 0 info" in out


def test_telemetry_purge_counts_what_it_deleted(platform: Platform, db_url: str) -> None:
    import time

    from onecity.core.devices.ingest import Msg
    from onecity.core.models import Device

    with platform.db.session() as s:
        s.add(Device(id="d1", name="d1", type="litter_bin", department_code="epb"))
    old = int(time.time() * 1000) - 40 * 86_400_000
    platform.ingester.write([Msg("d1", i, old + i, (("fill", 0.1),)) for i in range(30)])
    code, out = _run(db_url, "telemetry", "purge", "--days", "30")
    assert code == 0 and "deleted 30 readings older than 30 days" in out, out
