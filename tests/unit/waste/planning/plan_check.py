"""An independent validator for collection plans: the tests' judge, not the solver's report.

Everything is recomputed from the problem's stops, trucks and matrices; the plan's own loads,
distances and times are only compared against that, never believed. `check` returns every
broken rule as a sentence (an empty list is a valid plan)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Collection, Mapping

from onecity.waste.planning.replan import Replan
from onecity.waste.planning.routing import Plan, Problem, Route, Truck

EPS_KG = 1e-6


def _truck_of(problem: Problem, route: Route) -> Truck | None:
    tid = route.truck.split("#", 1)[0]
    return next((t for t in problem.trucks if t.id == tid), None)


Resume = tuple[int, int] | tuple[int, int, int]


def _check_route(problem: Problem, route: Route, truck: Truck, resume: Resume | None) -> list[str]:
    """`resume` = (k, t): the truck is held where it is until t before its k-th visit (replan);
    (k, t, site): it was seen at that site at t, on its way from its (k-1)-th visit."""
    errs: list[str] = []
    name = route.truck
    start = truck.start_site if truck.start_site is not None else truck.depot
    stops = [problem.stops[v.stop].site for v in route.visits]
    via = resume[2] if resume is not None and len(resume) == 3 else None
    # sites[k] is where the truck comes from to its k-th visit (sites[-2]: to its depot)
    sites = [start, *stops, truck.depot]
    path = list(sites)
    if via is not None and resume is not None:
        sites[resume[0]] = via
        path.insert(resume[0] + 1, via)

    want_m = sum(int(problem.distance_m[a, b]) for a, b in itertools.pairwise(path))
    if route.distance_m != want_m:
        errs.append(f"{name}: distance {route.distance_m} m, the matrix says {want_m} m")

    if route.start_s < truck.shift[0]:
        errs.append(f"{name}: leaves at {route.start_s}, before its shift at {truck.shift[0]}")
    kg, m3 = truck.load_kg, truck.load_m3
    earliest = truck.shift[0]  # the earliest feasible schedule, recomputed from scratch
    prev_depart = route.start_s  # the plan's own schedule, checked step by step
    for k, v in enumerate(route.visits):
        stop = problem.stops[v.stop]
        here = f"{name} visit {k} (stop {v.stop} {stop.ref})"
        leg = int(problem.duration_s[sites[k], stops[k]])
        early, late = stop.window if stop.window is not None else (0, 2**62)
        if resume is not None and k == resume[0]:
            # re-planned: the truck stood at its last served stop until now, then went on
            held = max(prev_depart, resume[1])
            earliest = max(earliest, resume[1])
            if v.arrive_s < held + leg:
                errs.append(f"{here}: arrives {v.arrive_s}, before it can ({held + leg})")
        elif v.arrive_s != prev_depart + leg:
            errs.append(
                f"{here}: arrives {v.arrive_s}, previous departure + travel is {prev_depart + leg}"
            )
        if v.start_s < v.arrive_s:
            errs.append(f"{here}: service starts at {v.start_s}, before arriving at {v.arrive_s}")
        if v.start_s < early:
            errs.append(f"{here}: service starts at {v.start_s}, before its window opens ({early})")
        if v.start_s > late:
            errs.append(f"{here}: service starts at {v.start_s}, after its window closes ({late})")
        if v.depart_s != v.start_s + stop.service_s:
            errs.append(
                f"{here}: departs {v.depart_s}, start + service is {v.start_s + stop.service_s}"
            )
        prev_depart = v.depart_s

        begin = max(earliest + leg, early)
        if begin > late:
            errs.append(f"{here}: cannot be reached before its window closes ({begin} > {late})")
        earliest = begin + stop.service_s

        kg += stop.kg
        m3 += stop.m3
        if kg > truck.capacity_kg + EPS_KG:
            errs.append(f"{here}: {kg} kg on board, capacity {truck.capacity_kg} kg")
        if m3 > truck.capacity_m3 + EPS_KG:
            errs.append(f"{here}: {m3} m3 on board, capacity {truck.capacity_m3} m3")
        if abs(v.load_kg - kg) > EPS_KG or abs(v.load_m3 - m3) > EPS_KG:
            errs.append(f"{here}: reports {v.load_kg} kg / {v.load_m3} m3, recomputed {kg} / {m3}")

    home = int(problem.duration_s[sites[-2], truck.depot])
    if via is not None and resume is not None and resume[0] == len(route.visits):
        prev_depart = max(prev_depart, resume[1])  # seen on the road after its last stop
        earliest = max(earliest, resume[1])
    if earliest + home > truck.shift[1]:
        errs.append(
            f"{name}: cannot be back before its shift ends ({earliest + home} > {truck.shift[1]})"
        )
    if route.end_s < prev_depart + home:
        errs.append(
            f"{name}: back at {route.end_s}, last departure + travel is {prev_depart + home}"
        )
    if route.end_s > truck.shift[1]:
        errs.append(f"{name}: back at {route.end_s}, after its shift ends at {truck.shift[1]}")
    return errs


def check(
    problem: Problem,
    plan: Plan,
    resume: Mapping[str, Resume] | None = None,
    merged: Collection[int] = (),
) -> list[str]:
    """Every rule `plan` breaks for `problem`. For re-planned routes, `resume` maps a route
    name to (k, now_s): the truck stood at its (k-1)-th stop until now_s before going on; and
    `merged` stops were handed over to an urgent stop at the same station."""
    errs: list[str] = []
    n = len(problem.stops)
    seen: Counter[int] = Counter()
    per_truck: Counter[str] = Counter()
    for r in plan.routes:
        truck = _truck_of(problem, r)
        if truck is None:
            errs.append(f"route {r.truck}: no such truck")
            continue
        per_truck[truck.id] += 1
        bad = [v.stop for v in r.visits if not 0 <= v.stop < n]
        if bad:
            errs.append(f"route {r.truck}: visits stops {bad} that do not exist")
            continue
        if not r.visits:
            errs.append(f"route {r.truck}: empty")
        seen.update(v.stop for v in r.visits)
        errs += _check_route(problem, r, truck, (resume or {}).get(r.truck))
    for t in problem.trucks:
        if per_truck[t.id] > t.count:
            errs.append(f"truck {t.id}: {per_truck[t.id]} routes, it has {t.count}")
    errs += [f"stop {i}: served {c} times" for i, c in seen.items() if c > 1]

    unserved = [u.stop for u in plan.unserved]
    if len(set(unserved)) != len(unserved):
        errs.append(f"a stop is reported unserved twice: {sorted(unserved)}")
    for i in set(unserved) & set(seen):
        errs.append(f"stop {i}: reported unserved but served")
    for i in plan.skipped:
        if not 0 <= i < n or problem.stops[i].required:
            errs.append(f"stop {i}: skipped but required (or not a stop)")
        elif i in seen:
            errs.append(f"stop {i}: skipped but served")
    for i, s in enumerate(problem.stops):
        if s.required and i not in seen and i not in unserved and i not in merged:
            errs.append(f"stop {i} ({s.ref}): required, neither served nor reported unserved")
    if plan.distance_m != sum(r.distance_m for r in plan.routes):
        errs.append("the plan's distance is not the sum of its routes")
    return errs


def check_replan(
    before_problem: Problem,
    before_plan: Plan,
    served: Collection[int],
    result: Replan,
    now_s: int,
    positions: Mapping[str, int] | None = None,
) -> list[str]:
    """Served stops keep truck, position and times; urgent stops are served unless the result
    names them as unserved (with a reason); the merged plan is valid for the merged problem.
    `positions`: where trucks were seen at now_s (a truck goes on from there)."""
    errs: list[str] = []
    p = result.problem
    k = len(before_problem.stops)
    if p.stops[:k] != before_problem.stops:
        errs.append("the re-planned problem changed the original stops")
    after = {r.truck: r for r in result.plan.routes}
    resume: dict[str, Resume] = {}
    seen_at = positions or {}
    for r in before_plan.routes:
        kept = [v for v in r.visits if v.stop in served]
        if r.truck in seen_at and r.truck in after:
            resume[r.truck] = (len(kept), now_s, seen_at[r.truck])
        # served stops are a prefix of what the crew was doing
        if [v.stop for v in r.visits[: len(kept)]] != [v.stop for v in kept]:
            errs.append(f"{r.truck}: the served stops are not the start of its route")
        if not kept:
            continue
        new = after.get(r.truck)
        if new is None:
            errs.append(f"{r.truck}: served stops but has no route after re-planning")
            continue
        if tuple(new.visits[: len(kept)]) != tuple(kept):
            errs.append(f"{r.truck}: its served visits changed (stop, order, times or loads)")
        if new.start_s != r.start_s:
            errs.append(f"{r.truck}: its start time changed")
        if r.truck not in seen_at:
            resume[r.truck] = (len(kept), now_s)
    for name in after.keys() & seen_at.keys() - resume.keys():  # no route before: 0 served
        resume[name] = (0, now_s, seen_at[name])
    for name, route in after.items():
        truck = _truck_of(p, route)
        if truck and name not in resume and route.start_s < min(now_s, truck.shift[1]):
            errs.append(f"{name}: leaves at {route.start_s}, before now ({now_s})")
    served_after = {v.stop for r in result.plan.routes for v in r.visits}
    for i in served:
        if i not in served_after:
            errs.append(f"stop {i}: was served, missing after re-planning")
    named = {u.stop for u in result.unserved}
    for i in result.urgent:
        if i not in served_after and i not in named:
            errs.append(f"urgent stop {i}: neither served nor reported unserved")
        if i in named and not next(u for u in result.unserved if u.stop == i).detail:
            errs.append(f"urgent stop {i}: reported unserved without a reason")
    for i in result.merged:
        ref = p.stops[i].ref
        if i in served_after or i in served:
            errs.append(f"stop {i}: merged into an urgent stop, yet served")
        if not any(p.stops[u].ref == ref for u in result.urgent):
            errs.append(f"stop {i}: merged, but no urgent stop is at {ref}")
    errs += check(p, result.plan, resume, result.merged)
    return errs
