"""The collection planner against an independent validator, CVRPLIB/Solomon optima, and
problems that are infeasible on purpose."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from onecity.waste.planning import replan as replanning
from onecity.waste.planning import routing, vrplib_io
from onecity.waste.planning.routing import PlanError, Problem, Site, Stop, Truck

from .plan_check import check, check_replan

DATA = Path(__file__).resolve().parents[3] / "data" / "cvrplib"
H = 3600


def matrices(xy: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Street metres (1.3 x the straight line) and seconds at 8 m/s, between points in metres."""
    a = np.asarray(xy, dtype=float)
    straight = np.sqrt(((a[:, None, :] - a[None, :, :]) ** 2).sum(axis=2))
    metres = np.rint(straight * 1.3).astype(np.int64)
    return metres, np.rint(metres / 8.0).astype(np.int64)


def city(
    stops: list[tuple[tuple[float, float], Stop]],
    trucks: list[Truck],
    depots: list[tuple[float, float]],
) -> Problem:
    """Depots are sites 0..d-1; the k-th stop stands at site d + k (its `site` is set here)."""
    xy = depots + [p for p, _ in stops]
    sites = tuple(Site(f"s{i}", x, y) for i, (x, y) in enumerate(xy))
    placed = tuple(replace(s, site=len(depots) + k) for k, (_, s) in enumerate(stops))
    d, t = matrices(xy)
    return Problem(sites, placed, tuple(trucks), d, t)


def random_city(seed: int) -> Problem:
    rng = random.Random(seed)
    n_depots = rng.randint(1, 2)
    depots = [(rng.uniform(0, 8000), rng.uniform(0, 8000)) for _ in range(n_depots)]
    stops = []
    for k in range(rng.randint(5, 40)):
        window = None
        if rng.random() < 0.4:
            a = rng.randrange(6 * H, 12 * H, 600)
            window = (a, a + rng.choice((1, 2, 3)) * H)
        required = rng.random() < 0.7
        stops.append(
            (
                (rng.uniform(0, 10000), rng.uniform(0, 10000)),
                Stop(
                    ref=f"st{k}",
                    site=0,
                    kg=round(rng.uniform(20, 400), 1),
                    m3=round(rng.uniform(0.1, 2.5), 2),
                    service_s=rng.randrange(60, 900),
                    window=window,
                    required=required,
                    prize_m=0 if required else rng.choice((0, 500, 3000, 20000)),
                    priority=rng.randint(0, 2),
                ),
            )
        )
    trucks = []
    for k in range(rng.randint(1, 4)):
        begin = rng.choice((5, 6, 7)) * H
        trucks.append(
            Truck(
                id=f"T{k}",
                depot=rng.randrange(n_depots),
                capacity_kg=rng.choice((1500.0, 2500.0, 4000.0)),
                capacity_m3=rng.choice((8.0, 12.0, 20.0)),
                shift=(begin, begin + rng.choice((4, 6, 8)) * H),
                count=rng.choice((1, 1, 2)),
            )
        )
    return city(stops, trucks, depots)


# -- CVRPLIB and Solomon through the product's code path ------------------------------------


def test_a_n32_k5_reaches_the_optimum_784() -> None:
    inst = vrplib_io.load(DATA / "A-n32-k5.vrp")
    plan = routing.solve(inst.problem, seconds=0.5, seed=0)
    assert check(inst.problem, plan) == []
    assert plan.distance_m == 784 == vrplib_io.best_known(DATA / "A-n32-k5.vrp")
    assert len(plan.routes) == 5


def test_parallel_searches_keep_the_best_valid_plan() -> None:
    # two worker processes from seeds 3 and 4; what comes back is a whole, valid plan
    inst = vrplib_io.load(DATA / "A-n32-k5.vrp")
    plan = routing.solve(inst.problem, seconds=1.5, seed=3, workers=2)
    assert check(inst.problem, plan) == []
    assert plan.distance_m == 784


def test_solomon_c101_within_one_percent_and_every_window_kept() -> None:
    inst = vrplib_io.load(DATA / "C101.txt")
    best = vrplib_io.best_known(DATA / "C101.txt")
    assert best == 827.3
    plan = routing.solve(inst.problem, seconds=0.5, seed=0)
    assert check(inst.problem, plan) == []
    assert plan.feasible
    assert plan.distance_m / inst.scale <= best * 1.01


# -- random small cities --


@pytest.mark.parametrize("seed", range(12))
def test_random_city_plans_pass_the_validator(seed: int) -> None:
    p = random_city(seed)
    plan = routing.solve(p, seconds=0.25, seed=seed)
    assert check(p, plan) == []
    for u in plan.unserved:
        assert u.code in {"window_unreachable", "shift_too_short", "no_capacity", "fleet_too_small"}
        assert u.detail


def test_the_validator_catches_a_broken_plan() -> None:
    """The judge must be able to say no: tamper with a good plan in each way it checks."""
    p = random_city(5)
    plan = routing.solve(p, seconds=0.25)
    r0 = plan.routes[0]
    v0 = r0.visits[0]
    shorter = replace(r0, distance_m=r0.distance_m - 1)
    late = replace(r0, visits=(replace(v0, arrive_s=v0.arrive_s + 1), *r0.visits[1:]))
    twice = replace(r0, visits=(v0, *r0.visits))
    for bad in (shorter, late, twice):
        assert check(p, replace(plan, routes=(bad, *plan.routes[1:])))
    assert check(p, replace(plan, routes=plan.routes[1:]))  # a required stop vanishes


# -- infeasible on purpose --


def _truck(tid: str = "T", **kw: object) -> Truck:
    base: dict[str, object] = {
        "id": tid,
        "depot": 0,
        "capacity_kg": 1000.0,
        "capacity_m3": 10.0,
        "shift": (6 * H, 14 * H),
    }
    return Truck(**{**base, **kw})  # type: ignore[arg-type]


def _stop(ref: str, **kw: object) -> Stop:
    base: dict[str, object] = {"ref": ref, "site": 0, "kg": 100.0, "m3": 1.0, "service_s": 300}
    return Stop(**{**base, **kw})  # type: ignore[arg-type]


def test_infeasible_stops_are_reported_with_their_reason() -> None:
    grid = [((1000.0 * (k % 5), 1000.0 * (k // 5)), _stop(f"ok{k}")) for k in range(8)]
    heavy = ((2000.0, 2000.0), _stop("heavy", kg=5000.0))
    bulky = ((2500.0, 2000.0), _stop("bulky", m3=50.0))
    # 8 km away is 1,300 s at 8 m/s: a window closing 10 minutes after the shift starts is gone
    closed = ((8000.0, 0.0), _stop("closed", window=(0, 6 * H + 600)))
    p = city(
        [*grid, heavy, bulky, closed], [_truck("A"), _truck("B", capacity_kg=2000.0)], [(0, 0)]
    )
    plan = routing.solve(p, seconds=0.3)
    codes = {p.stops[u.stop].ref: u.code for u in plan.unserved}
    assert codes == {"heavy": "no_capacity", "bulky": "no_capacity", "closed": "window_unreachable"}
    assert check(p, plan) == []
    assert {p.stops[v.stop].ref for r in plan.routes for v in r.visits} == {
        f"ok{k}" for k in range(8)
    }


def test_too_many_required_stops_for_the_shift_is_fleet_too_small() -> None:
    # each stop alone fits a 2-hour shift easily; twelve 20-minute services do not
    stops = [
        ((500.0 * k, 300.0), _stop(f"s{k}", service_s=1200, priority=int(k in (0, 2, 4))))
        for k in range(12)
    ]
    p = city(stops, [_truck(shift=(6 * H, 8 * H), capacity_kg=10_000.0)], [(0, 0)])
    plan = routing.solve(p, seconds=0.3)
    assert check(p, plan) == []
    assert plan.unserved
    assert {u.code for u in plan.unserved} == {"fleet_too_small"}
    assert len(plan.served()) + len(plan.unserved) == 12
    assert 3 <= len(plan.served()) <= 5
    # higher priority goes first: the priority-1 stops (near the depot) are all served
    left = {p.stops[u.stop].priority for u in plan.unserved}
    assert left == {0}


def test_oversubscribed_capacity_reports_fleet_too_small() -> None:
    """30 stops of 120 kg for one 1,000 kg truck: 8 fit, 22 are fleet_too_small (a prize
    for softened stops beyond PyVRP's penalty bounds once made it raise instead)."""
    stops = [((300.0 * (k % 6), 300.0 * (k // 6)), _stop(f"s{k}", kg=120.0)) for k in range(30)]
    p = city(stops, [_truck(capacity_kg=1000.0, capacity_m3=100.0)], [(0, 0)])
    plan = routing.solve(p, seconds=0.3)
    assert check(p, plan) == []
    assert len(plan.served()) == 8
    assert [u.code for u in plan.unserved] == ["fleet_too_small"] * 22


def test_shift_too_short_to_get_there_and_back() -> None:
    far = ((30_000.0, 0.0), _stop("far"))  # 39 km of street: 81 minutes each way
    p = city([far], [_truck(shift=(6 * H, 8 * H))], [(0, 0)])
    plan = routing.solve(p, seconds=0.1)
    assert [u.code for u in plan.unserved] == ["shift_too_short"]
    assert plan.routes == ()


# -- prize-collecting --


def test_far_optional_stops_are_skipped_at_no_prize_and_served_at_a_huge_one() -> None:
    near = [((300.0 * k, 0.0), _stop(f"n{k}")) for k in range(1, 5)]
    far = ((9000.0, 9000.0), _stop("far", required=False, prize_m=0))
    p = city([*near, far], [_truck()], [(0, 0)])
    plan = routing.solve(p, seconds=0.2)
    assert check(p, plan) == []
    assert [p.stops[i].ref for i in plan.skipped] == ["far"]
    rich = city(
        [*near, (far[0], _stop("far", required=False, prize_m=1_000_000))], [_truck()], [(0, 0)]
    )
    plan = routing.solve(rich, seconds=0.2)
    assert check(rich, plan) == []
    assert plan.skipped == ()
    assert 4 in plan.served()


# -- re-planning --


def _running_day() -> tuple[Problem, routing.Plan, set[int], int]:
    rng = random.Random(11)
    stops = [
        ((rng.uniform(0, 6000), rng.uniform(0, 6000)), _stop(f"s{k}", kg=rng.uniform(80, 200)))
        for k in range(16)
    ]
    p = city(stops, [_truck("A"), _truck("B"), _truck("C", depot=1)], [(0, 0), (6000.0, 6000.0)])
    plan = routing.solve(p, seconds=0.3)
    assert check(p, plan) == []
    served = {v.stop for r in plan.routes for v in r.visits[:2]}
    now = max(v.depart_s for r in plan.routes for v in r.visits if v.stop in served) + 60
    return p, plan, served, now


def test_replan_keeps_served_stops_and_inserts_the_urgent_one() -> None:
    p, plan, served, now = _running_day()
    fire = _stop("fire", site=5, kg=50.0, window=(now, now + 2 * H), priority=3)
    out = replanning.replan(p, plan, now, served, [fire], seconds=0.3)
    assert check_replan(p, plan, served, out, now) == []
    assert out.urgent_served
    assert out.unserved == ()


def test_replan_goes_on_from_where_a_truck_was_seen() -> None:
    """Truck A's crew phone saw it far out on the road after its first stop: its remaining
    stops are timed from there (checked by the validator, which knows where A was), and the
    same re-plan assuming A at its last stop is wrong by that measure."""
    rng = random.Random(5)
    stops = [((rng.uniform(0, 6000), rng.uniform(0, 6000)), _stop(f"s{k}")) for k in range(10)]
    road = (12000.0, 12000.0)  # site 1: no stop there, only where A was seen
    p = city(stops, [_truck("A"), _truck("B")], [(0, 0), road])
    plan = routing.solve(p, seconds=0.3)
    served = {v.stop for r in plan.routes for v in r.visits[:1]}
    now = max(v.depart_s for r in plan.routes for v in r.visits if v.stop in served) + 600
    fire = _stop("fire", site=p.stops[0].site, kg=10.0, priority=3)
    seen = {"A": 1}
    out = replanning.replan(p, plan, now, served, [fire], seconds=0.3, positions=seen)
    assert check_replan(p, plan, served, out, now, positions=seen) == []
    assert out.urgent_served
    a = next(r for r in out.plan.routes if r.truck == "A")
    kept = [v for v in a.visits if v.stop in served]
    last = p.stops[kept[-1].stop].site if kept else 0
    assert a.distance_m >= int(p.distance_m[last, 1]) + int(p.distance_m[1, 0])
    naive = replanning.replan(p, plan, now, served, [fire], seconds=0.3)
    assert check_replan(p, plan, served, naive, now, positions=seen) != []
    with pytest.raises(PlanError, match="position"):
        replanning.replan(p, plan, now, served, [fire], seconds=0.1, positions={"A": 99})


def test_a_truck_seen_before_it_was_due_to_leave_leaves_by_now() -> None:
    """Its only stop opens at 10:00, so the plan has it leave just before; seen on the road at
    07:00, it has left by then, and its route says so."""
    late = ((4000.0, 0.0), _stop("late", window=(10 * H, 11 * H)))
    p = city([late], [_truck("A")], [(0, 0), (1000.0, 0.0)])  # site 1: the road, no depot
    plan = routing.solve(p, seconds=0.1)
    assert plan.routes[0].start_s > 9 * H
    now = 7 * H
    out = replanning.replan(p, plan, now, set(), [], seconds=0.1, positions={"A": 1})
    assert check_replan(p, plan, set(), out, now, positions={"A": 1}) == []
    assert out.plan.routes[0].start_s <= now


def test_replan_reports_an_urgent_stop_whose_window_has_closed() -> None:
    p, plan, served, now = _running_day()
    gone = _stop("gone", site=5, window=(now - 2 * H, now - H))
    out = replanning.replan(p, plan, now, served, [gone], seconds=0.2)
    assert check_replan(p, plan, served, out, now) == []
    assert not out.urgent_served
    assert [(u.stop, u.code) for u in out.unserved] == [(out.urgent[0], "window_unreachable")]


def test_replan_reports_an_urgent_stop_no_truck_has_room_for() -> None:
    p, plan, served, now = _running_day()
    room = max(
        1000.0 - max((v.load_kg for v in r.visits if v.stop in served), default=0.0)
        for r in plan.routes
    )
    assert len(plan.routes) == 3 and room < 1000.0
    big = _stop("big", site=5, kg=room + 10.0)
    out = replanning.replan(p, plan, now, served, [big], seconds=0.2)
    assert check_replan(p, plan, served, out, now) == []
    assert [(u.stop, u.code) for u in out.unserved] == [(out.urgent[0], "no_capacity")]


# -- malformed input --


def test_malformed_problems_raise_plan_error() -> None:
    sites = (Site("d", 0, 0), Site("a", 1, 0))
    ok = np.array([[0, 5], [5, 0]])
    stop = (_stop("a", site=1),)
    with pytest.raises(PlanError, match="2 x 2"):
        Problem(sites, stop, (_truck(),), np.zeros((3, 3), dtype=int), ok)
    with pytest.raises(PlanError, match="negative"):
        Problem(sites, stop, (_truck(),), ok, np.array([[0, -1], [5, 0]]))
    with pytest.raises(PlanError, match="names site 7"):
        Problem(sites, (_stop("a", site=7),), (_truck(),), ok, ok)
    with pytest.raises(PlanError, match="names site 9"):
        Problem(sites, stop, (_truck(depot=9),), ok, ok)
    with pytest.raises(PlanError, match="at least one truck"):
        Problem(sites, stop, (), ok, ok)


def test_replan_merges_an_urgent_stop_with_the_same_station_waiting_on_a_route() -> None:
    p, plan, served, now = _running_day()
    waiting = next(i for i in range(len(p.stops)) if i not in served)
    again = _stop(p.stops[waiting].ref, site=p.stops[waiting].site, kg=20.0, priority=3)
    out = replanning.replan(p, plan, now, served, [again], seconds=0.3)
    assert out.merged == (waiting,)
    assert check_replan(p, plan, served, out, now) == []
    assert out.urgent_served and waiting not in out.plan.served()
    assert out.problem.stops[out.urgent[0]].kg == p.stops[waiting].kg  # the larger load wins


def test_replan_of_a_truck_starting_at_site_zero_with_another_home_depot() -> None:
    stops = [((1000.0 * k, 500.0), _stop(f"s{k}")) for k in range(1, 7)]
    p = city(stops, [_truck("A", start_site=0, depot=1)], [(0, 0), (8000.0, 0.0)])
    plan = routing.solve(p, seconds=0.2)
    assert check(p, plan) == []
    served = {v.stop for v in plan.routes[0].visits[:2]}
    now = plan.routes[0].visits[1].depart_s + 60
    out = replanning.replan(p, plan, now, served, [_stop("u", site=4, kg=10.0)], seconds=0.2)
    assert check_replan(p, plan, served, out, now) == []


def test_every_reason_a_stop_did_not_fit_has_words_on_the_planner_page() -> None:
    """The server writes why a stop did not fit in English; the planner page (plan-words.js)
    matches each phrase to say it in the page's language. A phrase changed on one side only
    would show English on a zh-TW page: this ties the two."""
    js = (routing_root() / "static/js/plan-words.js").read_text()
    patterns = [re.compile(p) for p in re.findall(r"^\s*\[/(\^.*?\$)/,", js, re.M)]
    assert len(patterns) >= 10
    far = ((30_000.0, 0.0), _stop("far"))
    heavy, bulky = ((2000.0, 0.0), _stop("heavy", kg=5000.0)), ((0.0, 900.0), _stop("bulky", m3=50))
    closed = ((8000.0, 0.0), _stop("closed", window=(0, 6 * H + 600)))
    crowded = [((500.0 * k, 300.0), _stop(f"s{k}", service_s=1200)) for k in range(12)]
    details: dict[str, str] = {}
    for stops, truck in (
        ([heavy, bulky, closed], _truck()),
        ([far], _truck(shift=(6 * H, 8 * H))),
        (crowded, _truck(shift=(6 * H, 8 * H), capacity_kg=10_000.0)),
    ):
        plan = routing.solve(city(stops, [truck], [(0, 0)]), seconds=0.2)
        details.update({u.code + ":" + u.detail.split()[-1]: u.detail for u in plan.unserved})
    codes = {key.split(":")[0] for key in details}
    assert codes == {"no_capacity", "window_unreachable", "shift_too_short", "fleet_too_small"}
    for detail in details.values():
        assert any(p.match(detail) for p in patterns), f"no words on the page for {detail!r}"


def routing_root() -> Path:
    return Path(routing.__file__).parents[1]
