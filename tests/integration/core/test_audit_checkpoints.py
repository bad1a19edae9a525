"""Signed checkpoints anchor the audit chain outside the database: whoever can write the
database can recompute every hash and move the head, but cannot sign a checkpoint."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, text
from typer.testing import CliRunner

from onecity.cli import app
from onecity.core import audit, audit_anchor, clock
from onecity.core.models import AuditHead, AuditRecord
from onecity.core.platform import Platform
from onecity.core.workers import audit_checkpoint_loop
from onecity.settings import Settings

runner = CliRunner()


def _cli(platform: Platform, *args: str) -> tuple[int, str]:
    s = platform.settings
    r = runner.invoke(
        app,
        ["audit", *args],
        env={
            "ONECITY_DATABASE_URL": s.database_url,
            "ONECITY_ENVIRONMENT": "test",
            "ONECITY_AUDIT_CHECKPOINT_DIR": str(s.audit_checkpoint_dir),
        },
    )
    return r.exit_code, r.output


def _activity(client: TestClient, admin: dict[str, str], n: int = 6, first: int = 0) -> None:
    for i in range(first, first + n):
        r = client.post(
            "/api/v1/devices",
            headers=admin,
            json={"id": f"bin-{i}", "name": "b", "type": "litter_bin", "department": "epb"},
        )
        assert r.status_code == 201


def _rewrite_from(platform: Platform, first: int, actor: str = "mallory") -> None:
    """What an attacker with database access does: edit record `first`, recompute every hash
    from there on, and move the head so that the chain verifies again."""
    with platform.db.session() as s:
        recs = s.execute(
            select(AuditRecord).where(AuditRecord.seq >= first).order_by(AuditRecord.seq)
        ).scalars()
        prev = None
        for rec in recs:
            if rec.seq == first:
                rec.actor = actor
            if prev is not None:
                rec.prev_hash = prev
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
            prev = rec.hash
        head = s.get(AuditHead, 1)
        assert head is not None and prev is not None
        head.last_hash = prev


def _truncate(platform: Platform, keep: int) -> None:
    """Delete every record after `keep` and point the head at the last one kept."""
    with platform.db.engine.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq > :k"), {"k": keep})
        last = c.execute(text("SELECT hash FROM audit_log WHERE seq = :k"), {"k": keep}).scalar()
        c.execute(text("UPDATE audit_head SET seq = :k, last_hash = :h"), {"k": keep, "h": last})


def test_untouched_chain_verifies_against_its_checkpoint(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin)
    code, out = _cli(platform, "checkpoint")
    assert code == 0, out
    assert "checkpoint written at record 7" in out
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={"id": "later", "name": "b", "type": "litter_bin", "department": "epb"},
    )
    assert r.status_code == 201
    code, out = _cli(platform, "verify")
    assert code == 0, out
    assert "audit log intact" in out and "1 signed checkpoint(s)" in out
    assert client.get("/api/v1/audit/verify", headers=admin).json()["intact"] is True


def test_rewrite_with_recomputed_hashes_and_head_is_detected(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin)
    assert _cli(platform, "checkpoint")[0] == 0
    _rewrite_from(platform, 3)
    with platform.db.read() as s:
        assert audit.verify(s)[1] == []  # the chain alone cannot tell
    code, out = _cli(platform, "verify")
    assert code == 1, out
    assert "record 7: record rewritten" in out
    assert "TAMPERED" in out
    body = client.get("/api/v1/audit/verify", headers=admin).json()
    assert body["intact"] is False
    assert [f["seq"] for f in body["findings"]] == [7]


def test_rewrite_is_narrowed_between_two_checkpoints(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin, 2)
    assert _cli(platform, "checkpoint")[0] == 0  # at record 3
    _activity(client, admin, 2, first=2)
    assert _cli(platform, "checkpoint")[0] == 0  # at record 5
    _rewrite_from(platform, 4)
    code, out = _cli(platform, "verify")
    assert code == 1
    assert "records 4 to 5 rewritten" in out


def test_deleting_the_last_records_is_detected(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin)
    assert _cli(platform, "checkpoint")[0] == 0
    _truncate(platform, 4)
    with platform.db.read() as s:
        assert audit.verify(s)[1] == []  # the chain alone cannot tell
    code, out = _cli(platform, "verify")
    assert code == 1, out
    assert "truncated" in out and "7 records" in out and "ends at record 4" in out


def test_a_forged_checkpoint_line_is_named(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin)
    assert _cli(platform, "checkpoint")[0] == 0
    path = Path(platform.settings.audit_checkpoint_dir) / "checkpoints.jsonl"
    line = json.loads(path.read_text().splitlines()[-1])
    # An attacker truncates, then appends a checkpoint that agrees with the shorter log.
    _truncate(platform, 4)
    with platform.db.read() as s:
        head = s.get(AuditHead, 1)
        assert head is not None
        forged = {**line, "seq": 4, "count": 4, "head_hash": head.last_hash}
    other = Ed25519PrivateKey.generate()
    payload = json.dumps(
        [forged["seq"], forged["head_hash"], forged["count"], forged["at"], forged["key_id"]],
        separators=(",", ":"),
    ).encode()
    forged["signature"] = base64.b64encode(other.sign(payload)).decode()
    with path.open("a") as f:
        f.write(json.dumps(forged) + "\n")
    code, out = _cli(platform, "verify")
    assert code == 1
    assert "checkpoint line 2: signature does not verify" in out
    assert "truncated" in out  # the genuine line still counts


def test_checkpoint_from_an_unknown_key_is_refused(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin)
    assert _cli(platform, "checkpoint")[0] == 0
    path = Path(platform.settings.audit_checkpoint_dir) / "checkpoints.jsonl"
    line = json.loads(path.read_text().splitlines()[-1])
    with path.open("a") as f:
        f.write(json.dumps({**line, "key_id": "0" * 16}) + "\n")
        f.write("not json\n")
    code, out = _cli(platform, "verify")
    assert code == 1
    assert "checkpoint line 2: signed by an unknown key" in out
    assert "checkpoint line 3: not a checkpoint" in out


def test_production_without_a_signing_key_does_not_start() -> None:
    with pytest.raises(ValidationError, match="ONECITY_AUDIT_SIGNING_KEY"):
        Settings(environment="production", audit_signing_key="")


def test_a_configured_key_signs_and_its_public_half_verifies(
    client: TestClient, admin: dict[str, str], platform: Platform, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_file = tmp_path / "audit.key"
    key_file.write_text(base64.b64encode(seed).decode() + "\n")
    _activity(client, admin)
    env = {
        "ONECITY_DATABASE_URL": platform.settings.database_url,
        "ONECITY_ENVIRONMENT": "production",
        "ONECITY_AUDIT_CHECKPOINT_DIR": str(tmp_path / "cp"),
        "ONECITY_AUDIT_SIGNING_KEY": str(key_file),
        "ONECITY_CARD_LINK_SECRET": "s" * 32,
    }
    r = runner.invoke(app, ["audit", "checkpoint"], env=env)
    assert r.exit_code == 0, r.output
    # An auditor's machine holds only the public key.
    env["ONECITY_AUDIT_SIGNING_KEY"] = base64.b64encode(
        Ed25519PrivateKey.generate().private_bytes_raw()
    ).decode()
    env["ONECITY_AUDIT_VERIFY_KEYS"] = base64.b64encode(pub).decode()
    r = runner.invoke(app, ["audit", "verify"], env=env)
    assert r.exit_code == 0, r.output
    assert "1 signed checkpoint(s)" in r.output


@contextmanager
def _later(minutes: float) -> Iterator[None]:
    """The platform clock `minutes` on: the records made so far are that much older."""
    before = clock.offset()
    clock.set_offset(before + timedelta(minutes=minutes))
    try:
        yield
    finally:
        clock.set_offset(before)


def test_a_missing_checkpoint_file_is_a_finding_once_records_are_older_than_the_interval(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin)
    path = Path(platform.settings.audit_checkpoint_dir) / "checkpoints.jsonl"
    assert not path.exists()
    code, out = _cli(platform, "verify")  # a fresh installation: the worker has not run yet
    assert code == 0, out
    with _later(20):  # past twice the 5-minute interval, within the admin's session
        code, out = _cli(platform, "verify")
        assert code == 1, out
        assert f"no signed checkpoints found at {path}" in out
        body = client.get("/api/v1/audit/verify", headers=admin).json()
        assert body["intact"] is False
        assert any("no signed checkpoints" in f["problem"] for f in body["findings"])


def test_an_emptied_checkpoint_file_is_a_finding(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin)
    assert _cli(platform, "checkpoint")[0] == 0
    path = Path(platform.settings.audit_checkpoint_dir) / "checkpoints.jsonl"
    path.write_text("")
    with _later(60):
        code, out = _cli(platform, "verify")
    assert code == 1, out
    assert "no signed checkpoints found" in out


def test_records_left_unsigned_too_long_are_a_finding(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    """The file lost its latest lines (or the worker stopped): the records after the newest
    remaining checkpoint have gone unsigned for longer than the worker would let them."""
    _activity(client, admin, 2)
    assert _cli(platform, "checkpoint")[0] == 0  # at record 3
    _activity(client, admin, 2, first=2)
    assert _cli(platform, "checkpoint")[0] == 0  # at record 5
    path = Path(platform.settings.audit_checkpoint_dir) / "checkpoints.jsonl"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    assert _cli(platform, "verify")[0] == 0  # within the interval nothing can be said yet
    with _later(60):
        code, out = _cli(platform, "verify")
    assert code == 1, out
    assert "records after 3 have no signed checkpoint" in out


def test_checkpoint_refuses_to_sign_a_rewritten_chain(
    client: TestClient,
    admin: dict[str, str],
    platform: Platform,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _activity(client, admin)
    assert _cli(platform, "checkpoint")[0] == 0  # at record 7
    _activity(client, admin, 2, first=6)
    _rewrite_from(platform, 3, actor="mallory")
    path = Path(platform.settings.audit_checkpoint_dir) / "checkpoints.jsonl"
    lines = path.read_text()
    with caplog.at_level(logging.ERROR, logger="onecity.core.audit_anchor"):
        code, out = _cli(platform, "checkpoint")
    assert code == 1, out
    assert "refused" in out and "record 7: record rewritten" in out
    assert path.read_text() == lines  # nothing signed
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and all("mallory" not in r.getMessage() for r in errors)
    code, out = _cli(platform, "verify")
    assert code == 1 and "record 7: record rewritten" in out


def test_checkpoint_refuses_to_sign_a_broken_chain_after_the_last_checkpoint(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin)
    assert _cli(platform, "checkpoint")[0] == 0  # at record 7
    _activity(client, admin, 3, first=6)
    with platform.db.engine.begin() as c:
        c.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 9"))
    path = Path(platform.settings.audit_checkpoint_dir) / "checkpoints.jsonl"
    lines = path.read_text()
    code, out = _cli(platform, "checkpoint")
    assert code == 1, out
    assert "record 9: record edited" in out
    assert path.read_text() == lines


def test_the_worker_does_not_sign_a_rewritten_chain(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _activity(client, admin)
    assert _cli(platform, "checkpoint")[0] == 0
    _activity(client, admin, 1, first=6)
    _rewrite_from(platform, 3)
    path = Path(platform.settings.audit_checkpoint_dir) / "checkpoints.jsonl"
    lines = path.read_text()
    audit_checkpoint_loop(platform).step()  # logs, does not raise
    assert path.read_text() == lines


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("audit_verify_keys", "not base64!"),
        ("audit_verify_keys", base64.b64encode(b"sixteen bytes..!").decode()),
        ("audit_verify_keys", "," + base64.b64encode(b"x" * 33).decode()),
        ("audit_signing_key", "not a key"),
        ("audit_signing_key", base64.b64encode(b"x" * 31).decode()),
        ("audit_signing_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
    ],
)
def test_a_malformed_audit_key_stops_start_up_with_a_clear_message(field: str, value: str) -> None:
    name = "ONECITY_" + field.upper()
    with pytest.raises(ValidationError, match=name) as e:
        Settings(environment="test", **{field: value})  # type: ignore[arg-type]
    assert value.strip(",") not in str(e.value)  # a key is never echoed


def test_a_missing_signing_key_file_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="ONECITY_AUDIT_SIGNING_KEY"):
        Settings(
            environment="production",
            audit_signing_key=str(tmp_path / "absent.key"),
            card_link_secret="s" * 32,
        )


def test_well_formed_audit_keys_are_accepted(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "audit.key"
    key_file.write_text(base64.b64encode(key.private_bytes_raw()).decode() + "\n")
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    Settings(
        environment="production",
        audit_signing_key=str(key_file),
        audit_verify_keys=f" {base64.b64encode(pub).decode()} ,",
        card_link_secret="s" * 32,
    )


def test_an_old_log_without_checkpoints_is_signed_only_when_the_operator_says_so(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    """Removing the file must not let the worker sign a fully recomputed chain afresh."""
    _activity(client, admin)
    path = Path(platform.settings.audit_checkpoint_dir) / "checkpoints.jsonl"
    with _later(60):
        audit_checkpoint_loop(platform).step()
        assert not path.exists()
        code, out = _cli(platform, "checkpoint")
        assert code == 1 and "no signed checkpoints found" in out, out
        code, out = _cli(platform, "checkpoint", "--first")
        assert code == 0 and "checkpoint written at record 7" in out, out
        assert _cli(platform, "verify")[0] == 0


def test_records_appended_while_checking_do_not_block_the_checkpoint(
    client: TestClient,
    admin: dict[str, str],
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The head is read first; records other requests add during the walk are left to the
    next checkpoint, not taken for a broken chain."""
    _activity(client, admin)
    assert _cli(platform, "checkpoint")[0] == 0  # at record 7
    _activity(client, admin, 2, first=6)
    walk = audit.verify_from

    def busy(*args: object) -> list[audit.Finding]:
        with platform.db.session() as s:
            audit.append(s, actor="ops", action="device.create", target="device:busy")
        return walk(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "verify_from", busy)
    cp = audit_anchor.write_checkpoint(platform.db, platform.settings)
    assert cp is not None and cp.seq == 9
    monkeypatch.setattr(audit, "verify_from", walk)
    assert audit_anchor.write_checkpoint(platform.db, platform.settings) is not None
    assert _cli(platform, "verify")[0] == 0
