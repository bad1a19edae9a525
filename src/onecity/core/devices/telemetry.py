"""Telemetry queries: a key's series over a range, raw or downsampled into buckets (average,
minimum, maximum, count), and its export. The latest value of each key is core.devices.latest
(the device registry shows it too)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onecity.core import audit
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import utcnow
from onecity.core.devices import schemas as sc
from onecity.core.devices.service import DeviceService
from onecity.core.errors import Invalid
from onecity.core.models import Reading

MAX_POINTS = 5000


class TelemetryQueries:
    def __init__(self, devices: DeviceService) -> None:
        self.devices = devices

    def series(
        self,
        who: Principal,
        device_id: str,
        key: str,
        start: datetime,
        end: datetime,
        bucket_s: int | None,
    ) -> sc.Series:
        require(who, Perm.TELEMETRY_READ)
        if start.tzinfo is None or end.tzinfo is None:
            raise Invalid("from and to need a time zone", field="from")
        if end <= start:
            raise Invalid("'to' must be after 'from'", field="to")
        if bucket_s is not None and not 1 <= bucket_s <= 366 * 86400:
            raise Invalid("bucket must be between 1 s and a year", field="bucket")
        a, b = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        with self.devices.db.read() as s:
            self.devices.visible(s, who, device_id)
            base = (
                Reading.device_id == device_id,
                Reading.key == key,
                Reading.ts_ms >= a,
                Reading.ts_ms < b,
            )
            if bucket_s is None:
                points = _raw_points(s, base)
            else:
                points = _bucketed_points(s, base, bucket_s * 1000, b - a)
        return sc.Series(
            device_id=device_id, key=key, bucket_s=bucket_s, points=points, as_of=utcnow()
        )

    def export(
        self,
        who: Principal,
        device_id: str,
        key: str,
        start: datetime,
        end: datetime,
        bucket_s: int | None,
        source: str = "",
    ) -> sc.Series:
        """A series for taking away (as a file): read like `series`, and the export recorded
        in the audit trail, in one unit of work of its own."""
        require(who, Perm.TELEMETRY_EXPORT)
        data = self.series(who, device_id, key, start, end, bucket_s)
        with self.devices.db.session() as s:
            audit.append(
                s,
                actor=who.username,
                action="data.export",
                target=f"{device_id}/{key}",
                source=source,
                detail={"from": start.isoformat(), "to": end.isoformat(), "rows": len(data.points)},
            )
        return data


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _raw_points(s: Session, where: tuple[Any, ...]) -> list[sc.Point]:
    rows = s.execute(
        select(Reading.ts_ms, Reading.value)
        .where(*where)
        .order_by(Reading.ts_ms)
        .limit(MAX_POINTS + 1)
    ).all()
    if len(rows) > MAX_POINTS:
        raise Invalid(
            f"more than {MAX_POINTS} points in range; ask for a bucket "
            "(e.g. bucket=60) to downsample",
            field="bucket",
        )
    return [sc.Point(ts=_dt(t), value=v) for t, v in rows]


def _bucketed_points(s: Session, where: tuple[Any, ...], bms: int, span_ms: int) -> list[sc.Point]:
    if span_ms // bms > MAX_POINTS:
        raise Invalid(f"more than {MAX_POINTS} buckets; use a larger bucket", field="bucket")
    # Raw "/" on two integers is integer division on both SQLite and PostgreSQL.
    bucket = (Reading.ts_ms.op("/")(bms) * bms).label("b")
    rows = s.execute(
        select(
            bucket,
            func.avg(Reading.value),
            func.min(Reading.value),
            func.max(Reading.value),
            func.count(),
        )
        .where(*where)
        .group_by(bucket)
        .order_by(bucket)
    ).all()
    return [
        sc.Point(ts=_dt(int(t)), value=float(avg), min=mn, max=mx, count=int(c))
        for t, avg, mn, mx, c in rows
    ]
