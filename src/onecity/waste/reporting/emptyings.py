"""What the stations' own scales saw taken out: each emptying of a compartment, as the fall
of its `<compartment>.weight_kg` between two consecutive readings.

Crews empty stations on their routes and from the jobs list, and seldom type a weight: the
station weighs its compartments anyway, so the weight it loses at an emptying is the
collected tonnage. Deposits only add weight, so a fall is an emptying; a fall smaller than
`MIN_SHARE` of what was there (or than `MIN_KG`) is the scale's noise and is not counted.

The fall is found by the database (`LAG` over the readings' index on device, key and time),
so a month of 10-second readings is not carried into Python."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from onecity.core.models import Reading

WEIGHT_SUFFIX = ".weight_kg"
MIN_KG = 1.0
MIN_SHARE = 0.3  # the monitoring rules' emptying drop, as a share of the weight


def emptyings(
    s: Session, stations: Sequence[str], lo: datetime, hi: datetime
) -> list[tuple[str, float, datetime]]:
    """(station, kg taken out, when) for every emptying seen in [lo, hi)."""
    if not stations:
        return []
    r = Reading
    lo_ms, hi_ms = int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)
    prev = func.lag(r.value).over(partition_by=(r.device_id, r.key), order_by=r.ts_ms)
    inner = (
        select(r.device_id, r.ts_ms, r.value, prev.label("prev"))
        .where(
            r.device_id.in_(list(stations)),
            r.key.like("%" + WEIGHT_SUFFIX),
            r.ts_ms >= lo_ms,
            r.ts_ms < hi_ms,
        )
        .subquery()
    )
    fall = inner.c.prev - inner.c.value
    q = select(inner.c.device_id, fall, inner.c.ts_ms).where(
        and_(inner.c.prev.is_not(None), fall >= MIN_KG, fall >= inner.c.prev * MIN_SHARE)
    )
    return [
        (sid, round(float(kg), 3), datetime.fromtimestamp(ms / 1000, UTC))
        for sid, kg, ms in s.execute(q).tuples()
    ]
