"""Upgrading a city whose device was pinned by one absurd sequence number before telemetry
epochs existed (min_seq 0, max_seq 2^63-1, ~9.2e18 gaps): the upgrade succeeds on both
databases, the readings far from the device's own range go to an epoch of their own, the
gaps are repaired, and the device's next readings join its real range. Both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from onecity.bootstrap import ROOT, seed_reference
from onecity.core.devices.ingest import Msg
from onecity.core.devices.service import delivery_out
from onecity.core.models import DeliveryAccount, DeliveryEpoch, Department, Device
from onecity.core.modules import start_platform
from tests.conftest import PG_ADMIN_URL, _pg_url, make_settings

BEFORE = "0020_open311_limits"
TOP = 2**63 - 1
T0 = 1_800_000_000_000
MS = 300_000  # a device whose seq is its clock in ms, one message every five minutes


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    name = f"onecity_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _alembic(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _old_data(url: str) -> None:
    """The schema before epochs: readings keyed (device, seq, key), one account per device."""
    engine = create_engine(url)
    seqs = [0, 1, 2, 3, 4, 5, TOP]
    try:
        with Session(engine) as s, s.begin():
            s.add(Department(code="epb", name_zh="環保局", name_en="EPB"))
            s.flush()
            for dev in ("pinned", "fine", "ms"):
                s.add(Device(id=dev, name=dev, type="litter_bin", department_code="epb"))
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO readings (device_id, seq, key, ts_ms, value) "
                    "VALUES (:d, :q, 'fill', :ts, 0.5)"
                ),
                [{"d": "pinned", "q": q, "ts": T0 + i} for i, q in enumerate(seqs)]
                + [{"d": "fine", "q": q, "ts": T0 + q} for q in (10, 11, 13)]
                + [{"d": "ms", "q": T0 + i * MS, "ts": T0 + i * MS} for i in range(40)],
            )
            c.execute(
                text(
                    "INSERT INTO delivery_accounts (device_id, received, duplicates, rejected, "
                    "readings, min_seq, max_seq) VALUES (:d, :n, 0, 0, :n, :lo, :hi)"
                ),
                [
                    {"d": "pinned", "n": len(seqs), "lo": 0, "hi": TOP},
                    {"d": "fine", "n": 3, "lo": 10, "hi": 13},
                    {"d": "ms", "n": 40, "lo": T0, "hi": T0 + 39 * MS},
                ],
            )
    finally:
        engine.dispose()


def test_a_pinned_account_is_repaired_by_the_upgrade(empty_url: str, tmp_path: Path) -> None:
    cfg = _alembic(empty_url)
    command.upgrade(cfg, BEFORE)
    _old_data(empty_url)
    # Before the fix: PostgreSQL aborted here, "bigint out of range" (0 .. 2^63-1 spans 2^63).
    command.upgrade(cfg, "head")
    p = start_platform(make_settings(empty_url, audit_checkpoint_dir=tmp_path / "audit"))
    try:
        seed_reference(p)
        with p.db.read() as s:
            pinned = delivery_out(s.get(DeliveryAccount, "pinned"))
            fine = delivery_out(s.get(DeliveryAccount, "fine"))
        # Before the fix: gaps 9223372036854775801 (SQLite) for good.
        assert (pinned.received, pinned.gaps, pinned.restarts) == (7, 0, 1)
        assert (fine.received, fine.gaps, fine.restarts) == (3, 1, 0)
        out = p.ingester.write([Msg("pinned", q, T0 + 100 + q, (("fill", 0.7),)) for q in (6, 8)])
        assert (out.accepted, out.duplicates, out.restarts) == (2, 0, 0)
        # A resend of an old reading is still a duplicate, in either epoch.
        again = p.ingester.write([Msg("pinned", 3, T0 + 3, (("fill", 0.5),))])
        assert (again.accepted, again.duplicates) == (0, 1)
        with p.db.read() as s:
            pinned = delivery_out(s.get(DeliveryAccount, "pinned"))
        assert (pinned.received, pinned.gaps, pinned.restarts) == (9, 1, 1)
        assert (pinned.first_seq, pinned.last_seq) == (0, 8)
        # Every reading of the ms device was a jump: 40 epochs counted, 17 rows kept (the
        # low end and the last 16), and its readings are still recognised when resent.
        with p.db.read() as s:
            ms = delivery_out(s.get(DeliveryAccount, "ms"))
            rows = s.scalar(
                select(func.count())
                .select_from(DeliveryEpoch)
                .where(DeliveryEpoch.device_id == "ms")
            )
        assert (ms.received, ms.gaps, ms.restarts, ms.epoch, rows) == (40, 0, 39, 39, 17)
        resent = p.ingester.write(
            [Msg("ms", T0 + i * MS, T0 + i * MS, (("fill", 0.5),)) for i in (0, 5, 39)]
        )
        assert (resent.accepted, resent.duplicates) == (0, 3)
    finally:
        p.db.dispose()
