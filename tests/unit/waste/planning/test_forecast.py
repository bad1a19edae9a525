"""Fill-level forecasts: the seasonal model beats a flat rate on simulated stations, recovers a
known pattern, and answers simple questions simply. No database, no clock."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onecity.waste.planning.backtest import Validation, validate
from onecity.waste.planning.forecast import (
    HOURS_PER_WEEK,
    Eta,
    FillModel,
    fit,
    flat_model,
)
from onecity.waste.simulation.station_config import (
    COMPARTMENTS,
    DEFAULT_SIM,
    INCIDENTS,
    TAIPEI_HOURS,
    IncidentSpec,
)
from onecity.waste.simulation.stations import StationSim

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, 08:00 in Taipei
QUARTER = timedelta(minutes=15)
TRAIN_DAYS, TEST_DAYS = 28, 14
STATIONS = ("fc-1", "fc-2", "fc-3", "fc-4")


def simulate(station: str, days: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A station reporting every 15 minutes with no incidents; we play the crew and empty a
    compartment as soon as it is seen at 90%, so there are many fill cycles."""
    cfg = replace(
        DEFAULT_SIM,
        report_every=QUARTER,
        incidents={n: IncidentSpec(0.0, None) for n in INCIDENTS},
    )
    sim = StationSim(station, seed=station, config=cfg, start=T0, popularity=1.0)
    ts: dict[str, list[float]] = {c: [] for c in COMPARTMENTS}
    fill: dict[str, list[float]] = {c: [] for c in COMPARTMENTS}
    at = T0
    while at < T0 + timedelta(days=days):
        at += QUARTER
        for sample in sim.advance(at):
            for c in COMPARTMENTS:
                ts[c].append(sample.observed_at.timestamp())
                fill[c].append(sample.values[f"{c}.fill"])
        for c in COMPARTMENTS:
            if sim.stats(c).fill >= 0.9:
                sim.empty(c, at)
    return {c: (np.array(ts[c]), np.array(fill[c])) for c in COMPARTMENTS}


@pytest.fixture(scope="module")
def held_out() -> Validation:
    """Validation pooled over every compartment of four simulated stations: 28 days to fit,
    14 held out."""
    split = (T0 + timedelta(days=TRAIN_DAYS)).timestamp()
    parts = [
        validate(ts, fill, train_until_s=split, target=0.8)
        for sid in STATIONS
        for ts, fill in simulate(sid, TRAIN_DAYS + TEST_DAYS).values()
    ]
    parts = [v for v in parts if v.n]
    n = sum(v.n for v in parts)
    return Validation(
        n=n,
        mae_hours=sum(v.n * v.mae_hours for v in parts) / n,
        baseline_mae_hours=sum(v.n * v.baseline_mae_hours for v in parts) / n,
        band_coverage=sum(v.n * v.band_coverage for v in parts) / n,
    )


def test_seasonal_model_beats_flat_rate_on_held_out_cycles(held_out: Validation) -> None:
    print(f"\nheld-out time-to-80%: {held_out}")
    assert held_out.n >= 30, "too few fill cycles to judge"
    assert held_out.mae_hours < 0.85 * held_out.baseline_mae_hours


def test_band_covers_most_actual_times_but_is_not_vacuous(held_out: Validation) -> None:
    assert 0.6 <= held_out.band_coverage <= 0.95


def true_rate(ts: float) -> float:
    """A known weekly pattern: Taipei's hours, 1.25x on weekends, 1% of capacity per hour on
    a typical hour."""
    local = datetime.fromtimestamp(ts, UTC) + timedelta(hours=8)
    weekend = 1.25 if local.weekday() >= 5 else 1.0
    return 0.01 * TAIPEI_HOURS[local.hour] * weekend


def synthetic(days: int, every: timedelta = QUARTER) -> tuple[np.ndarray, np.ndarray]:
    """Fill rising at `true_rate` (samples fall on the hour, so it is exact), emptied to 0 on
    reaching 0.9."""
    step = every.total_seconds()
    ts = [T0.timestamp()]
    fill = [0.0]
    while ts[-1] < T0.timestamp() + days * 86400:
        t = ts[-1]
        level = fill[-1] + true_rate(t) * step / 3600
        ts.append(t + step)
        fill.append(0.0 if level >= 0.9 else level)
    return np.array(ts), np.array(fill)


def test_fit_recovers_a_known_weekly_pattern() -> None:
    ts, fill = synthetic(28)
    model = fit(ts, fill)
    monday = T0 - timedelta(hours=8)  # Monday 00:00 in Taipei
    want = np.array(
        [true_rate((monday + timedelta(hours=h)).timestamp()) for h in range(HOURS_PER_WEEK)]
    )
    assert np.allclose(model.rates, want, rtol=0.01, atol=1e-5)
    assert model.rate_per_hour(monday + timedelta(hours=20)) == pytest.approx(0.03, rel=0.01)
    assert model.rate_per_hour(monday + timedelta(days=6, hours=3)) == pytest.approx(
        0.0004 * 1.25, rel=0.05
    )
    assert model.n_hours == pytest.approx(28 * 24, rel=0.05)  # minus the emptying intervals


def test_an_emptying_is_not_negative_usage() -> None:
    ts = np.arange(0, 48 * 4 + 1) * 900.0
    fill = np.minimum(ts / 3600 * 0.02, 10.0) % 0.6  # 0.02/h, emptied every 30 h
    assert np.any(np.diff(fill) < -0.5)
    model = fit(ts, fill)
    assert model.mean_rate == pytest.approx(0.02, rel=1e-6)
    assert min(model.rates) == pytest.approx(0.02, rel=1e-6)


def test_a_telemetry_gap_spreads_its_increment_over_the_gap() -> None:
    ts = np.array([0.0, 3600.0, 3 * 3600.0, 9 * 3600.0, 10 * 3600.0])  # 6 h silent
    fill = np.array([0.0, 0.01, 0.03, 0.09, 0.10])
    model = fit(ts, fill)
    assert model.n_hours == pytest.approx(10.0)
    assert model.mean_rate == pytest.approx(0.01, rel=1e-6)


def test_eta_is_now_when_the_target_is_already_reached() -> None:
    model = flat_model(0.01)
    now = T0 + timedelta(hours=5)
    assert model.eta(now, 0.85, 0.8) == Eta(now, now, now)
    assert model.eta(now, 0.8, 0.8).expected == now


def test_no_usage_is_never_full() -> None:
    ts = np.arange(0, 7 * 96) * 900.0
    model = fit(ts, np.full(len(ts), 0.3))
    assert model.mean_rate == 0.0
    eta = model.eta(T0, 0.3, 0.8)
    assert eta.expected is None and eta.late is None
    assert fit([], []).eta(T0, 0.0, 0.8).expected is None


def test_eta_is_where_the_expected_fill_reaches_the_target() -> None:
    ts, fill = synthetic(28)
    model = fit(ts, fill)
    now = T0 + timedelta(days=30, hours=3, minutes=7)
    eta = model.eta(now, 0.2, 0.8)
    assert eta.expected is not None and eta.early is not None and eta.late is not None
    assert eta.early <= eta.expected <= eta.late
    assert model.expected_fill(now, 0.2, eta.expected) == pytest.approx(0.8, abs=1e-9)
    assert model.expected_fill(now, 0.2, now + timedelta(days=30)) == 1.0


def test_flat_eta_is_need_over_rate() -> None:
    eta = flat_model(0.05).eta(T0, 0.3, 0.8)
    assert eta.expected == T0 + timedelta(hours=10)
    assert flat_model(0.001).eta(T0, 0.3, 0.8, horizon=timedelta(days=1)).expected is None


def test_prior_fills_in_for_a_new_station() -> None:
    prior = fit(*synthetic(28))
    assert np.allclose(fit([], [], prior=prior).rates, prior.rates, rtol=1e-12)
    fresh = fit([], [], prior=flat_model(0.01))
    assert fresh.mean_rate == pytest.approx(0.01)
    eta = fresh.eta(T0, 0.2, 0.8)
    assert eta.early is not None and eta.late is not None
    assert eta.late - eta.early < timedelta(hours=24)  # a flat prior is not "anything goes"
    short = fit(*synthetic(1), prior=prior)  # one day: Monday's data, the rest from the prior
    assert np.allclose(short.rates, prior.rates, rtol=0.05)


@pytest.mark.parametrize(
    ("ts", "fill", "words"),
    [
        ([0.0, 1.0], [0.1], "pair them up"),
        ([0.0, math.nan], [0.1, 0.2], "NaN"),
        ([0.0, 1.0], [0.1, math.nan], "NaN"),
        ([0.0, 1.0], [0.1, 1.2], "between 0 and 1.05"),
        ([0.0, 1.0], [-0.1, 0.2], "between 0 and 1.05"),
        ([5.0, 1.0], [0.1, 0.2], "sorted"),
        ([[0.0, 1.0]], [[0.1, 0.2]], "one-dimensional"),
        (["a", "b"], [0.1, 0.2], "numbers"),
    ],
)
def test_bad_history_is_refused_with_a_reason(ts: object, fill: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        fit(ts, fill)  # type: ignore[arg-type]


def test_bad_questions_are_refused() -> None:
    model = flat_model(0.01)
    with pytest.raises(ValueError, match="time zone"):
        model.eta(datetime(2026, 3, 2), 0.1, 0.8)  # naive on purpose
    with pytest.raises(ValueError, match="fill_now"):
        model.eta(T0, math.nan, 0.8)
    with pytest.raises(ValueError, match="target"):
        model.eta(T0, 0.1, 2.0)
    with pytest.raises(ValueError, match="rate_per_hour"):
        flat_model(-1.0)
    with pytest.raises(ValueError, match="168"):
        FillModel(rates=(0.1,), variances=(0.1,))


SEASONAL = fit(*synthetic(28))


@settings(max_examples=500, deadline=None)
@given(
    start=st.floats(0, 30 * 86400),
    a=st.floats(-86400, 30 * 86400),
    b=st.floats(-86400, 30 * 86400),
    fill_now=st.floats(0, 1),
    flat=st.booleans(),
)
def test_expected_fill_never_falls_as_time_goes_on(
    start: float, a: float, b: float, fill_now: float, flat: bool
) -> None:
    model = flat_model(0.013) if flat else SEASONAL
    now = T0 + timedelta(seconds=start)
    early, late = sorted((a, b))
    f_early = model.expected_fill(now, fill_now, now + timedelta(seconds=early))
    f_late = model.expected_fill(now, fill_now, now + timedelta(seconds=late))
    assert fill_now <= f_early + 1e-12 or f_early == 1.0
    assert f_early <= f_late + 1e-12  # float rounding of the weekly sums, nothing more
    assert f_late <= 1.0
