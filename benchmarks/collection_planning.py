"""Collection planning: solution quality on CVRPLIB, a city-sized plan's time, a month simulated.

Run: .venv/bin/python benchmarks/collection_planning.py --quick     (about 6 minutes)

Everything goes through the planner the product uses (`routing.solve`):
  * CVRPLIB: every X instance shipped in tests/data/cvrplib, loaded by `vrplib_io.load` (the
    `onecity waste solve-vrplib` path), solved for 30 s each (5 s with --quick); the gap to the
    best-known cost in the instance's .sol file; `cvrplib_mean_gap_pct` is their mean;
  * 500 stations, 20 trucks: stations at real Taipei garbage-truck stops and depots at the
    trucks' teams (`city_layout`), travel by `core.travel.CrowFlies` at the 06:00-14:00 shift's
    speed, ~150 kg and ~0.6 m³ a station, 8 minutes' service, trucks of 4,000 kg / 20 m³ for
    an 8-hour shift. `plan_500_stations_s` is the wall time of the plan the product makes:
    the travel matrix plus `routing.solve` at the planner's configured budget
    (`PlannerConfig.solve_s`, 5 s); the table also shows when the solver first held a plan
    serving every station within every limit, and the km a longer budget (10 s quick, 30 s
    full) saves;
  * 30 simulated days (`collection_sim.simulate`, 100 stations with --quick, 500 in full): the
    forecast-driven routes' truck km saved against the fixed daily schedule, and the hours
    stations spent overflowing under each; then the same city with its usage scaled to
    `USAGE_VISITS` deposits a day at a typical station (the simulator's own calibration is
    150, a station full in ~2 days): how the saving depends on how fast stations fill.
    `km_saved_by_usage` maps visits a day to the % saved; the headline keys stay those of the
    default calibration. Each run also has a clairvoyant yardstick (`collection_sim`: it knows
    every future deposit); `km_saved_clairvoyant_pct` is what it saves, so the forecast
    policy's figure can be read against what perfect knowledge would save on the same city.
The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyvrp
from pyvrp.stop import MaxRuntime

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import ROOT, print_json, print_table
from onecity.waste.planning import routing, vrplib_io
from onecity.waste.planning.service import PlannerConfig
from onecity.waste.simulation.city_layout import layout, taipei_trucks
from onecity.waste.simulation.collection import simulate
from onecity.waste.simulation.results import SimReport
from onecity.waste.simulation.shifts import SIM_CONFIG

DATA = ROOT / "tests" / "data" / "cvrplib"
SHIFT = (6 * 3600, 14 * 3600)  # local seconds of the day
USAGE_VISITS = (50.0, 100.0)  # a typical station's deposits a day, for the sensitivity table
# 06:00-14:00 in Taipei (UTC+8), given as UTC so the hour's speed cannot be misread
SHIFT_UTC = (datetime(2026, 3, 1, 22, 0, tzinfo=UTC), datetime(2026, 3, 2, 6, 0, tzinfo=UTC))


# One search per core, from different seeds, the best kept (`onecity waste solve-vrplib
# --workers`): PyVRP's search is single-threaded, and the budget is wall-clock time.
CORES = max(1, min(4, os.cpu_count() or 1))
# A worker process spends ~2 s starting (Python, numpy, PyVRP) out of its budget: worth it
# for the full 30 s, not for the quick 5 s.
PARALLEL_FROM_S = 15.0


def cvrplib(seconds: float) -> tuple[list[tuple[str, str]], float]:
    rows = []
    gaps = []
    workers = CORES if seconds >= PARALLEL_FROM_S else 1
    for path in sorted(DATA.glob("X-*.vrp")):
        inst = vrplib_io.load(path)
        best = vrplib_io.best_known(path)
        began = time.monotonic()
        plan = routing.solve(inst.problem, seconds, seed=0, workers=workers)
        wall = time.monotonic() - began
        if plan.unserved or best is None:
            rows.append((inst.name, "no feasible plan" if plan.unserved else "no .sol"))
            continue
        cost = plan.distance_m / inst.scale
        gap = 100 * (cost - best) / best
        gaps.append(gap)
        rows.append((f"{inst.name} (best {best:g})", f"{cost:g}  {gap:+.2f} %  in {wall:.1f} s"))
    mean = statistics.fmean(gaps) if gaps else float("nan")
    rows.append((f"mean gap, {seconds:g} s each, {workers} searches", f"{mean:.2f} %"))
    return rows, mean


def city_problem(stations: int, trucks: int, seed: int = 0) -> tuple[routing.Problem, str]:
    rng = random.Random(seed)
    lay = layout(stations, trucks, seed)
    depots = [(d.lon, d.lat, d.team, d.trucks) for d in lay.depots]
    places = [(s.lon, s.lat, s.id) for s in lay.stations]
    where = f"{len(depots)} team depots, real garbage-truck stops"
    points = [(lon, lat) for lon, lat, *_ in depots] + [(lon, lat) for lon, lat, _ in places]
    metres, seconds = taipei_trucks().matrix(points, *SHIFT_UTC)
    sites = tuple(routing.Site(str(name), lon, lat) for lon, lat, name, *_ in depots) + tuple(
        routing.Site(name, lon, lat) for lon, lat, name in places
    )
    stops = []
    for k, (_, _, name) in enumerate(places):
        kg = rng.uniform(100, 200)
        stops.append(routing.Stop(name, len(depots) + k, kg=kg, m3=kg / 250, service_s=8 * 60))
    fleet = tuple(
        routing.Truck(f"{name}-{k + 1}", i, 4000.0, 20.0, SHIFT)
        for i, (_, _, name, count) in enumerate(depots)
        for k in range(count)
    )
    return routing.Problem(sites, tuple(stops), fleet, metres, seconds), where


def first_feasible_s(problem: routing.Problem, seconds: float) -> float | None:
    """When PyVRP first held a feasible plan, from its progress log, on the same model the
    planner builds (`routing._data`: the planner itself does not expose the log)."""
    data, _ = routing._data(problem, (), soften=False)
    began = time.monotonic()
    result = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=0, collect_stats=True)
    setup = time.monotonic() - began - sum(result.stats.runtimes)
    elapsed = setup
    for runtime, datum in zip(result.stats.runtimes, result.stats, strict=True):
        elapsed += runtime
        if datum.best_feas:
            return elapsed
    return None


def plan_city(long_s: float) -> tuple[list[tuple[str, str]], float]:
    """The product's plan (matrix + `routing.solve` at the planner's configured budget), and
    what a longer budget would have saved."""
    product_s = PlannerConfig().solve_s
    began = time.monotonic()
    problem, where = city_problem(500, 20)
    build_s = time.monotonic() - began
    plan = routing.solve(problem, product_s, seed=0)
    wall = time.monotonic() - began
    longer = routing.solve(problem, long_s, seed=0)
    first = first_feasible_s(problem, product_s)
    kg = sum(s.kg for s in problem.stops)
    rows = [
        ("city", where),
        ("stations / trucks", f"{len(problem.stops)} / {sum(t.count for t in problem.trucks)}"),
        ("load, share of the fleet's kg", f"{kg:,.0f} kg  {100 * kg / (20 * 4000):.0f} %"),
        ("first feasible plan after", f"{first:.2f} s" if first is not None else "none"),
        (f"product plan: matrix {build_s:.2f} s + solve {product_s:g} s", f"{wall:.2f} s"),
        ("  routes, km, unserved", _summary(plan)),
        (f"longer budget: solve {long_s:g} s", f"{longer.solve_s:.2f} s"),
        ("  routes, km, unserved", _summary(longer)),
    ]
    return rows, wall


def _summary(plan: routing.Plan) -> str:
    return f"{len(plan.routes)}, {plan.distance_m / 1000:,.1f} km, {len(plan.unserved)}"


def simulation(
    quick: bool,
) -> tuple[list[tuple[str, str]], dict[str, float], SimReport]:
    days, stations, solve_s = 30, (100 if quick else 500), (0.5 if quick else 1.0)
    began = time.monotonic()
    report = simulate(days, stations, seed=0, solve_s=solve_s)
    took = time.monotonic() - began
    figures = {
        "km_saved_vs_fixed_pct": round(report.km_saved_vs_fixed_pct(), 1),
        "km_saved_clairvoyant_pct": round(report.km_saved_vs_fixed_pct("clairvoyant"), 1),
        "overflow_hours_dynamic": round(report.result("forecast").overflow_hours, 1),
        "overflow_hours_fixed": round(report.result("fixed").overflow_hours, 1),
    }
    rows = [(f"{days} days, {stations} stations, {report.trucks} trucks", f"{took:.0f} s run")]
    for r in report.results:
        rows.append(
            (f"  {r.policy}: truck km, overflow h", f"{r.truck_km:,.0f}, {r.overflow_hours:.1f}")
        )
    rows.append(("km saved, forecast vs fixed", f"{figures['km_saved_vs_fixed_pct']} %"))
    rows.append(
        ("km saved, clairvoyant yardstick vs fixed", f"{figures['km_saved_clairvoyant_pct']} %")
    )
    return rows, figures, report


def by_usage(quick: bool, default: SimReport) -> tuple[list[tuple[str, str]], dict[str, float]]:
    """Fixed vs forecast at the default usage (the run above) and at `USAGE_VISITS`."""
    stations, solve_s = (100 if quick else 500), (0.5 if quick else 1.0)
    rows: list[tuple[str, str]] = []
    saved: dict[str, float] = {}
    began = time.monotonic()
    runs = [(f"{SIM_CONFIG.visits_per_day:g} (default)", SIM_CONFIG.visits_per_day, default)]
    for visits in USAGE_VISITS:
        report = simulate(default.days, stations, seed=0, solve_s=solve_s, visits_per_day=visits)
        runs.append((f"{visits:g}", visits, report))
    for label, visits, report in runs:
        fixed, fc = report.result("fixed"), report.result("forecast")
        pct = report.km_saved_vs_fixed_pct()
        bound = report.km_saved_vs_fixed_pct("clairvoyant")
        saved[f"{visits:g}"] = round(pct, 1)
        rows.append(
            (
                f"{label} visits/day, {report.trucks} trucks",
                f"km {fixed.truck_km:,.0f} -> {fc.truck_km:,.0f} ({pct:+.1f} % saved, "
                f"clairvoyant {bound:+.1f} %); "
                f"overflow h {fixed.overflow_hours:,.1f} -> {fc.overflow_hours:,.1f}",
            )
        )
    took = time.monotonic() - began
    rows.append((f"{len(USAGE_VISITS)} extra runs of {stations} stations", f"{took:.0f} s"))
    return rows, saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter budgets, 100 simulated stations")
    args = ap.parse_args()
    rows, gap = cvrplib(5.0 if args.quick else 30.0)
    print_table("CVRPLIB X instances (routing.solve via vrplib_io.load)", rows)
    rows, plan_s = plan_city(10.0 if args.quick else 30.0)
    print_table("500 stations, 20 trucks (plan_500_stations_s: the product plan)", rows)
    rows, sim, report = simulation(args.quick)
    print_table("30-day collection simulation (forecast routes = dynamic)", rows)
    rows, saved = by_usage(args.quick, report)
    print_table("savings by station usage (fixed -> forecast, same city and seed)", rows)
    print_json(
        {
            "cvrplib_mean_gap_pct": round(gap, 2),
            "plan_500_stations_s": round(plan_s, 1),
            **sim,
            "km_saved_by_usage": saved,
        }
    )


if __name__ == "__main__":
    main()
