"""A held-out check of the fill forecast: fit on the history before a moment, predict each
later cycle's time to a target fill, and compare with what happened and with a flat-rate
baseline. Pure; for the forecast's tests and benchmarks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from onecity.waste.planning.forecast import (
    EMPTYING_DROP,
    FloatArray,
    check_series,
    fit,
    flat_model,
    level,
)


@dataclass(frozen=True)
class Validation:
    """Held-out check of time-to-target predictions (hours)."""

    n: int
    mae_hours: float
    baseline_mae_hours: float
    band_coverage: float  # share of actual times inside [early, late]


def validate(
    ts_s: Sequence[float] | FloatArray,
    fill: Sequence[float] | FloatArray,
    *,
    train_until_s: float,
    target: float = 0.8,
    utc_offset_hours: float = 8.0,
    horizon: timedelta = timedelta(days=14),
) -> Validation:
    """Fit on the history before `train_until_s`; from the first held-out sample and from
    each emptying after it, predict when the fill reaches `target` and compare with when it
    did (interpolated between samples). Cycles emptied, or ended, before reaching the target
    are censored and left out. A prediction beyond `horizon` counts as the horizon. The
    baseline is `flat_model` at the fitted model's long-run mean rate. n = 0: nothing to
    compare (the figures are NaN)."""
    ts, f = check_series(ts_s, fill)
    goal = level(target, "target")
    train = ts < train_until_s
    model = fit(ts[train], f[train], utc_offset_hours=utc_offset_hours)
    base = flat_model(model.mean_rate, utc_offset_hours)
    tt, ft = ts[~train], f[~train]
    starts = [0, *(np.nonzero(np.diff(ft) < -EMPTYING_DROP)[0] + 1).tolist()]
    ends = [*starts[1:], len(ft)]
    cap = horizon.total_seconds() / 3600
    err, base_err, inside = [], [], 0
    for s, e in zip(starts, ends, strict=True):
        hit = np.nonzero(ft[s:e] >= goal)[0]
        if ft[s] >= goal or not hit.size:
            continue
        j = s + int(hit[0])
        t_hit = tt[j - 1] + (tt[j] - tt[j - 1]) * (goal - ft[j - 1]) / (ft[j] - ft[j - 1])
        actual = (t_hit - tt[s]) / 3600
        now = datetime.fromtimestamp(float(tt[s]), UTC)
        got = model.eta(now, float(ft[s]), goal, horizon)
        flat = base.eta(now, float(ft[s]), goal, horizon)
        err.append(abs(_hours(now, got.expected, cap) - actual))
        base_err.append(abs(_hours(now, flat.expected, cap) - actual))
        early, late = _hours(now, got.early, math.inf), _hours(now, got.late, math.inf)
        inside += early <= actual <= late
    if not err:
        return Validation(0, math.nan, math.nan, math.nan)
    return Validation(
        len(err), float(np.mean(err)), float(np.mean(base_err)), float(inside / len(err))
    )


def _hours(now: datetime, at: datetime | None, default: float) -> float:
    return default if at is None else (at - now).total_seconds() / 3600
