"""What each collection policy costs and what it prevents, on the same simulated city: truck
km, stops, kg collected, overflow hours and fires reached late (`onecity waste simulate`).

The city: stations and depots at real Taipei places (`city_layout`), usage from the station
simulator (`station_sim`, reporting every 15 minutes), one collection shift a day per truck
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
import random
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from statistics import NormalDist
from types import MappingProxyType
from typing import Any

import numpy as np
from pyvrp.exceptions import PenaltyBoundWarning

from onecity.waste.planning import policy as collection
from onecity.waste.planning.forecast import fit
from onecity.waste.planning.routing import (
    Plan,
    PlanError,
    Problem,
    Site,
    Stop,
    Truck,
    replan,
    solve,
)
from onecity.waste.simulation.city_layout import CityLayout, layout, taipei_trucks
from onecity.waste.simulation.stations import (
    COMPARTMENTS,
    DEFAULT_SIM,
    INCIDENTS,
    IncidentSpec,
    SimConfig,
    StationSim,
)

POLICIES = ("fixed", "threshold", "forecast", "clairvoyant")
TPE = timezone(timedelta(hours=8))
FIRST_DAY = datetime(2026, 3, 2, tzinfo=TPE)  # a Monday; the warm-up runs before it
SHIFT_S = (6 * 3600, 14 * 3600)  # local seconds of the day
DAY_S = 86400
SLICE_S = 300  # during a shift the dispatcher looks at the telemetry every 5 minutes
TRUCK_KG, TRUCK_M3 = 4500.0, 18.0
THRESHOLD = 0.80
FIRE_RESPONSE_S = 3600
FIRE_HOT_C = 60.0
FIXED_SOLVE_FACTOR = 10
_FIRE = DEFAULT_SIM.incidents["fire"]
# fires are started and put out by the simulation (the same in every policy), not at random
SIM_CONFIG = replace(
    DEFAULT_SIM,
    report_every=timedelta(minutes=15),
    keep_deposits=False,
    incidents=MappingProxyType(
        {n: IncidentSpec(0.0, None) if n == "fire" else DEFAULT_SIM.incidents[n] for n in INCIDENTS}
    ),
)
POLICY = collection.Policy()


@dataclass(frozen=True)
class PolicyResult:
    policy: str
    truck_km: float
    stops: int
    collected_kg: float
    overflow_hours: float
    fires: int
    fires_late: int
    daily_km: tuple[float, ...]
    daily_overflow_hours: tuple[float, ...]


@dataclass(frozen=True)
class SimReport:
    days: int
    stations: int
    trucks: int
    seed: int
    results: tuple[PolicyResult, ...]

    def result(self, policy: str) -> PolicyResult:
        for r in self.results:
            if r.policy == policy:
                return r
        raise KeyError(f"no policy {policy!r}; one of: {', '.join(r.policy for r in self.results)}")

    def km_saved_vs_fixed_pct(self, policy: str = "forecast") -> float:
        """How many fewer truck km a policy (the forecast one unless named) drove than the
        fixed schedule, in %."""
        fixed = self.result("fixed").truck_km
        return 0.0 if fixed <= 0 else 100.0 * (fixed - self.result(policy).truck_km) / fixed

    def table(self) -> str:
        head = (
            f"{'policy':<12} {'truck km':>10} {'stops':>7} {'collected kg':>13} "
            f"{'overflow h':>11} {'fires':>6} {'late':>5}"
        )
        rows = [
            f"{r.policy:<12} {r.truck_km:>10,.1f} {r.stops:>7,} {r.collected_kg:>13,.0f} "
            f"{r.overflow_hours:>11,.1f} {r.fires:>6} {r.fires_late:>5}"
            for r in self.results
        ]
        foot = (
            f"{self.days} days, {self.stations} stations, {self.trucks} trucks, seed {self.seed}; "
            f"forecast vs fixed: {self.km_saved_vs_fixed_pct():+.1f}% km saved"
        )
        if self._has("clairvoyant"):
            foot += f" (clairvoyant yardstick: {self.km_saved_vs_fixed_pct('clairvoyant'):+.1f}%)"
        return "\n".join([head, "-" * len(head), *rows, foot])

    def _has(self, policy: str) -> bool:
        return any(r.policy == policy for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        bound = (
            {"km_saved_clairvoyant_pct": round(self.km_saved_vs_fixed_pct("clairvoyant"), 2)}
            if self._has("clairvoyant")
            else {}
        )
        return {
            "days": self.days,
            "stations": self.stations,
            "trucks": self.trucks,
            "seed": self.seed,
            "km_saved_vs_fixed_pct": round(self.km_saved_vs_fixed_pct(), 2),
            **bound,
            "results": [
                {
                    **asdict(r),
                    "daily_km": list(r.daily_km),
                    "daily_overflow_hours": list(r.daily_overflow_hours),
                }
                for r in self.results
            ],
        }


# --- the city ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _City:
    layout: CityLayout
    base: Problem  # sites (depots first, then stations), trucks and matrices; no stops
    fires: tuple[tuple[tuple[float, str, str], ...], ...]  # per station: (ts, start|end, comp)


def _truncated_lognormal_mean(median: float, sigma: float, low: float, high: float) -> float:
    mu, n = math.log(median), NormalDist()
    a, b = (math.log(low) - mu) / sigma, (math.log(high) - mu) / sigma
    return (
        math.exp(mu + sigma**2 / 2) * (n.cdf(b - sigma) - n.cdf(a - sigma)) / (n.cdf(b) - n.cdf(a))
    )


def busy_day_load(popularity: float, cfg: SimConfig = SIM_CONFIG) -> tuple[float, float]:
    """(kg, m³) a station of this popularity takes on a weekend day, on average (what a
    city's weighing records tell the planner of a fixed schedule)."""
    visits = cfg.visits_per_day * popularity * 7 * cfg.weekend_factor / (5 + 2 * cfg.weekend_factor)
    bag = _truncated_lognormal_mean(cfg.bag_median_kg, cfg.bag_sigma, *cfg.bag_range_kg)
    q = math.exp(-1 / cfg.items_mean)
    items = (1 + q / (1 - q)) * (1 - cfg.garbage_share) * visits
    kg_by = {
        COMPARTMENTS[0]: cfg.garbage_share * visits * bag,
        COMPARTMENTS[1]: items * cfg.pet_share * cfg.pet_g / 1000,
        COMPARTMENTS[2]: items * (1 - cfg.pet_share) * cfg.can_g / 1000,
    }
    kg = m3 = 0.0
    for name, load in kg_by.items():
        spec = cfg.compartments[name]
        kg += min(load, spec.capacity_kg)
        m3 += min(load / spec.kg_per_m3 * math.exp(spec.density_spread**2 / 2), spec.capacity_m3)
    return kg, m3


def _fires(station: str, seed: int, start: float, end: float) -> tuple[tuple[float, str, str], ...]:
    rng = random.Random(f"{seed}:fires:{station}")
    out: list[tuple[float, str, str]] = []
    t = start + rng.expovariate(_FIRE.per_day / DAY_S)
    while t < end:
        comp = rng.choices(COMPARTMENTS, weights=SIM_CONFIG.fire_weights)[0]
        out += [
            (t, "start", comp),
            (t + rng.expovariate(1 / (3600 * (_FIRE.mean_hours or 0.5))), "end", comp),
        ]
        t += rng.expovariate(_FIRE.per_day / DAY_S)
    return tuple(sorted(out))


def _city(stations: int, trucks: int, seed: int, start: float, end: float) -> _City:
    lay = layout(stations, trucks, seed)
    sites = tuple(Site(d.team, d.lon, d.lat) for d in lay.depots) + tuple(
        Site(s.id, s.lon, s.lat) for s in lay.stations
    )
    # in UTC: CrowFlies adds the city's offset itself (a local-time datetime would get it twice)
    depart, until = ((FIRST_DAY + timedelta(seconds=s)).astimezone(UTC) for s in SHIFT_S)
    dist, dur = taipei_trucks().matrix([(s.x, s.y) for s in sites], depart, until)
    fleet = tuple(
        Truck(f"{d.team}-{k + 1}", i, TRUCK_KG, TRUCK_M3, SHIFT_S)
        for i, d in enumerate(lay.depots)
        for k in range(d.trucks)
    )
    fires = tuple(_fires(s.id, seed, start, end) for s in lay.stations)
    return _City(lay, Problem(sites, (), fleet, dist, dur), fires)


# --- one policy's run -------------------------------------------------------------------


@dataclass
class _Run:
    sims: list[StationSim]
    ts: list[list[float]] = field(default_factory=list)  # per station: sample times
    fill: list[dict[str, list[float]]] = field(default_factory=list)
    last: list[dict[str, float]] = field(default_factory=list)  # the latest sample's values
    next_fire: list[int] = field(default_factory=list)  # per station: index into city.fires
    burning: list[bool] = field(default_factory=list)  # as the telemetry shows it
    detected: list[tuple[int, float]] = field(default_factory=list)  # (station, first sample)
    arrivals: list[list[float]] = field(default_factory=list)  # per station: trucks' arrivals
    km: list[float] = field(default_factory=list)  # per day
    stops: list[int] = field(default_factory=list)
    collected_kg: float = 0.0
    overflow_h: list[float] = field(default_factory=list)  # cumulative, at each midnight

    def __post_init__(self) -> None:
        n = len(self.sims)
        self.ts = [[] for _ in range(n)]
        self.fill = [{c: [] for c in COMPARTMENTS} for _ in range(n)]
        self.last = [{} for _ in range(n)]
        self.next_fire, self.burning = [0] * n, [False] * n
        self.arrivals = [[] for _ in range(n)]

    def overflow_total(self) -> float:
        return sum(s.stats(c).overflow_minutes for s in self.sims for c in COMPARTMENTS) / 60

    def counted_from_here(self) -> None:
        """End of the warm-up: what follows is counted."""
        self.detected, self.km, self.stops, self.collected_kg = [], [], [], 0.0
        self.arrivals = [[] for _ in self.sims]
        self.overflow_h = [self.overflow_total()]


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, TPE)


def _advance(
    run: _Run, city: _City, i: int, until: float, visits: list[tuple[float, float]]
) -> None:
    """Station i up to `until`: its fire starts and ends and the `visits` (arrive, start) in
    time order, then the samples up to `until` into the history."""
    sim, fires = run.sims[i], city.fires[i]
    events: list[tuple[float, str, str]] = []
    while run.next_fire[i] < len(fires) and fires[run.next_fire[i]][0] <= until:
        events.append(fires[run.next_fire[i]])
        run.next_fire[i] += 1
    for arrive, begin in visits:
        run.arrivals[i].append(arrive)
        events.append((begin, "visit", ""))
    for t, kind, comp in sorted(events):
        at = _at(max(t, sim.now.timestamp()))
        if kind == "start":
            sim.force_fire(at, comp)
        elif kind == "end" or (kind == "visit" and sim.active["fire"]):
            sim.repair("fire", at)  # it burns out, or the crew puts it out
        if kind == "visit":
            run.collected_kg += sum(sim.empty(c, at) for c in COMPARTMENTS)
            run.stops[-1] += 1
    for s in sim.advance(_at(until)):
        t, v = s.observed_at.timestamp(), s.values
        run.ts[i].append(t)
        for c in COMPARTMENTS:
            run.fill[i][c].append(v[f"{c}.fill"])
        hot = any(v[f"{c}.smoke"] > 0 or v[f"{c}.temp_c"] >= FIRE_HOT_C for c in COMPARTMENTS)
        if hot and not run.burning[i]:
            run.detected.append((i, t))
        run.burning[i] = hot
        run.last[i] = v


Planned = tuple[Problem, Plan]
Planner = Callable[[_Run, _City, float, int], Planned | None]


@dataclass
class _Shift:
    problem: Problem
    plan: Plan
    origin: float  # the day's local midnight, epoch seconds
    n_depots: int
    done: set[int] = field(default_factory=set)  # stop indices served

    def due(self, until_s: float) -> dict[int, list[tuple[float, float]]]:
        """The visits starting by `until_s` not yet made, per station: (arrive, start)."""
        out: dict[int, list[tuple[float, float]]] = {}
        for r in self.plan.routes:
            for v in r.visits:
                if v.stop not in self.done and v.start_s <= until_s:
                    self.done.add(v.stop)
                    station = self.problem.stops[v.stop].site - self.n_depots
                    out.setdefault(station, []).append(
                        (self.origin + v.arrive_s, self.origin + v.start_s)
                    )
        return out


Urgent = Callable[[_Run, _City, _Shift, float, list[tuple[int, float]], int], None]


def _day(
    run: _Run, city: _City, origin: float, day: int, planner: Planner, urgent: Urgent | None
) -> None:
    """One day from 00:00 local: to the shift's start, plan, the shift in slices, to midnight."""
    n, start, end = len(run.sims), origin + SHIFT_S[0], origin + SHIFT_S[1]
    run.stops.append(0)
    for i in range(n):
        _advance(run, city, i, start, [])
    problem, plan = planner(run, city, origin, day) or (city.base, Plan((), (), ()))
    shift = _Shift(problem, plan, origin, len(city.layout.depots))
    t = start
    while t < end:
        t_next = min(t + SLICE_S, end)
        seen = len(run.detected)
        due = shift.due(t_next - origin)
        for i in range(n):
            _advance(run, city, i, t_next, due.get(i, []))
        if urgent is not None and len(run.detected) > seen and t_next < end:
            urgent(run, city, shift, t_next, run.detected[seen:], day)
        t = t_next
    run.km.append(shift.plan.distance_m / 1000)
    for i in range(n):
        _advance(run, city, i, origin + DAY_S, [])
    run.overflow_h.append(run.overflow_total())


# --- the policies -----------------------------------------------------------------------


def _stop(city: _City, i: int, kg: float, m3: float) -> Stop:
    return Stop(
        ref=city.layout.stations[i].id,
        site=len(city.layout.depots) + i,
        kg=kg,
        m3=m3,
        service_s=POLICY.base_service_s + POLICY.per_compartment_s * len(COMPARTMENTS),
    )


def _loads_now(run: _Run, i: int) -> tuple[float, float]:
    v, specs = run.last[i], SIM_CONFIG.compartments
    kg = sum(v.get(f"{c}.weight_kg", 0.0) for c in COMPARTMENTS)
    return kg, sum(v.get(f"{c}.fill", 0.0) * specs[c].capacity_m3 for c in COMPARTMENTS)


def _solved(problem: Problem, seconds: float, seed: int) -> Planned | None:
    return (problem, solve(problem, seconds, seed)) if problem.stops else None


def _threshold(solve_s: float, seed: int) -> Planner:
    def plan(run: _Run, city: _City, origin: float, day: int) -> Planned | None:
        full = [
            i
            for i, v in enumerate(run.last)
            if any(v.get(f"{c}.fill", 0.0) >= THRESHOLD for c in COMPARTMENTS)
        ]
        stops = tuple(_stop(city, i, *_loads_now(run, i)) for i in full)
        return _solved(replace(city.base, stops=stops), solve_s, seed + day)

    return plan


def _forecast(solve_s: float, seed: int) -> Planner:
    def plan(run: _Run, city: _City, origin: float, day: int) -> Planned | None:
        now = _at(origin + SHIFT_S[0])
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
                    model=fit(ts, np.asarray(run.fill[i][c]), utc_offset_hours=8.0),
                )
                for c, spec in SIM_CONFIG.compartments.items()
            )
            urgent = "fire" if run.burning[i] else None
            site = len(city.layout.depots) + i
            stations.append(collection.Station(place.id, site, comps, urgent))
        # a station left today is emptied tomorrow somewhere in the shift: at its end at worst
        next_chance = _at(origin + DAY_S + SHIFT_S[1])
        shift_end = _at(origin + SHIFT_S[1])
        decisions = collection.decide(
            stations, now, now, next_chance, _at(origin), POLICY, shift_end=shift_end
        )
        stops = tuple(d.stop for d in decisions if d.stop is not None)
        return _solved(replace(city.base, stops=stops), solve_s, seed + day)

    return plan


def _overflows_at(sim: StationSim, until: float) -> float | None:
    """When the station, left alone, first turns a deposit away as full before `until`
    (epoch seconds): from a copy of its simulator run ahead, which draws the same deposits."""
    now = sim.now.timestamp()
    if any(c.over_since is not None for c in sim.comps.values()):
        return now
    ahead = copy.deepcopy(sim, {id(sim.config): sim.config})
    ahead.advance(_at(until))
    seen = [c.over_since for c in ahead.comps.values() if c.over_since is not None]
    return min(seen) if seen else None


def _clairvoyant(solve_s: float, seed: int) -> Planner:
    def plan(run: _Run, city: _City, origin: float, day: int) -> Planned | None:
        start, end = origin + SHIFT_S[0], origin + SHIFT_S[1]
        horizon = origin + DAY_S + SHIFT_S[1]  # the end of tomorrow's shift
        stops = []
        for i, sim in enumerate(run.sims):
            over = _overflows_at(sim, horizon)
            if over is None and not run.burning[i]:
                continue
            window = None
            if over is not None and over > start:
                latest = start + (end - start) * POLICY.latest_open
                opens = min(max(over - POLICY.late_margin_s, start), latest)
                closes = min(over, end)
                if closes > opens:
                    window = (int(opens - origin), int(closes - origin))
            stops.append(replace(_stop(city, i, *_loads_now(run, i)), window=window))
        return _solved(replace(city.base, stops=tuple(stops)), solve_s, seed + day)

    return plan


def _fire_stops(
    run: _Run, city: _City, shift: _Shift, now_s: int, new: list[tuple[int, float]]
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
        stop = _stop(city, i, *_loads_now(run, i))
        window = (now_s, int(seen_s) + FIRE_RESPONSE_S)
        urgent.append(replace(stop, ref=f"{stop.ref}:fire", priority=2, window=window))
    return urgent, taken


def _on_fire(solve_s: float, seed: int) -> Urgent:
    """Fires seen during the shift go into the running routes, to be reached within the hour
    where the trucks can, else as soon as the routes allow."""

    def handle(
        run: _Run, city: _City, shift: _Shift, now: float, new: list[tuple[int, float]], day: int
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


# --- the simulation ---------------------------------------------------------------------


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
) -> tuple[_City, Planned]:
    """The city and its fixed schedule; without a given fleet, the smallest one (from the load
    estimate up) with which the schedule serves every station."""
    loads = [busy_day_load(s.popularity, s.config) for s in sims]
    fleet = trucks or _fleet_for(loads)
    while True:
        city = _city(len(sims), fleet, seed, *span)
        stops = tuple(_stop(city, i, kg, m3) for i, (kg, m3) in enumerate(loads))
        problem = replace(city.base, stops=stops)
        plan = solve(problem, solve_s * FIXED_SOLVE_FACTOR, seed)
        if plan.feasible or trucks is not None or fleet >= len(sims):
            return city, (problem, plan)
        fleet += 1


def _late(run: _Run, fires: list[tuple[int, float, float]]) -> int:
    """Fires (station, start, next start) no truck reached within the hour of being seen."""
    late = 0
    for i, begin, until in fires:
        seen = [t for j, t in run.detected if j == i and begin <= t < until]
        if not seen or not any(seen[0] <= a <= seen[0] + FIRE_RESPONSE_S for a in run.arrivals[i]):
            late += 1
    return late


def _result(name: str, run: _Run, city: _City, counted: tuple[float, float]) -> PolicyResult:
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
        return _run(days, stations, seed, trucks, solve_s, warmup_days, cfg)


def _run(
    days: int,
    stations: int,
    seed: int,
    trucks: int | None,
    solve_s: float,
    warmup_days: int,
    cfg: SimConfig,
) -> tuple[SimReport, dict[str, list[StationSim]]]:
    first = FIRST_DAY.timestamp()
    begin, end = first - warmup_days * DAY_S, first + days * DAY_S
    probe = layout(stations, 1, seed)
    sims = [StationSim(s.id, f"{seed}/{s.id}", cfg, _at(begin)) for s in probe.stations]
    city, fixed = _fixed(sims, trucks, seed, solve_s, (begin, end))
    warm = _Run(sims)
    for d in range(warmup_days):
        _day(warm, city, begin + d * DAY_S, d - warmup_days, lambda *_: fixed, None)
    planners: dict[str, tuple[Planner, Urgent | None]] = {
        "fixed": (lambda *_: fixed, None),
        "threshold": (_threshold(solve_s, seed), None),
        "forecast": (_forecast(solve_s, seed), _on_fire(solve_s, seed)),
        "clairvoyant": (_clairvoyant(solve_s, seed), _on_fire(solve_s, seed)),
    }
    results, ends = [], {}
    for name in POLICIES:
        run = copy.deepcopy(warm, {id(cfg): cfg})  # the config is shared, frozen
        run.counted_from_here()
        planner, urgent = planners[name]
        for d in range(days):
            _day(run, city, first + d * DAY_S, d, planner, urgent)
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
    )
    return report
