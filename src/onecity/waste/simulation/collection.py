"""What each collection policy costs and what it prevents, on the same simulated city: truck
km, stops, kg collected, overflow hours and fires reached late (`onecity waste simulate`).

The city: stations and depots at real Taipei places (`city_layout`), usage from the station
simulator (`stations`, reporting every 15 minutes), one collection shift a day per truck
(06:00-14:00 Taipei time, before the evening peak of deposits), trucks of 4.5 t and 18 m³ of
station-pressed volume (a ~10 m³ compactor body pressing the stations' 250 kg/m³ to ~450),
travel by `core.travel.CrowFlies` at the shift's average speed, routes by `routing.solve`. A truck
unloads after its shift (incinerator trips are not modelled). Each visit empties all three
compartments; a stop takes `collection.Policy().service_s` (7.5 min).

The policies, each on its own copies of the same seeded stations:

* **fixed**: every station every day, one set of routes planned once (with 10 x the daily
  solver time, as a city plans a fixed schedule once and carefully) for each station's mean
  load on a busy (weekend) day, repeated daily.
* **threshold**: each shift, the stations with a compartment at >= 80 % at the shift's start.
* **forecast**: each shift, `collection.decide` on `forecast.fit` models of each compartment's
  fill history, refitted daily; a station left today is emptied tomorrow at any time in the
  shift, so its next chance is taken as the end of tomorrow's shift (the worst case). A station
  that must be emptied but will not be full yet is visited late in the shift (`decide`'s
  `shift_end`: its window opens an hour before its early time to full, by midday at the
  latest), which leaves its bin room for the evening peak. A fire
  seen during the shift is inserted into the running routes (`routing.replan`, to be reached
  within the hour where a truck can); the other policies wait for their next planned visit.
  The trucks' plans are only as good as the solver's time allows: PyVRP stops on wall time,
  so a large city's routes (and figures) can differ a little from run to run.

* **clairvoyant**: a yardstick, not a policy a city can run. Each shift it knows each
  station's future deposits (it runs a copy of the station's simulator ahead) and empties
  exactly the stations that would otherwise turn a deposit away before the end of tomorrow's
  shift, each by the time it would (and no earlier than it would lose by it: its window
  opens as the forecast policy's does). What it saves against the fixed schedule is about the
  most any policy choosing one day's stops at a time can save on this city and its usage,
  so the forecast policy is measured against it as well as against the fixed schedule.

`visits_per_day` scales every station's usage (the simulator's calibration: 150 deposits a day
at a typical station, full in ~2 days), to see how the policies' costs depend on it.

A warm-up of `warmup_days` under the fixed policy gives the forecast its first history and is
not counted. Fires are drawn in advance at the simulator's rate (one per station per ~2,000
days, ~30 minutes each) and started and put out at the same times in every policy's copy, so
the policies face the same fires; a crew at a burning station puts the fire out. A fire is
handled late when no truck arrives within 60 minutes of its first sample with smoke or
>= 60 °C (a fire that burns out between two reports is never seen, and counts as late)."""

from __future__ import annotations

import copy
import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from pyvrp.exceptions import PenaltyBoundWarning

from onecity.waste.planning.routing import (
    solve,
)
from onecity.waste.simulation.city_layout import layout
from onecity.waste.simulation.policies import (
    clairvoyant_policy,
    forecast_policy,
    on_fire,
    station_stop,
    threshold_policy,
)
from onecity.waste.simulation.results import PolicyResult, SimReport
from onecity.waste.simulation.shifts import (
    DAY_S,
    FIRE_RESPONSE_S,
    FIRST_DAY,
    FIXED_SOLVE_FACTOR,
    POLICIES,
    POLICY,
    SHIFT_S,
    SIM_CONFIG,
    TRUCK_KG,
    TRUCK_M3,
    City,
    Planned,
    Planner,
    Run,
    Urgent,
    busy_day_load,
    local_at,
    make_city,
    run_day,
)
from onecity.waste.simulation.station_config import COMPARTMENTS, SimConfig
from onecity.waste.simulation.stations import StationSim

# --- the simulation ---------------------------------------------------------------------

# Told (days done, days in all) after each simulated day, warm-up and every policy's days.
Progress = Callable[[int, int], None]


def _silent(done: int, total: int) -> None:
    return None


def _fleet_for(loads: list[tuple[float, float]]) -> int:
    """Trucks the fixed schedule needs: by weight, volume and time, with 10 % to spare."""
    service = POLICY.base_service_s + POLICY.per_compartment_s * len(COMPARTMENTS)
    need = max(
        sum(kg for kg, _ in loads) / TRUCK_KG,
        sum(m3 for _, m3 in loads) / TRUCK_M3,
        len(loads) * (service + 300) / (SHIFT_S[1] - SHIFT_S[0]),  # ~5 min between stations
    )
    return max(1, math.ceil(need / 0.9))


def _fixed(
    sims: list[StationSim], trucks: int | None, seed: int, solve_s: float, span: tuple[float, float]
) -> tuple[City, Planned]:
    """The city and its fixed schedule; without a given fleet, the smallest one (from the load
    estimate up) with which the schedule serves every station."""
    loads = [busy_day_load(s.popularity, s.config) for s in sims]
    fleet = trucks or _fleet_for(loads)
    while True:
        city = make_city(len(sims), fleet, seed, *span)
        stops = tuple(station_stop(city, i, kg, m3) for i, (kg, m3) in enumerate(loads))
        problem = replace(city.base, stops=stops)
        plan = solve(problem, solve_s * FIXED_SOLVE_FACTOR, seed)
        if plan.feasible or trucks is not None or fleet >= len(sims):
            return city, (problem, plan)
        fleet += 1


def _late(run: Run, fires: list[tuple[int, float, float]]) -> int:
    """Fires (station, start, next start) no truck reached within the hour of being seen."""
    late = 0
    for i, begin, until in fires:
        seen = [t for j, t in run.detected if j == i and begin <= t < until]
        if not seen or not any(seen[0] <= a <= seen[0] + FIRE_RESPONSE_S for a in run.arrivals[i]):
            late += 1
    return late


def _result(name: str, run: Run, city: City, counted: tuple[float, float]) -> PolicyResult:
    fires = []
    for i, events in enumerate(city.fires):
        starts = [t for t, kind, _ in events if kind == "start"] + [math.inf]
        fires += [(i, a, b) for a, b in itertools.pairwise(starts) if counted[0] <= a < counted[1]]
    daily_over = np.diff(run.overflow_h)
    return PolicyResult(
        policy=name,
        truck_km=round(sum(run.km), 3),
        stops=sum(run.stops),
        collected_kg=round(run.collected_kg, 2),
        overflow_hours=round(run.overflow_h[-1] - run.overflow_h[0], 3),
        fires=len(fires),
        fires_late=_late(run, fires),
        daily_km=tuple(round(k, 3) for k in run.km),
        daily_overflow_hours=tuple(round(float(h), 3) for h in daily_over),
    )


def run_policies(
    days: int,
    stations: int,
    *,
    seed: int = 0,
    trucks: int | None = None,
    solve_s: float = 1.0,
    warmup_days: int = 7,
    visits_per_day: float | None = None,
    progress: Progress = _silent,
) -> tuple[SimReport, dict[str, list[StationSim]]]:
    """`simulate`, also handing back each policy's station simulators as they ended (for
    checks against the simulator's own counters)."""
    if days < 1 or stations < 1 or warmup_days < 1:
        raise ValueError("days, stations and warmup_days must be at least 1")
    if trucks is not None and trucks < 1:
        raise ValueError("trucks must be at least 1 (or None: as many as the fixed schedule needs)")
    if visits_per_day is not None and not 0 < visits_per_day < math.inf:
        raise ValueError("visits_per_day must be a positive number (or None: the default usage)")
    cfg = (
        SIM_CONFIG if visits_per_day is None else replace(SIM_CONFIG, visits_per_day=visits_per_day)
    )
    with warnings.catch_warnings():
        # PyVRP warns when a shift's stops cannot all be served; the plan reports them unserved
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        return _run(days, stations, seed, trucks, solve_s, warmup_days, cfg, progress)


def _run(
    days: int,
    stations: int,
    seed: int,
    trucks: int | None,
    solve_s: float,
    warmup_days: int,
    cfg: SimConfig,
    progress: Progress = _silent,
) -> tuple[SimReport, dict[str, list[StationSim]]]:
    first = FIRST_DAY.timestamp()
    begin, end = first - warmup_days * DAY_S, first + days * DAY_S
    probe = layout(stations, 1, seed)
    sims = [StationSim(s.id, f"{seed}/{s.id}", cfg, local_at(begin)) for s in probe.stations]
    city, fixed = _fixed(sims, trucks, seed, solve_s, (begin, end))
    warm = Run(sims)
    total, done = warmup_days + len(POLICIES) * days, 0
    progress(done, total)
    for d in range(warmup_days):
        run_day(warm, city, begin + d * DAY_S, d - warmup_days, lambda *_: fixed, None)
        done += 1
        progress(done, total)
    planners: dict[str, tuple[Planner, Urgent | None]] = {
        "fixed": (lambda *_: fixed, None),
        "threshold": (threshold_policy(solve_s, seed), None),
        "forecast": (forecast_policy(solve_s, seed), on_fire(solve_s, seed)),
        "clairvoyant": (clairvoyant_policy(solve_s, seed), on_fire(solve_s, seed)),
    }
    results, ends = [], {}
    for name in POLICIES:
        run = copy.deepcopy(warm, {id(cfg): cfg})  # the config is shared, frozen
        run.counted_from_here()
        planner, urgent = planners[name]
        for d in range(days):
            run_day(run, city, first + d * DAY_S, d, planner, urgent)
            done += 1
            progress(done, total)
        results.append(_result(name, run, city, (first, end)))
        ends[name] = run.sims
    report = SimReport(days, stations, city.layout.trucks, seed, tuple(results))
    return report, ends


def simulate(
    days: int,
    stations: int,
    *,
    seed: int = 0,
    trucks: int | None = None,
    solve_s: float = 1.0,
    warmup_days: int = 7,
    visits_per_day: float | None = None,
    progress: Progress = _silent,
) -> SimReport:
    """Run the three policies on the same seeded city for `days` counted days; with
    `visits_per_day`, every station's usage scaled so a typical one sees that many deposits a
    day (None: the simulator's calibration, `SimConfig.visits_per_day`)."""
    report, _ = run_policies(
        days,
        stations,
        seed=seed,
        trucks=trucks,
        solve_s=solve_s,
        warmup_days=warmup_days,
        visits_per_day=visits_per_day,
        progress=progress,
    )
    return report
