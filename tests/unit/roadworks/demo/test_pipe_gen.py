"""The synthetic pipeline network: repeatable, inside its district, plausible, and labelled."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest
import shapely
from shapely.geometry import Polygon

from onecity.roadworks.demo import pipe_gen
from onecity.roadworks.demo.pipe_gen import SYNTHETIC_NOTE, UtilitySpec, generate, generate_count
from onecity.roadworks.rules.pipes import Pipe

# An irregular district of about 2.6 km2 at TWD97 TM2 coordinates near Taipei.
DISTRICT = Polygon(
    [
        (302_000, 2_770_000),
        (304_200, 2_770_300),
        (304_000, 2_771_500),
        (303_100, 2_771_200),
        (302_300, 2_771_700),
        (301_800, 2_770_900),
    ]
)

DEPTH_RANGE = {
    "water": (0.9, 1.5),
    "gas": (0.7, 1.3),
    "power": (1.2, 1.8),
    "telecom": (0.5, 1.1),
    "sewer": (2.5, 4.0),
}
DIAMETERS = {
    "water": {150, 200, 250, 300},
    "sewer": {300, 400, 500, 600, 800},
    "gas": {100, 150, 200},
    "power": {150},
    "telecom": {100},
}
OWNERS = {"water": "twc", "sewer": "sewer", "power": "taipower", "gas": "gas", "telecom": "cht"}


@pytest.fixture(scope="module")
def network() -> list[Pipe]:
    return generate(DISTRICT, seed=7)


def _key(p: Pipe) -> tuple[object, ...]:
    return (p.id, p.owner, p.kind, p.line.wkb, p.depth_start_m, p.depth_end_m, p.diameter_mm,
            p.accuracy_m, p.material, p.year_laid, p.survey)  # fmt: skip


def test_the_same_seed_gives_the_same_network(network: list[Pipe]) -> None:
    assert [_key(p) for p in generate(DISTRICT, seed=7)] == [_key(p) for p in network]


def test_another_seed_gives_another_network(network: list[Pipe]) -> None:
    assert [_key(p) for p in generate(DISTRICT, seed=8)] != [_key(p) for p in network]


def test_ids_run_from_one_without_gaps(network: list[Pipe]) -> None:
    assert [p.id for p in network] == list(range(1, len(network) + 1))


def test_every_pipe_lies_inside_the_district(network: list[Pipe]) -> None:
    # A centimetre of slack for the rounding of clipped end points.
    district = DISTRICT.buffer(0.01)
    assert all(district.covers(p.line) for p in network)


def test_every_utility_lays_mains_of_its_kind_owner_size_and_material(network: list[Pipe]) -> None:
    assert set(Counter(p.kind for p in network)) == set(DEPTH_RANGE)
    materials = {"water": "DIP", "sewer": "RCP", "gas": "PE", "power": "PVC duct"}
    materials["telecom"] = "PVC"
    for p in network:
        assert p.owner == OWNERS[p.kind]
        assert p.diameter_mm in DIAMETERS[p.kind]
        assert p.material == materials[p.kind]
        assert p.year_laid is not None and 1970 <= p.year_laid <= 2024


def test_depths_stay_in_each_kinds_range(network: list[Pipe]) -> None:
    for p in network:
        lo, hi = DEPTH_RANGE[p.kind]
        assert lo - 1e-9 <= p.depth_start_m <= hi + 1e-9
        assert lo - 1e-9 <= p.depth_end_m <= hi + 1e-9


def test_depth_is_continuous_from_one_segment_to_the_next(network: list[Pipe]) -> None:
    ends = {(p.owner, p.line.coords[-1]): p.depth_end_m for p in network}
    joined = 0
    for p in network:
        before = ends.get((p.owner, p.line.coords[0]))
        if before is not None:
            joined += 1
            assert abs(before - p.depth_start_m) <= 0.002
    assert joined > len(network) / 2


def test_segments_are_about_the_asked_length(network: list[Pipe]) -> None:
    lengths = [p.line.length for p in network]
    assert 40 <= statistics.median(lengths) <= 60
    assert max(lengths) <= 75


def test_about_thirty_percent_are_gpr_surveys_and_accuracy_follows_survey(
    network: list[Pipe],
) -> None:
    share = sum(p.survey == "GPR" for p in network) / len(network)
    assert 0.25 <= share <= 0.35
    assert {(p.survey, p.accuracy_m) for p in network} == {("GPR", 0.3), ("records", 1.0)}


def test_water_mains_run_two_metres_beside_the_sewer(network: list[Pipe]) -> None:
    sewers = [p.line for p in network if p.kind == "sewer"]
    tree = shapely.STRtree(sewers)
    water_mid = [p.line.interpolate(0.5, normalized=True) for p in network if p.kind == "water"]
    _, gaps = tree.query_nearest(water_mid, return_distance=True, all_matches=False)
    assert statistics.median(gaps) == pytest.approx(2.0, abs=0.01)


def test_custom_utilities_are_used_as_given() -> None:
    only = [UtilitySpec("hydrogen-co", "other", 1.0, 1.8)]
    pipes = generate(DISTRICT, seed=1, utilities=only)
    assert pipes
    assert {(p.owner, p.kind) for p in pipes} == {("hydrogen-co", "other")}
    assert all(1.5 - 1e-9 <= p.depth_start_m <= 2.1 + 1e-9 for p in pipes)


def test_a_bigger_block_gives_fewer_pipes(network: list[Pipe]) -> None:
    assert len(generate(DISTRICT, seed=7, block_m=240)) < 0.7 * len(network)


@pytest.mark.parametrize("n", [300, 3_000, 30_000])
def test_generate_count_lands_within_fifteen_percent(n: int) -> None:
    assert abs(len(generate_count(DISTRICT, n, seed=3)) - n) <= 0.15 * n


def test_the_output_is_labelled_synthetic() -> None:
    assert "synthetic" in SYNTHETIC_NOTE.lower()
    assert pipe_gen.__doc__ is not None
    assert "SYNTHETIC_NOTE" in pipe_gen.__doc__
    assert "NOT REAL" in pipe_gen.__doc__
    assert "SYNTHETIC_NOTE" in pipe_gen.__all__
