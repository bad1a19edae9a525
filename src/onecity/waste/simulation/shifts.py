"""The simulated city and one policy's run through it: the stations' telemetry between the
dispatcher's looks, fires started and put out, trucks' visits emptying compartments, a day's
shift planned and driven. The simulation's settings are here too."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from statistics import NormalDist
from types import MappingProxyType

from onecity.waste.planning import policy as collection
from onecity.waste.planning.forecast import offset_hours
from onecity.waste.planning.routing import (
    Plan,
    Problem,
    Site,
    Truck,
)
from onecity.waste.simulation.city_layout import CityLayout, layout, taipei_trucks, taipei_zone
from onecity.waste.simulation.station_config import (
    COMPARTMENTS,
    DEFAULT_SIM,
    INCIDENTS,
    IncidentSpec,
    SimConfig,
)
from onecity.waste.simulation.stations import StationSim

POLICIES = ("fixed", "threshold", "forecast", "clairvoyant")
ZONE = taipei_zone()  # the simulated city's local time (its profile's time zone)
FIRST_DAY = datetime(2026, 3, 2, tzinfo=ZONE)  # a Monday; the warm-up runs before it
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
    utc_offset_hours=offset_hours(ZONE, FIRST_DAY),
    incidents=MappingProxyType(
        {n: IncidentSpec(0.0, None) if n == "fire" else DEFAULT_SIM.incidents[n] for n in INCIDENTS}
    ),
)
POLICY = collection.Policy()


# --- the city ---------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
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


def make_city(stations: int, trucks: int, seed: int, start: float, end: float) -> City:
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
    return City(lay, Problem(sites, (), fleet, dist, dur), fires)


# --- one policy's run -------------------------------------------------------------------


@dataclass
class Run:
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


def local_at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, ZONE)


def _advance(run: Run, city: City, i: int, until: float, visits: list[tuple[float, float]]) -> None:
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
        at = local_at(max(t, sim.now.timestamp()))
        if kind == "start":
            sim.force_fire(at, comp)
        elif kind == "end" or (kind == "visit" and sim.active["fire"]):
            sim.repair("fire", at)  # it burns out, or the crew puts it out
        if kind == "visit":
            run.collected_kg += sum(sim.empty(c, at) for c in COMPARTMENTS)
            run.stops[-1] += 1
    for s in sim.advance(local_at(until)):
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
Planner = Callable[[Run, City, float, int], Planned | None]


@dataclass
class Shift:
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


Urgent = Callable[[Run, City, Shift, float, list[tuple[int, float]], int], None]


def run_day(
    run: Run, city: City, origin: float, day: int, planner: Planner, urgent: Urgent | None
) -> None:
    """One day from 00:00 local: to the shift's start, plan, the shift in slices, to midnight."""
    n, start, end = len(run.sims), origin + SHIFT_S[0], origin + SHIFT_S[1]
    run.stops.append(0)
    for i in range(n):
        _advance(run, city, i, start, [])
    problem, plan = planner(run, city, origin, day) or (city.base, Plan((), (), ()))
    shift = Shift(problem, plan, origin, len(city.layout.depots))
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
