"""Re-planning running routes: insert urgent stops (a fire, a fault a dispatcher sends a crew
to) into the plan the trucks are driving, without touching what the crews have already served.
Every truck goes on from where it is now, with what it has on board. Pure, like `routing`,
whose `solve` plans the part of the day that is left."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from onecity.waste.planning.routing import (
    Plan,
    PlanError,
    Problem,
    Route,
    Stop,
    Truck,
    Unserved,
    Visit,
    origin_site,
    solve,
)


@dataclass(frozen=True)
class Replan:
    plan: Plan  # every truck's whole route: served visits unchanged, then the new remainder
    problem: Problem  # the problem the plan's stop indices refer to (urgent stops appended)
    urgent: tuple[int, ...]  # indices of the urgent stops in `problem.stops`
    unserved: tuple[Unserved, ...]  # required or urgent stops now left out, and why
    merged: tuple[int, ...] = ()  # waiting stops replaced by an urgent stop at the same place

    @property
    def urgent_served(self) -> bool:
        return set(self.urgent) <= self.plan.served()


def replan(
    p: Problem,
    plan: Plan,
    now_s: int,
    served: Collection[int],
    urgent: Sequence[Stop],
    seconds: float,
    seed: int = 0,
    positions: Mapping[str, int] | None = None,
) -> Replan:
    """Insert `urgent` stops into the running `plan` at `now_s`. Stops in `served` are done:
    they keep their truck, order and times. Every truck goes on from where it is now: the site
    in `positions` (a truck id to a site of `p` where it was seen at `now_s`, e.g. by its
    crew's phone), else the last stop it served (its start site if none), with what it has on
    board; the stops not yet served, the optional ones skipped before and the urgent ones are
    planned again among the trucks. Urgent stops are required and outrank the others if not
    everything fits any more."""
    done = set(served)
    positions = positions or {}
    if any(not 0 <= site < len(p.sites) for site in positions.values()):
        raise PlanError("a truck's position must be one of the problem's sites")
    merged, urgent = _merge(p, done, urgent)
    full = replace(p, stops=p.stops + tuple(replace(s, required=True) for s in urgent))
    urgent_idx = tuple(range(len(p.stops), len(full.stops)))
    prior = {s: r.truck for r in plan.routes for s in (v.stop for v in r.visits)}
    if not done <= set(prior):
        raise PlanError("a served stop must be one the plan gave a truck")
    kept, trucks = _trucks_now(p, plan, done, now_s, positions)
    rest_idx = [i for i in range(len(full.stops)) if i not in done and i not in merged]
    # urgent stops outrank the rest if the fleet cannot take everything
    rest_stops = tuple(
        replace(full.stops[i], priority=full.stops[i].priority + (10 if i in urgent_idx else 0))
        for i in rest_idx
    )
    part = solve(replace(full, stops=rest_stops, trucks=trucks), seconds, seed)
    routes = tuple(
        r
        for t in p.trucks
        if (r := _stitch(p, plan, part, t, kept[t.id], rest_idx, now_s, positions)) is not None
    )
    unserved = tuple(replace(u, stop=rest_idx[u.stop]) for u in part.unserved)
    skipped = tuple(rest_idx[i] for i in part.skipped)
    result = Plan(routes, skipped, unserved, part.solve_s)
    return Replan(result, full, urgent_idx, unserved, merged)


def _merge(
    p: Problem, done: set[int], urgent: Sequence[Stop]
) -> tuple[tuple[int, ...], list[Stop]]:
    """A station already waiting on a route and now urgent is visited once: the urgent stop
    takes over its load and service time, and the waiting stop goes. Returns the waiting
    stops merged away and the urgent stops as they now are."""
    refs = {s.ref for s in urgent}
    merged = tuple(i for i, s in enumerate(p.stops) if i not in done and s.ref in refs)
    extra = {p.stops[i].ref: p.stops[i] for i in merged}
    return merged, [
        replace(
            u,
            kg=max(u.kg, extra[u.ref].kg),
            m3=max(u.m3, extra[u.ref].m3),
            service_s=max(u.service_s, extra[u.ref].service_s),
        )
        if u.ref in extra
        else u
        for u in urgent
    ]


def _trucks_now(
    p: Problem, plan: Plan, done: set[int], now_s: int, positions: Mapping[str, int]
) -> tuple[dict[str, tuple[Visit, ...]], tuple[Truck, ...]]:
    """Each truck's served visits, and the truck as it goes on from now: from where it is,
    with what it has on board, for what is left of its shift."""
    kept: dict[str, tuple[Visit, ...]] = {}
    trucks = []
    for t in p.trucks:
        if t.count != 1:
            raise PlanError("re-planning needs one entry per truck (count 1)")
        route = next((r for r in plan.routes if r.truck == t.id), None)
        visits = tuple(v for v in (route.visits if route else ()) if v.stop in done)
        kept[t.id] = visits
        last = visits[-1] if visits else None
        site = positions.get(t.id, p.stops[last.stop].site if last else origin_site(t))
        begin = max(now_s, last.depart_s if last else t.shift[0])
        trucks.append(
            replace(
                t,
                start_site=site,
                shift=(min(begin, t.shift[1]), t.shift[1]),
                load_kg=last.load_kg if last else t.load_kg,
                load_m3=last.load_m3 if last else t.load_m3,
            )
        )
    return kept, tuple(trucks)


def _stitch(
    p: Problem,
    plan: Plan,
    part: Plan,
    t: Truck,
    before: tuple[Visit, ...],
    rest_idx: list[int],
    now_s: int,
    positions: Mapping[str, int],
) -> Route | None:
    """The truck's whole route: its served visits, then its part of the new plan (whose stop
    indices `rest_idx` maps back); None for a truck with neither."""
    new = next((r for r in part.routes if r.truck == t.id), None)
    old = next((r for r in plan.routes if r.truck == t.id), None)
    after = tuple(replace(v, stop=rest_idx[v.stop]) for v in (new.visits if new else ()))
    if not before and not after:
        return None
    driven = _driven(p, t, before)
    here = _at(p, t, before)
    if t.id in positions:  # driven on from its last stop to where it was seen
        driven += int(p.distance_m[here, positions[t.id]])
        here = positions[t.id]
    if old is not None and before:
        start = old.start_s
    elif old is not None and t.id in positions:  # seen on its way: it left by now
        start = min(old.start_s, now_s)
    else:
        start = new.start_s if new else now_s
    return Route(
        t.id,
        before + after,
        start,
        new.end_s if new else _home(p, t, before, here, now_s),
        driven + (new.distance_m if new else int(p.distance_m[here, t.depot])),
    )


def _at(p: Problem, t: Truck, visits: Sequence[Visit]) -> int:
    return p.stops[visits[-1].stop].site if visits else origin_site(t)


def _driven(p: Problem, t: Truck, visits: Sequence[Visit]) -> int:
    """Metres from the truck's start to its last served stop."""
    sites = [origin_site(t), *(p.stops[v.stop].site for v in visits)]
    return sum(int(p.distance_m[a, b]) for a, b in itertools.pairwise(sites))


def _home(p: Problem, t: Truck, visits: Sequence[Visit], here: int, now_s: int) -> int:
    """When a truck with nothing left to do is back at its depot, from `here`."""
    if here != _at(p, t, visits):  # seen on the road at now_s
        return max(now_s, visits[-1].depart_s if visits else 0) + int(p.duration_s[here, t.depot])
    if not visits:
        return t.shift[0]
    return visits[-1].depart_s + int(p.duration_s[here, t.depot])
