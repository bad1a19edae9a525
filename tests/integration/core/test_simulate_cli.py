"""`onecity devices simulate` sends numbered telemetry with each device's own key to a real
server, and the delivery accounts show every message arriving once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onecity.app import create_app
from onecity.bootstrap import seed_demo
from onecity.cli import app as cli
from onecity.core.models import DeliveryAccount
from onecity.core.platform import Platform
from tests.conftest import serving


def test_simulated_devices_report_over_http(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "keys.json"
    seed_demo(platform, keys, youbike=5, bins=5)
    assert len(json.loads(keys.read_text())) == 10
    monkeypatch.chdir(tmp_path)  # the simulator keeps its sequence numbers under var/
    with serving(create_app(platform.settings, platform)) as base:
        r = CliRunner().invoke(
            cli,
            [
                "devices",
                "simulate",
                "--count",
                "10",
                "--rate",
                "20",
                "--duration",
                "2.5",
                "--server",
                base,
                "--keys-file",
                str(keys),
            ],
        )
    assert r.exit_code == 0, r.output
    with platform.db.read() as s:
        accounts = s.query(DeliveryAccount).all()
    assert len(accounts) == 10
    assert sum(a.received for a in accounts) >= 40
    assert all(a.duplicates == 0 and a.rejected == 0 for a in accounts)
    assert all(a.max_seq is not None and a.min_seq == 1 for a in accounts)
    assert all(a.received == a.max_seq for a in accounts)  # no gaps


def test_fresh_database_with_an_old_keys_file_gets_working_keys(
    platform: Platform, tmp_path: Path
) -> None:
    """`rm var/onecity.db` but not the keys file: the demo must not post with keys the new
    database has never seen (every post would be refused)."""
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"bin-0001": "ock_0123456789abcdef_stale-secret"}))
    seed_demo(platform, keys, youbike=0, bins=3)
    fresh = json.loads(keys.read_text())
    assert fresh["bin-0001"] != "ock_0123456789abcdef_stale-secret"
    for device_id, key in fresh.items():
        assert platform.devices.authenticate_key(key) == device_id
