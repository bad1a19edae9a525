"""The pipeline map's 3D locate rules: which pipes a dig could hit and whom a permit notifies."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, box

from onecity.roadworks.rules.pipes import (
    LocateRule,
    Pipe,
    PipeIndex,
    as_built_update,
    depth_at,
    matches,
    owners,
    to_geojson_3d,
    top_depth_within,
)


def _pipe(
    pid: int,
    coords: list[tuple[float, float]],
    start: float,
    end: float,
    *,
    owner: str = "twc",
    kind: str = "water",
    diameter_mm: int = 200,
    accuracy_m: float = 0.5,
) -> Pipe:
    return Pipe(pid, owner, kind, LineString(coords), start, end, diameter_mm, accuracy_m)


SEWER = _pipe(1, [(0, 0), (100, 0)], 2.5, 4.0, owner="sewer", kind="sewer", diameter_mm=600)


def test_depth_is_interpolated_along_the_line_and_clamped_at_its_ends() -> None:
    assert depth_at(SEWER, 0) == pytest.approx(2.5)
    assert depth_at(SEWER, 50) == pytest.approx(3.25)
    assert depth_at(SEWER, 100) == pytest.approx(4.0)
    assert depth_at(SEWER, -10) == pytest.approx(2.5)
    assert depth_at(SEWER, 400) == pytest.approx(4.0)


def test_depth_follows_length_not_vertex_count() -> None:
    bent = _pipe(2, [(0, 0), (10, 0), (10, 30)], 1.0, 5.0)
    assert depth_at(bent, 10) == pytest.approx(2.0)


def test_top_within_a_footprint_at_the_sloping_sewers_deep_end() -> None:
    # The sewer enters the footprint at x = 80 and is shallowest there: 3.7 m centre, 0.3 m radius.
    assert top_depth_within(SEWER, box(80, -5, 120, 5)) == pytest.approx(3.4)


def test_top_within_a_footprint_that_the_pipe_passes_through() -> None:
    assert top_depth_within(SEWER, box(20, -5, 40, 5)) == pytest.approx(2.8 - 0.3)


def test_no_top_when_the_pipe_misses_the_area() -> None:
    assert top_depth_within(SEWER, box(20, 5.1, 40, 10)) is None


def test_top_of_a_big_pipe_near_the_surface_is_not_above_ground() -> None:
    shallow = _pipe(3, [(0, 0), (10, 0)], 0.3, 0.3, diameter_mm=1000)
    assert top_depth_within(shallow, box(0, -1, 10, 1)) == 0.0


FOOTPRINT = box(0, 0, 10, 10)
RULE = LocateRule(buffer_m=3.0, depth_margin_m=0.5)


def _north_south_at(x: float, accuracy_m: float, depth: float = 1.0) -> Pipe:
    return _pipe(10, [(x, -50), (x, 50)], depth, depth, accuracy_m=accuracy_m)


def test_pipe_just_inside_the_buffer_plus_accuracy_is_matched() -> None:
    found = matches(FOOTPRINT, 1.5, [_north_south_at(13.49, accuracy_m=0.5)], RULE)
    assert [m.pipe_id for m in found] == [10]
    assert found[0].plan_distance_m == pytest.approx(3.49)


def test_pipe_just_outside_the_buffer_plus_accuracy_is_not_matched() -> None:
    assert matches(FOOTPRINT, 1.5, [_north_south_at(13.51, accuracy_m=0.5)], RULE) == []


def test_a_poorly_surveyed_pipe_counts_from_further_away() -> None:
    assert matches(FOOTPRINT, 1.5, [_north_south_at(13.9, accuracy_m=1.0)], RULE) != []
    assert matches(FOOTPRINT, 1.5, [_north_south_at(13.9, accuracy_m=0.3)], RULE) == []


def test_a_corner_counts_by_true_distance_not_by_box() -> None:
    # (12.5, 12.5) is 3.54 m from the corner (10, 10): outside 3.5, though inside the 3.5 m box.
    diagonal = _pipe(11, [(12.5, 12.5), (30, 30)], 1.0, 1.0, accuracy_m=0.5)
    assert matches(FOOTPRINT, 1.5, [diagonal], RULE) == []
    nearer = _pipe(12, [(12.4, 12.4), (30, 30)], 1.0, 1.0, accuracy_m=0.5)
    assert [m.pipe_id for m in matches(FOOTPRINT, 1.5, [nearer], RULE)] == [12]


def test_depth_near_a_corner_is_taken_exactly_where_the_pipe_comes_within_reach() -> None:
    # The pipe heads at 50 degrees straight for the corner (10, 10) and dives as it comes: at
    # distance d from the corner it is d m from the footprint. It comes within 3.5 m at
    # d = 3.5, 21.5 m along, top 0.5 + 4 * 21.5 / 23 - 0.05 m. A polygonal buffer would place
    # that point a few mm off and get this depth wrong by more than the 0.1 mm tolerance here.
    c, s = math.cos(math.radians(50)), math.sin(math.radians(50))
    dives = _pipe(30, [(10 + 25 * c, 10 + 25 * s), (10 + 2 * c, 10 + 2 * s)], 0.5, 4.5)
    dives = dataclasses.replace(dives, diameter_mm=100)
    top = 0.5 + 4 * 21.5 / 23 - 0.05
    limit_to_dig = RULE.depth_margin_m + dives.accuracy_m
    assert matches(FOOTPRINT, top - limit_to_dig - 1e-4, [dives], RULE) == []
    found = matches(FOOTPRINT, top - limit_to_dig + 1e-4, [dives], RULE)
    assert found[0].top_depth_m == pytest.approx(top, abs=1e-9)


def test_a_pipe_under_the_footprint_but_too_deep_is_not_matched() -> None:
    deep = _north_south_at(5.0, accuracy_m=0.5, depth=3.1)  # top 3.0 m
    assert matches(FOOTPRINT, 1.5, [deep], RULE) == []  # limit 1.5 + 0.5 + 0.5 = 2.5 m


def test_a_deeper_dig_reaches_the_same_pipe() -> None:
    deep = _north_south_at(5.0, accuracy_m=0.5, depth=3.1)
    found = matches(FOOTPRINT, 2.05, [deep], RULE)  # limit 3.05 m, top 3.0 m
    assert [m.pipe_id for m in found] == [10]
    assert found[0].top_depth_m == pytest.approx(3.0)


def test_depth_counts_only_where_the_pipe_is_near_the_dig() -> None:
    # Shallow far to the west, 4 m deep by the time it passes the footprint.
    dives = _pipe(20, [(-200, 5), (10, 5)], 0.5, 4.0, accuracy_m=0.0)
    assert matches(FOOTPRINT, 2.0, [dives], RULE) == []
    # Within reach (x >= -3) its top is 3.68 m at the shallowest; a 3.5 m dig reaches it.
    found = matches(FOOTPRINT, 3.5, [dives], RULE)
    assert found[0].top_depth_m == pytest.approx(0.5 + 3.5 * 197 / 210 - 0.1)


def test_a_pipe_that_doubles_back_is_as_shallow_as_its_shallow_end_on_the_footprint() -> None:
    # Out 10 m east along the footprint's south edge and back: it starts 1.5 m deep and ends
    # 1.0 m deep at the same point, (0, 0). Both passes are there; the shallow one counts.
    back = _pipe(1, [(0, 0), (10, 0), (0, 0)], 1.5, 1.0, diameter_mm=50, accuracy_m=0.0)
    corner = box(0, 0, 1, 1)
    assert top_depth_within(back, corner) == pytest.approx(0.975)
    rule = LocateRule(buffer_m=1.0, depth_margin_m=0.0)
    assert [m.top_depth_m for m in matches(corner, 1.0, [back], rule)] == [pytest.approx(0.975)]
    # Reversed (deep end back at the corner), only the outbound pass near the start is shallow.
    there = _pipe(1, [(0, 0), (10, 0), (0, 0)], 1.0, 1.5, diameter_mm=50, accuracy_m=0.0)
    assert top_depth_within(there, corner) == pytest.approx(0.975)


def test_matches_are_sorted_by_owner_then_id_and_owners_are_unique() -> None:
    pipes = [
        _pipe(7, [(5, -5), (5, 15)], 1, 1, owner="twc"),
        _pipe(3, [(0, 5), (10, 5)], 1, 1, owner="taipower", kind="power"),
        _pipe(2, [(2, -5), (2, 15)], 1, 1, owner="twc"),
        _pipe(9, [(500, 500), (510, 500)], 1, 1, owner="cht", kind="telecom"),
    ]
    found = matches(FOOTPRINT, 1.5, pipes, RULE)
    assert [(m.owner, m.pipe_id) for m in found] == [("taipower", 3), ("twc", 2), ("twc", 7)]
    assert owners(found) == ["taipower", "twc"]


def test_the_index_finds_what_a_scan_of_every_pipe_finds() -> None:
    pipes = [
        _pipe(i, [(i * 4.0, -20), (i * 4.0 + 1, 20)], 1.0, 0.5 + i * 0.2, accuracy_m=0.3 * (i % 4))
        for i in range(1, 30)
    ]
    index = PipeIndex(pipes)
    for fp in (box(10, -5, 30, 5), box(60, 15, 70, 40), box(-30, -30, -20, -20)):
        for dig in (0.5, 1.5, 3.0):
            assert index.query(fp, dig, RULE) == matches(fp, dig, pipes, RULE)
    assert len(index.query(box(10, -5, 30, 5), 3.0, RULE)) > 3


def test_an_empty_index_matches_nothing() -> None:
    assert PipeIndex([]).query(FOOTPRINT, 5.0) == []


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        _pipe(1, [(0, 0), (1, 0)], 1, 1, kind="oil")


def test_as_built_replaces_geometry_and_depth_but_keeps_identity() -> None:
    new_line = LineString([(0, 0.4), (100, 0.6)])
    updated = as_built_update(SEWER, new_line, 2.6, 3.9, 0.05, 2025)
    assert (updated.id, updated.owner, updated.kind, updated.diameter_mm) == (
        1,
        "sewer",
        "sewer",
        600,
    )
    assert updated.line.equals(new_line)
    assert (updated.depth_start_m, updated.depth_end_m, updated.accuracy_m) == (2.6, 3.9, 0.05)
    assert (updated.year_laid, updated.survey) == (2025, "as-built")
    assert (
        as_built_update(SEWER, new_line, 2.6, 3.9, 0.05, None, diameter_mm=800).diameter_mm == 800
    )


def test_geojson_carries_depth_below_ground_as_negative_z_per_vertex() -> None:
    bent = _pipe(5, [(0, 0), (10, 0), (10, 30)], 1.0, 5.0, owner="gas", kind="gas")
    feature = to_geojson_3d(bent, lambda x, y: (121.5 + x / 1e5, 25.0 + y / 1e5))
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "LineString"
    coords = feature["geometry"]["coordinates"]
    assert [c[2] for c in coords] == [pytest.approx(-1.0), pytest.approx(-2.0), pytest.approx(-5.0)]
    assert coords[2][:2] == [pytest.approx(121.5001), pytest.approx(25.0003)]
    props = feature["properties"]
    assert props["owner"] == "gas"
    assert props["kind"] == "gas"
    assert (props["depth_start_m"], props["depth_end_m"]) == (1.0, 5.0)
    assert set(props) >= {"diameter_mm", "material", "year_laid", "survey", "accuracy_m"}


# --- Property: the index agrees with an independent brute force -----------------------------

_coord = st.floats(0, 500, allow_nan=False)


@st.composite
def _random_pipe(draw: st.DrawFn, pid: int) -> Pipe:
    n = draw(st.integers(2, 4))
    coords = [(draw(_coord), draw(_coord)) for _ in range(n)]
    assume(LineString(coords).length > 1.0)
    return Pipe(
        id=pid,
        owner=draw(st.sampled_from(["twc", "sewer", "taipower", "gas", "cht"])),
        kind=draw(st.sampled_from(["water", "sewer", "power", "gas", "telecom"])),
        line=LineString(coords),
        depth_start_m=draw(st.floats(0.3, 5.0)),
        depth_end_m=draw(st.floats(0.3, 5.0)),
        diameter_mm=draw(st.integers(50, 1000)),
        accuracy_m=draw(st.floats(0.0, 1.5)),
    )


@st.composite
def _case(draw: st.DrawFn) -> tuple[list[Pipe], shapely.Polygon, float, LocateRule]:
    pipes = [draw(_random_pipe(i)) for i in range(1, draw(st.integers(1, 12)) + 1)]
    x, y = draw(_coord), draw(_coord)
    w, h = draw(st.floats(1, 150)), draw(st.floats(1, 150))
    rule = LocateRule(buffer_m=draw(st.floats(0.0, 6.0)), depth_margin_m=draw(st.floats(0, 1)))
    return pipes, box(x, y, x + w, y + h), draw(st.floats(0.3, 5.0)), rule


def _shallowest_top(pipe: Pipe, zone: shapely.Geometry) -> float | None:
    """Shallowest top over the pipe's part inside `zone`, from first principles."""
    # Segment by segment, measuring from each segment's own start: a random pipe may double back
    # over itself, and projecting a point onto the whole line would only find its first pass.
    length = pipe.line.length
    walked = 0.0
    tops: list[float] = []
    for start, end in itertools.pairwise(shapely.get_coordinates(pipe.line)):
        seg = LineString([start, end])
        for xy in shapely.get_coordinates(seg.intersection(zone)):
            s = walked + math.dist(start, xy)
            centre = pipe.depth_start_m + (pipe.depth_end_m - pipe.depth_start_m) * s / length
            tops.append(max(centre - pipe.diameter_mm / 2000, 0.0))
        walked += seg.length
    return min(tops, default=None)


@settings(max_examples=150, deadline=None)
@given(_case())
def test_index_notifies_every_owner_within_reach_and_none_outside(
    case: tuple[list[Pipe], shapely.Polygon, float, LocateRule],
) -> None:
    pipes, footprint, dig, rule = case
    # A polygonal buffer is only close to the true one (it cuts its round corners), so the
    # brute force brackets the truth between a zone 5 cm smaller and one 5 cm larger. Cases
    # where a pipe sits within 5 cm of the plan threshold, or where the bracket straddles the
    # depth threshold (with 1 cm to spare), are assumed away: there the slack, not the code
    # under test, would decide. Everywhere else the expected answer is certain.
    slack = 0.05
    expected: dict[int, tuple[float, float]] = {}
    for pipe in pipes:
        reach = rule.buffer_m + pipe.accuracy_m
        limit = dig + rule.depth_margin_m + pipe.accuracy_m
        plan = pipe.line.distance(footprint)
        assume(abs(plan - reach) > slack)
        if plan > reach:
            continue
        shallow = _shallowest_top(pipe, footprint.buffer(reach + slack, quad_segs=64))
        deep = _shallowest_top(pipe, footprint.buffer(reach - slack, quad_segs=64))
        assert shallow is not None and deep is not None
        assume((deep < limit - 0.01) or (shallow > limit + 0.01))
        if deep <= limit:
            expected[pipe.id] = (shallow, deep)

    found = PipeIndex(pipes).query(footprint, dig, rule)

    assert sorted(m.pipe_id for m in found) == sorted(expected)
    by_id = {p.id: p for p in pipes}
    assert owners(found) == sorted({by_id[i].owner for i in expected})
    for m in found:
        shallow, deep = expected[m.pipe_id]
        assert shallow - 1e-9 <= m.top_depth_m <= deep + 1e-9
        assert m.plan_distance_m == pytest.approx(by_id[m.pipe_id].line.distance(footprint))
    assert found == sorted(found, key=lambda m: (m.owner, m.pipe_id))
