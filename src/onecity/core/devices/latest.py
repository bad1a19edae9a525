"""The newest reading of each of a device's keys: what the device page shows beside the
registry's facts (core.devices.service). A helper: it reads in the caller's session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from onecity.core.models import Reading


def latest_values(s: Session, device_id: str) -> dict[str, dict[str, Any]]:
    newest = (
        select(Reading.key, func.max(Reading.ts_ms).label("ts"))
        .where(Reading.device_id == device_id)
        .group_by(Reading.key)
        .subquery()
    )
    rows = s.execute(
        select(Reading.key, Reading.ts_ms, Reading.value).where(
            Reading.device_id == device_id,
            tuple_(Reading.key, Reading.ts_ms).in_(select(newest.c.key, newest.c.ts)),
        )
    )
    return {
        k: {"value": v, "ts": datetime.fromtimestamp(ts / 1000, UTC).isoformat()}
        for k, ts, v in rows
    }
