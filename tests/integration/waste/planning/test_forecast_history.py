"""Fill histories from the readings table, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from onecity.core.models import Reading
from onecity.core.platform import Platform
from onecity.waste.planning.history import (
    DEFAULT_RATE_PER_HOUR,
    fill_history,
    fit_all,
)
from onecity.waste.simulation.station_config import CAN, COMPARTMENTS, GARBAGE, PET

T0 = datetime(2026, 3, 2, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)
HOUR_MS = 3_600_000


def store(p: Platform, rows: list[tuple[str, int, str, int, float]]) -> None:
    with p.db.session() as s:
        s.add_all(
            Reading(device_id=d, seq=seq, key=k, ts_ms=ts, value=v) for d, seq, k, ts, v in rows
        )


def test_fill_history_groups_and_sorts_fill_readings_only(platform: Platform) -> None:
    rows = [
        # neither insertion nor primary-key order is time order: the query must sort
        ("st-a", 1, f"{GARBAGE}.fill", MS + 2 * HOUR_MS, 0.30),
        ("st-a", 3, f"{GARBAGE}.fill", MS + HOUR_MS, 0.20),
        ("st-a", 2, f"{GARBAGE}.fill", MS, 0.10),
        ("st-a", 1, f"{PET}.fill", MS, 0.05),
        ("st-a", 2, f"{PET}.fill", MS + HOUR_MS, 0.06),
        ("st-b", 7, f"{CAN}.fill", MS + 500, 0.5),
        # other keys of the same messages
        ("st-a", 2, f"{GARBAGE}.weight_kg", MS, 31.0),
        ("st-a", 2, f"{GARBAGE}.fillx", MS, 0.9),
        ("st-a", 2, "fill", MS, 0.9),
        ("st-a", 2, f"{GARBAGE}_fill", MS, 0.9),
        ("st-b", 7, "heartbeat", MS + 500, 1.0),
        # outside the window, or a station not asked for
        ("st-a", 0, f"{GARBAGE}.fill", MS - 1, 0.01),
        ("st-a", 4, f"{GARBAGE}.fill", MS + 3 * HOUR_MS, 0.40),
        ("st-c", 1, f"{GARBAGE}.fill", MS, 0.7),
    ]
    store(platform, rows)
    with platform.db.read() as s:
        got = fill_history(s, ["st-a", "st-b", "st-none"], T0, T0 + timedelta(hours=3))
    assert set(got) == {("st-a", GARBAGE), ("st-a", PET), ("st-b", CAN)}
    want = {
        ("st-a", GARBAGE): ([0, 3600, 7200], [0.10, 0.20, 0.30]),
        ("st-a", PET): ([0, 3600], [0.05, 0.06]),
        ("st-b", CAN): ([0.5], [0.5]),
    }
    for key, (dt, fill) in want.items():
        ts, values = got[key]
        assert ts.tolist() == pytest.approx([T0.timestamp() + d for d in dt])
        assert values.tolist() == pytest.approx(fill)
    with platform.db.read() as s:
        assert fill_history(s, [], T0, T0 + timedelta(hours=3)) == {}


def test_fit_all_fits_observed_compartments_and_defaults_the_rest(platform: Platform) -> None:
    # st-a: garbage rising 0.01 an hour for a week, reported every 15 minutes
    rows = [
        ("st-a", i, f"{GARBAGE}.fill", MS + i * HOUR_MS // 4, round(i * 0.0025 % 0.8, 4))
        for i in range(7 * 96)
    ]
    rows.append(("st-b", 1, f"{GARBAGE}.fill", MS, 0.2))  # one reading: too little
    store(platform, rows)
    now = T0 + timedelta(days=7)
    with platform.db.read() as s:
        models = fit_all(s, ["st-a", "st-b"], now, days=28, tz=ZoneInfo(platform.city.timezone))
    assert set(models) == {(sid, c) for sid in ("st-a", "st-b") for c in COMPARTMENTS}
    seen = models[("st-a", GARBAGE)]
    assert seen.n_hours > 7 * 24 - 2
    assert seen.mean_rate == pytest.approx(0.01, rel=1e-3)
    # st-b's garbage: flat, at the well-observed peer's rate
    assert np.allclose(models[("st-b", GARBAGE)].rates, seen.mean_rate)
    assert models[("st-b", GARBAGE)].n_hours == 0
    # nobody's PET is observed: the documented default
    assert models[("st-a", PET)].mean_rate == pytest.approx(DEFAULT_RATE_PER_HOUR[PET])
