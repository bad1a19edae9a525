"""The collection policies the simulation compares: which stations a shift empties (on a
threshold, on the forecast, or knowing the future) and how a fire is answered."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np

from onecity.waste.planning import policy as collection
from onecity.waste.planning.forecast import fit, offset_hours
from onecity.waste.planning.replan import replan
from onecity.waste.planning.routing import (
    PlanError,
    Problem,
    Stop,
    solve,
)
from onecity.waste.simulation.shifts import (
    DAY_S,
    FIRE_RESPONSE_S,
    POLICY,
    SHIFT_S,
    SIM_CONFIG,
    THRESHOLD,
    ZONE,
    City,
    Planned,
    Planner,
    Run,
    Shift,
    Urgent,
    local_at,
)
from onecity.waste.simulation.station_config import COMPARTMENTS
from onecity.waste.simulation.stations import StationSim

# --- the policies -----------------------------------------------------------------------


def station_stop(city: City, i: int, kg: float, m3: float) -> Stop:
    return Stop(
        ref=city.layout.stations[i].id,
        site=len(city.layout.depots) + i,
        kg=kg,
        m3=m3,
        service_s=POLICY.base_service_s + POLICY.per_compartment_s * len(COMPARTMENTS),
    )


def loads_now(run: Run, i: int) -> tuple[float, float]:
    v, specs = run.last[i], SIM_CONFIG.compartments
    kg = sum(v.get(f"{c}.weight_kg", 0.0) for c in COMPARTMENTS)
    return kg, sum(v.get(f"{c}.fill", 0.0) * specs[c].capacity_m3 for c in COMPARTMENTS)


def _solved(problem: Problem, seconds: float, seed: int) -> Planned | None:
    return (problem, solve(problem, seconds, seed)) if problem.stops else None


def threshold_policy(solve_s: float, seed: int) -> Planner:
    def plan(run: Run, city: City, origin: float, day: int) -> Planned | None:
        full = [
            i
            for i, v in enumerate(run.last)
            if any(v.get(f"{c}.fill", 0.0) >= THRESHOLD for c in COMPARTMENTS)
        ]
        stops = tuple(station_stop(city, i, *loads_now(run, i)) for i in full)
        return _solved(replace(city.base, stops=stops), solve_s, seed + day)

    return plan


def forecast_policy(solve_s: float, seed: int) -> Planner:
    def plan(run: Run, city: City, origin: float, day: int) -> Planned | None:
        now = local_at(origin + SHIFT_S[0])
        offset = offset_hours(ZONE, now)  # the forecasts count the city's local hours
        stations = []
        for i, place in enumerate(city.layout.stations):
            ts, v = np.asarray(run.ts[i]), run.last[i]
            comps = tuple(
                collection.Compartment(
                    name=c,
                    fill=v.get(f"{c}.fill", 0.0),
                    kg=v.get(f"{c}.weight_kg", 0.0),
                    capacity_kg=spec.capacity_kg,
                    capacity_m3=spec.capacity_m3,
                    model=fit(ts, np.asarray(run.fill[i][c]), utc_offset_hours=offset),
                )
                for c, spec in SIM_CONFIG.compartments.items()
            )
            urgent = "fire" if run.burning[i] else None
            site = len(city.layout.depots) + i
            stations.append(collection.Station(place.id, site, comps, urgent))
        # a station left today is emptied tomorrow somewhere in the shift: at its end at worst
        next_chance = local_at(origin + DAY_S + SHIFT_S[1])
        shift_end = local_at(origin + SHIFT_S[1])
        decisions = collection.decide(
            stations, now, now, next_chance, local_at(origin), POLICY, shift_end=shift_end
        )
        stops = tuple(d.stop for d in decisions if d.stop is not None)
        return _solved(replace(city.base, stops=stops), solve_s, seed + day)

    return plan


def overflows_at(sim: StationSim, until: float) -> float | None:
    """When the station, left alone, first turns a deposit away as full before `until`
    (epoch seconds): from a copy of its simulator run ahead, which draws the same deposits."""
    now = sim.now.timestamp()
    if any(c.over_since is not None for c in sim.comps.values()):
        return now
    ahead = copy.deepcopy(sim, {id(sim.config): sim.config})
    ahead.advance(local_at(until))
    seen = [c.over_since for c in ahead.comps.values() if c.over_since is not None]
    return min(seen) if seen else None


def clairvoyant_policy(solve_s: float, seed: int) -> Planner:
    def plan(run: Run, city: City, origin: float, day: int) -> Planned | None:
        start, end = origin + SHIFT_S[0], origin + SHIFT_S[1]
        horizon = origin + DAY_S + SHIFT_S[1]  # the end of tomorrow's shift
        stops = []
        for i, sim in enumerate(run.sims):
            over = overflows_at(sim, horizon)
            if over is None and not run.burning[i]:
                continue
            window = None
            if over is not None and over > start:
                latest = start + (end - start) * POLICY.latest_open
                opens = min(max(over - POLICY.late_margin_s, start), latest)
                closes = min(over, end)
                if closes > opens:
                    window = (int(opens - origin), int(closes - origin))
            stops.append(replace(station_stop(city, i, *loads_now(run, i)), window=window))
        return _solved(replace(city.base, stops=tuple(stops)), solve_s, seed + day)

    return plan


def _fire_stops(
    run: Run, city: City, shift: Shift, now_s: int, new: list[tuple[int, float]]
) -> tuple[list[Stop], set[int]]:
    """Urgent stops for the fires seen (none where a truck is due within the hour anyway),
    and the stops planned later at those stations, which the fire call takes over."""
    p = shift.problem
    urgent: list[Stop] = []
    taken: set[int] = set()
    for i, t_fire in new:
        site, seen_s = len(city.layout.depots) + i, t_fire - shift.origin
        there = [
            (v.arrive_s, v.stop)
            for r in shift.plan.routes
            for v in r.visits
            if p.stops[v.stop].site == site
        ]
        if any(seen_s <= a <= seen_s + FIRE_RESPONSE_S for a, _ in there):
            continue
        taken |= {k for _, k in there if k not in shift.done}
        stop = station_stop(city, i, *loads_now(run, i))
        window = (now_s, int(seen_s) + FIRE_RESPONSE_S)
        urgent.append(replace(stop, ref=f"{stop.ref}:fire", priority=2, window=window))
    return urgent, taken


def on_fire(solve_s: float, seed: int) -> Urgent:
    """Fires seen during the shift go into the running routes, to be reached within the hour
    where the trucks can, else as soon as the routes allow."""

    def handle(
        run: Run, city: City, shift: Shift, now: float, new: list[tuple[int, float]], day: int
    ) -> None:
        now_s = int(now - shift.origin)
        urgent, taken = _fire_stops(run, city, shift, now_s, new)
        if not urgent:
            return
        stops = tuple(
            replace(s, required=False, prize_m=0) if k in taken else s
            for k, s in enumerate(shift.problem.stops)
        )
        base = replace(shift.problem, stops=stops)
        try:
            r = replan(base, shift.plan, now_s, shift.done, urgent, solve_s, seed + day)
            if not r.urgent_served or any(u.code == "window_unreachable" for u in r.unserved):
                # a fire (this one or an earlier one still on its way) cannot be reached
                # within its hour: every fire call then goes without a deadline
                base = replace(base, stops=tuple(replace(s, window=None) for s in base.stops))
                late = [replace(u, window=None) for u in urgent]
                r = replan(base, shift.plan, now_s, shift.done, late, solve_s, seed + day)
        except PlanError:
            return
        shift.problem, shift.plan = r.problem, r.plan

    return handle
