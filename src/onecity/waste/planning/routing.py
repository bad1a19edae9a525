"""Collection routes: the planning problem as plain data, solved by PyVRP.

PyVRP (Wouda, Lan and Kool, 2024) is the open solver with the best published gaps on the
CVRPLIB X set; everything here is its input and output in the city's terms. A `Problem` holds
sites with a travel matrix, the stops to make (station emptyings and repairs), and the trucks
(a depot each, capacity in kg and m³, a shift). Times are whole seconds from the problem's
origin (the planning day's local midnight, chosen by the caller); distances are whole metres.

`solve` plans it; `replan.replan` inserts urgent stops into running routes without touching
what the crews have already served. Stops are either required (will overflow before the next
shift, a fire, a fault) or optional with a prize in metres: a stop is worth visiting when the
detour costs fewer metres than its prize (prize-collecting VRP).

No database and no clock here; the callers are the plan service, the simulation and the
VRPLIB benchmark entry point, which all go through `solve`."""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime

KG_UNITS = 10  # loads go to the solver in 0.1 kg and litres, rounded against the truck
LITRES = 1000
FOREVER = 2**40  # an open time window end, far below PyVRP's limit of 2**44


class PlanError(ValueError):
    """A problem that cannot be planned as given; the message says which part is wrong."""


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    x: float  # longitude for city sites; the instance's own x for VRPLIB
    y: float


@dataclass(frozen=True, slots=True)
class Stop:
    ref: str  # what the crew serves: a station id, or a job id for a repair
    site: int
    kg: float = 0.0
    m3: float = 0.0
    service_s: int = 0
    window: tuple[int, int] | None = None  # when service may start; None: any time
    required: bool = True
    prize_m: int = 0  # optional stops: metres of driving a visit is worth
    priority: int = 0  # among required stops that do not all fit: higher goes first
    kind: str = "collect"


@dataclass(frozen=True, slots=True)
class Truck:
    id: str
    depot: int  # where its shift ends (and starts, unless start_site says otherwise)
    capacity_kg: float
    capacity_m3: float
    shift: tuple[int, int]  # leaves no earlier than, back no later than
    count: int = 1  # identical trucks (VRPLIB fleets); routes are then named id#k
    start_site: int | None = None  # where it is now, when re-planning
    load_kg: float = 0.0  # already on board, when re-planning
    load_m3: float = 0.0


@dataclass(frozen=True)
class Problem:
    sites: tuple[Site, ...]
    stops: tuple[Stop, ...]
    trucks: tuple[Truck, ...]
    distance_m: np.ndarray  # sites x sites, whole metres
    duration_s: np.ndarray  # sites x sites, whole seconds

    def __post_init__(self) -> None:
        n = len(self.sites)
        for name in ("distance_m", "duration_s"):
            m = getattr(self, name)
            if m.shape != (n, n):
                raise PlanError(f"{name} must be {n} x {n} (one row per site), not {m.shape}")
            if (m < 0).any():
                raise PlanError(f"{name} has a negative entry")
        if not self.trucks:
            raise PlanError("the problem needs at least one truck")
        for i, s in enumerate(self.stops):
            if not 0 <= s.site < n:
                raise PlanError(f"stop {i} ({s.ref}) names site {s.site}, not one of the {n}")
            if s.kg < 0 or s.m3 < 0 or s.service_s < 0 or s.prize_m < 0:
                raise PlanError(f"stop {i} ({s.ref}): load, service time and prize must be >= 0")
            if s.window is not None and s.window[0] > s.window[1]:
                raise PlanError(f"stop {i} ({s.ref}): its window ends before it starts")
        for t in self.trucks:
            for site in (t.depot, t.start_site):
                if site is not None and not 0 <= site < n:
                    raise PlanError(f"truck {t.id} names site {site}, not one of the {n}")
            if t.shift[0] > t.shift[1]:
                raise PlanError(f"truck {t.id}: its shift ends before it starts")
            if t.capacity_kg <= 0 or t.capacity_m3 <= 0 or t.count < 1:
                raise PlanError(f"truck {t.id}: capacity and count must be positive")


@dataclass(frozen=True, slots=True)
class Visit:
    stop: int
    arrive_s: int
    start_s: int  # service starts (after waiting for the stop's window)
    depart_s: int
    load_kg: float  # on board after the stop
    load_m3: float


@dataclass(frozen=True, slots=True)
class Route:
    truck: str
    visits: tuple[Visit, ...]
    start_s: int  # leaves its start site
    end_s: int  # back at its depot
    distance_m: int


@dataclass(frozen=True, slots=True)
class Unserved:
    stop: int
    code: str  # window_unreachable | shift_too_short | no_capacity | fleet_too_small
    detail: str


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...]
    skipped: tuple[int, ...]  # optional stops not worth their detour
    unserved: tuple[Unserved, ...]  # required stops the fleet cannot serve, and why
    solve_s: float = 0.0

    @property
    def feasible(self) -> bool:
        return not self.unserved

    @property
    def distance_m(self) -> int:
        return sum(r.distance_m for r in self.routes)

    def served(self) -> set[int]:
        return {v.stop for r in self.routes for v in r.visits}


def _units(kg: float, m3: float, up: bool, volume: bool = True) -> list[int]:
    f = math.ceil if up else math.floor
    # 1e-9 keeps 1.2 m3 at 1,200 litres despite binary fractions
    eps = 1e-9 if up else -1e-9
    out = [int(f(kg * KG_UNITS - eps))]
    if volume:
        out.append(int(f(m3 * LITRES - eps)))
    return out


def _soft_prize(p: Problem) -> int:
    """The prize a required stop gets when the fleet cannot serve them all: more than the
    longest detour any one stop can cost (there and back across the matrix) and than any
    optional stop's prize, so the solver serves as many as it can. Not more: PyVRP's penalties
    for overload and lateness are bounded, and a prize beyond them makes breaking a route
    cheaper than leaving a stop out."""
    longest = int(p.distance_m.max()) if p.distance_m.size else 0
    best_optional = max((s.prize_m for s in p.stops if not s.required), default=0)
    return max(2 * longest, best_optional) + 1


def _hhmm(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}" if s < 10 * 86400 else "never"


def _alone(p: Problem, i: int) -> Unserved | None:
    """Why no truck could serve required stop i even with nothing else to do, or None."""
    s = p.stops[i]
    codes: list[Unserved] = []
    for t in p.trucks:
        start = origin_site(t)
        early, late = s.window or (0, FOREVER)
        begin = max(t.shift[0] + int(p.duration_s[start, s.site]), early)
        need = _units(t.load_kg + s.kg, t.load_m3 + s.m3, up=True)
        room = _units(t.capacity_kg, t.capacity_m3, up=False)
        if need[0] > room[0]:
            codes.append(Unserved(i, "no_capacity", f"no truck has room for its {s.kg:.0f} kg"))
        elif need[1] > room[1]:
            codes.append(Unserved(i, "no_capacity", f"no truck has room for its {s.m3:.2f} m³"))
        elif begin > late:
            codes.append(
                Unserved(
                    i,
                    "window_unreachable",
                    f"no truck can reach it before its window closes at {_hhmm(late)}",
                )
            )
        elif begin + s.service_s + int(p.duration_s[s.site, t.depot]) > t.shift[1]:
            codes.append(
                Unserved(
                    i,
                    "shift_too_short",
                    "no truck can serve it and be back at its depot before its shift ends",
                )
            )
        else:
            return None
    order = ("no_capacity", "window_unreachable", "shift_too_short")
    return min(codes, key=lambda u: order.index(u.code))


@dataclass
class _Index:
    clients: list[int] = field(default_factory=list)  # client index -> stop index


def _data(p: Problem, leave_out: Collection[int], soften: bool) -> tuple[pyvrp.ProblemData, _Index]:
    idx = _Index()
    # A dimension no stop uses only slows the search (VRPLIB instances have no volume).
    volume = any(s.m3 > 0 for s in p.stops) or any(t.load_m3 > 0 for t in p.trucks)
    soft = _soft_prize(p)
    depot_sites = sorted(
        {t.depot for t in p.trucks} | {t.start_site for t in p.trucks if t.start_site is not None}
    )
    depot_of = {site: k for k, site in enumerate(depot_sites)}
    locations = [pyvrp.Location(x=s.x, y=s.y, name=s.name) for s in p.sites]
    depots = [pyvrp.Depot(location=site) for site in depot_sites]
    clients = []
    for i, s in enumerate(p.stops):
        if i in leave_out:
            continue
        early, late = s.window or (0, FOREVER)
        required = s.required and not soften
        prize = s.prize_m
        if s.required and soften:
            prize = soft * (1 + s.priority)
        clients.append(
            pyvrp.Client(
                location=s.site,
                pickup=_units(s.kg, s.m3, up=True, volume=volume),
                service_duration=s.service_s,
                tw_early=early,
                tw_late=late,
                prize=prize,
                required=required,
                name=s.ref,
            )
        )
        idx.clients.append(i)
    types = []
    for t in p.trucks:
        start = origin_site(t)
        types.append(
            pyvrp.VehicleType(
                num_available=t.count,
                capacity=_units(t.capacity_kg, t.capacity_m3, up=False, volume=volume),
                start_depot=depot_of[start],
                end_depot=depot_of[t.depot],
                tw_early=t.shift[0],
                tw_late=t.shift[1],
                initial_load=_units(t.load_kg, t.load_m3, up=True, volume=volume),
                name=t.id,
            )
        )
    dist = np.ascontiguousarray(p.distance_m, dtype=np.int64)
    dur = np.ascontiguousarray(p.duration_s, dtype=np.int64)
    data = pyvrp.ProblemData(locations, clients, depots, types, [dist], [dur])  # type: ignore[list-item]  # the stub's ndarray[int] is not a numpy type
    return data, idx


def _routes(
    p: Problem, sol: pyvrp.Solution, idx: _Index, feasible_only: bool = False
) -> tuple[Route, ...]:
    out = []
    used: dict[int, int] = {}
    for r in sol.routes():
        if feasible_only and not r.is_feasible():
            continue
        vt = r.vehicle_type()
        truck = p.trucks[vt]
        k = used[vt] = used.get(vt, 0) + 1
        name = truck.id if truck.count == 1 else f"{truck.id}#{k}"
        kg, m3 = truck.load_kg, truck.load_m3
        visits = []
        for a in r.schedule():
            if not a.is_client():
                continue
            stop = idx.clients[a.idx]
            kg += p.stops[stop].kg
            m3 += p.stops[stop].m3
            visits.append(
                Visit(
                    stop=stop,
                    arrive_s=a.start_time - a.wait_duration,
                    start_s=a.start_time,
                    depart_s=a.end_time,
                    load_kg=kg,
                    load_m3=m3,
                )
            )
        out.append(Route(name, tuple(visits), r.start_time(), r.end_time(), r.distance()))
    return tuple(out)


def _search(data: pyvrp.ProblemData, deadline: float, seed: int) -> pyvrp.Solution:
    # A wall-clock deadline, not a duration: a worker process's start-up comes out of it.
    seconds = max(0.05, deadline - time.time())
    result = pyvrp.solve(
        data, stop=MaxRuntime(seconds), seed=seed, collect_stats=False, display=False
    )
    return result.best


def _cost(sol: pyvrp.Solution) -> tuple[bool, int]:
    """Feasible first, then distance plus the prizes it leaves behind."""
    return (not sol.is_feasible(), sol.distance() + sol.uncollected_prizes())


def _best_of(data: pyvrp.ProblemData, seconds: float, seed: int, workers: int) -> pyvrp.Solution:
    """One search, or `workers` searches from different seeds in parallel processes (the
    iterated local search is single-threaded): the same wall time, a better and steadier
    result on a machine with the cores to spare."""
    deadline = time.time() + seconds
    if workers <= 1:
        return _search(data, deadline, seed)
    deadline -= 0.5  # handing the solutions back and stopping the workers
    ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        runs = [pool.submit(_search, data, deadline, seed + k) for k in range(workers)]
        return min((r.result() for r in runs), key=_cost)


def solve(p: Problem, seconds: float, seed: int = 0, workers: int = 1) -> Plan:
    """The best plan PyVRP finds in `seconds`. Required stops no truck could serve even alone
    are left out with their reason; if the rest cannot all be served together, as many as fit
    are (higher priority first) and the others are reported as `fleet_too_small`."""
    began = time.monotonic()
    alone = [u for i, s in enumerate(p.stops) if s.required and (u := _alone(p, i)) is not None]
    leave_out = {u.stop for u in alone}
    if len(leave_out) == len(p.stops):
        return Plan((), (), tuple(alone), time.monotonic() - began)
    data, idx = _data(p, leave_out, soften=False)
    best = _best_of(data, seconds, seed, workers)
    unserved = list(alone)
    if not best.is_feasible():
        data, idx = _data(p, leave_out, soften=True)
        best = _best_of(data, seconds, seed, workers)
    # Whatever the search ended with, a route that breaks a load, window or shift is not a
    # plan a crew can drive: its stops are reported as not fitting instead.
    routes = _routes(p, best, idx, feasible_only=True)
    served = {v.stop for r in routes for v in r.visits}
    for i in idx.clients:
        if p.stops[i].required and i not in served:
            detail = "the trucks cannot serve every must-visit stop within their shifts and loads"
            unserved.append(Unserved(i, "fleet_too_small", detail))
    skipped = tuple(i for i in idx.clients if not p.stops[i].required and i not in served)
    return Plan(routes, skipped, tuple(unserved), time.monotonic() - began)


def origin_site(t: Truck) -> int:
    """Where the truck starts: its start site when re-planning, else its depot."""
    return t.start_site if t.start_site is not None else t.depot
