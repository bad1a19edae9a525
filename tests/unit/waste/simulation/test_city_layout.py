"""The simulation's city: stations at real garbage-truck stops, depots at the teams' medoids."""

from __future__ import annotations

import csv
from collections import defaultdict
from importlib import resources

import pytest

from onecity.core.travel import great_circle_m
from onecity.waste.simulation.city_layout import (
    TAIPEI_BOUNDS,
    LayoutError,
    layout,
    medoid,
    team_depots,
    truck_stops,
)


def _inside(lon: float, lat: float) -> bool:
    west, south, east, north = TAIPEI_BOUNDS
    return west <= lon <= east and south <= lat <= north


def test_the_shipped_file_is_read_and_the_points_outside_taipei_are_dropped() -> None:
    raw = (resources.files("onecity.demo_data") / "taipei_garbage_truck_stops.csv").read_text(
        "utf-8"
    )
    rows = list(csv.DictReader(raw.splitlines()))
    outside = [r for r in rows if not _inside(float(r["經度"]), float(r["緯度"]))]
    stops = truck_stops()
    assert len(rows) == 4041
    assert 10 <= len(outside) <= 20  # the source's ~16 misplaced rows
    assert len(stops) == len(rows) - len(outside)
    assert all(_inside(s.lon, s.lat) for s in stops)
    assert len({s.team for s in stops}) == 62


@pytest.mark.parametrize("n", [1, 15, 100])
def test_n_stations_at_distinct_valid_stop_places(n: int) -> None:
    lay = layout(n, trucks=4, seed=3)
    places = {(s.lon, s.lat) for s in truck_stops()}
    assert len(lay.stations) == n
    assert len({(s.lon, s.lat) for s in lay.stations}) == n
    assert all((s.lon, s.lat) in places for s in lay.stations)
    assert len({s.id for s in lay.stations}) == n


def test_stations_are_spread_over_the_districts() -> None:
    lay = layout(120, trucks=6, seed=0)
    assert len({s.district for s in lay.stations}) == 12


def test_depots_are_the_medoids_of_their_teams_stops() -> None:
    by_team: dict[str, set[tuple[float, float]]] = defaultdict(set)
    for s in truck_stops():
        by_team[s.team].add((s.lon, s.lat))
    depots = team_depots()
    assert set(depots) == set(by_team)
    for team in ("長安分隊", "光明分隊"):
        pts = sorted(by_team[team])
        total = great_circle_m(pts).sum(axis=1)
        assert depots[team] in by_team[team]
        assert great_circle_m([depots[team], *pts])[0, 1:].sum() == pytest.approx(total.min())
    assert medoid([(121.5, 25.0), (121.51, 25.0), (121.6, 25.0)]) == (121.51, 25.0)


def test_trucks_go_to_depots_in_proportion_to_their_stations() -> None:
    lay = layout(200, trucks=10, seed=1)
    assert lay.trucks == 10
    assert all(d.trucks >= 1 for d in lay.depots)
    depots = team_depots()
    assert all((d.lon, d.lat) == depots[d.team] for d in lay.depots)
    near: dict[int, int] = defaultdict(int)
    for s in lay.stations:
        near[s.depot] += 1
        # each station belongs to the nearest depot of the layout
        d = great_circle_m([(s.lon, s.lat), *((x.lon, x.lat) for x in lay.depots)])[0, 1:]
        assert d[s.depot] == pytest.approx(d.min())
    # the depot with the most trucks has at least as many stations as any with fewer
    most = max(range(len(lay.depots)), key=lambda k: lay.depots[k].trucks)
    fewest = min(range(len(lay.depots)), key=lambda k: lay.depots[k].trucks)
    assert near[most] >= near[fewest] or lay.depots[most].trucks == lay.depots[fewest].trucks


def test_the_same_seed_gives_the_same_layout_and_another_seed_another() -> None:
    assert layout(30, 3, seed=5) == layout(30, 3, seed=5)
    assert layout(30, 3, seed=5).stations != layout(30, 3, seed=6).stations


def test_impossible_layouts_say_what_to_change() -> None:
    with pytest.raises(LayoutError, match="stations must be between"):
        layout(0, 1)
    with pytest.raises(LayoutError, match="stations must be between"):
        layout(10**6, 1)
    with pytest.raises(LayoutError, match="trucks"):
        layout(10, 0)
