"""Retention deletes old readings only, and keeps the delivery accounts."""

from __future__ import annotations

import time

from onecity.core.devices.ingest import Msg
from onecity.core.devices.retention import purge
from onecity.core.models import DeliveryAccount, Device, Reading
from onecity.core.platform import Platform


def test_purge_keeps_recent_readings_and_accounts(platform: Platform) -> None:
    with platform.db.session() as s:
        s.add(Device(id="d1", name="d1", type="litter_bin", department_code="epb"))
    now = int(time.time() * 1000)
    day = 86_400_000
    msgs = [Msg("d1", i, now - (i % 10) * day, (("fill", 0.1), ("t", 20.0))) for i in range(50)]
    platform.ingester.write(msgs)
    deleted = purge(platform.db, retention_days=5, now_ms=now + 1)
    # ages 5..9 days (half the messages, two readings each) fall outside five days
    assert deleted == 50
    with platform.db.read() as s:
        left = s.query(Reading).all()
        assert len(left) == 50
        assert all(r.ts_ms > now - 5 * day for r in left)
        acc = s.get(DeliveryAccount, "d1")
        assert acc is not None and acc.received == 50
    assert purge(platform.db, retention_days=5, now_ms=now + 1) == 0
