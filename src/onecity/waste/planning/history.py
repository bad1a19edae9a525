"""Compartment fill histories from the stored telemetry, and fill models fitted to them.

Reads only (SQLAlchemy Core, one query); never commits: the caller's session owns the unit of
work. A station's readings are stored under its id as `device_id` with the keys of
`docs/waste.md`; every key ending in `.fill` is one compartment's fill level."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core.models import Reading
from onecity.waste.planning.forecast import (
    FillModel,
    ForecastError,
    check_series,
    fit,
    flat_model,
    offset_hours,
)
from onecity.waste.simulation.station_config import CAN, COMPARTMENTS, GARBAGE, PET

FILL_SUFFIX = ".fill"
# Less observed time than this and a fit says more about the week it saw than about the
# station: two days cover each hour of the day twice.
MIN_HOURS = 48.0
# Fill rate (share of capacity per hour) of a typical station (docs/waste.md, and the station
# simulator's defaults in station_config): ~160 kg of garbage a day into ~300 kg: 0.022/h;
# ~135 PET bottles a day into ~1,250: 0.0045/h; ~90 cans a day into ~3,000: 0.0013/h. Used
# where a compartment has too little history of its own and no other station's median (see
# `fit_all`) is available.
DEFAULT_RATE_PER_HOUR: Mapping[str, float] = {GARBAGE: 0.022, PET: 0.0045, CAN: 0.0013}
_FALLBACK_RATE = DEFAULT_RATE_PER_HOUR[GARBAGE]  # an unknown compartment: assume the busiest

History = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]


def fill_history(
    session: Session, station_ids: Sequence[str], since: datetime, until: datetime
) -> History:
    """Per (station id, compartment): (timestamps in seconds, fill) of the readings observed
    in [since, until), oldest first. Stations without readings are absent."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ForecastError("since and until must be datetimes with a time zone (e.g. UTC)")
    ids = sorted(set(station_ids))
    if not ids or until <= since:
        return {}
    r = Reading.__table__.c
    rows = session.execute(
        select(r.device_id, r.key, r.ts_ms, r.value)
        .where(
            r.device_id.in_(ids),
            r.key.endswith(FILL_SUFFIX, autoescape=True),
            r.ts_ms >= int(since.timestamp() * 1000),
            r.ts_ms < int(until.timestamp() * 1000),
        )
        .order_by(r.device_id, r.key, r.ts_ms, r.seq)
    ).all()
    grouped: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for device_id, key, ts_ms, value in rows:
        ts, fill = grouped.setdefault((device_id, key[: -len(FILL_SUFFIX)]), ([], []))
        ts.append(ts_ms / 1000)
        fill.append(value)
    return {k: (np.array(ts), np.array(fill)) for k, (ts, fill) in grouped.items()}


def fit_all(
    session: Session,
    station_ids: Sequence[str],
    now: datetime,
    days: int = 28,
    *,
    tz: tzinfo,
) -> dict[tuple[str, str], FillModel]:
    """A fill model for every station's compartments (the three of `station_config.COMPARTMENTS`
    and any other that reports a fill), from the `days` before `now`, by the local hours of
    the city's time zone `tz`.

    A compartment with under `MIN_HOURS` of usable history, or with readings that cannot be a
    fill (out of range: a sensor fault), gets a flat model (no seasonality) at the median
    long-run rate of the well-observed compartments of the same kind in this call: stations
    of one city and one call resemble each other more than a national figure does. With no
    such peers it is `DEFAULT_RATE_PER_HOUR` for the kind."""
    utc_offset_hours = offset_hours(tz, now)
    history = fill_history(session, station_ids, now - timedelta(days=days), now)
    fitted: dict[tuple[str, str], FillModel] = {}
    for key, (ts, fill) in history.items():
        try:
            check_series(ts, fill)
        except ForecastError:
            continue  # a faulty level sensor: treated like a station without history
        model = fit(ts, fill, utc_offset_hours=utc_offset_hours)
        if model.n_hours >= MIN_HOURS:
            fitted[key] = model
    keys = {(sid, c) for sid in station_ids for c in COMPARTMENTS} | set(history)
    out: dict[tuple[str, str], FillModel] = {}
    for key in sorted(keys):
        if key in fitted:
            out[key] = fitted[key]
            continue
        peers = [m.mean_rate for (_, c), m in fitted.items() if c == key[1]]
        rate = float(np.median(peers)) if peers else DEFAULT_RATE_PER_HOUR.get(key[1])
        out[key] = flat_model(_FALLBACK_RATE if rate is None else rate, utc_offset_hours)
    return out
