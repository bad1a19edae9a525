"""Permit fees: Taipei's base and daily fees, restoration by trench width, versioned tables."""

from __future__ import annotations

import math
from datetime import date

import pytest

from onecity.roadworks.rules.fees import FeeTable, pick_table, quote

T2026 = FeeTable(version="2026-01", valid_from=date(2026, 1, 1))


def test_taipei_example_narrow_road_five_days_twelve_square_metres() -> None:
    q = quote(T2026, road_class="narrow", days=5, area_m2=12, width_m=0.8)
    assert q.total == 1000 + 5 * 200 + 12 * 1800
    assert (q.base, q.daily_rate, q.daily_total) == (1000, 200, 1000)
    assert (q.restoration_rate, q.restoration) == (1800, 21600)
    assert q.version == "2026-01"
    assert sum(amount for _, amount in q.lines()) == q.total


def test_wider_trench_pays_a_lower_restoration_rate_per_square_metre() -> None:
    assert quote(T2026, road_class="wide", days=1, area_m2=10, width_m=1.0).restoration == 18000
    assert quote(T2026, road_class="wide", days=1, area_m2=10, width_m=1.5).restoration == 15000
    assert quote(T2026, road_class="wide", days=1, area_m2=10, width_m=3.0).restoration == 12000


def test_congested_roads_cost_more_per_day() -> None:
    q = quote(T2026, road_class="congested", days=3, area_m2=0, width_m=0.5)
    assert q.daily_total == 1800
    assert q.total == 2800


def test_restoration_rounds_half_up_to_whole_dollars() -> None:
    table = FeeTable("x", date(2026, 1, 1), restoration=((math.inf, 1),))
    assert quote(table, road_class="wide", days=1, area_m2=2.5, width_m=1).restoration == 3
    assert quote(table, road_class="wide", days=1, area_m2=2.49, width_m=1).restoration == 2


def test_the_table_in_force_on_the_day_is_used() -> None:
    old = FeeTable("2025-07", date(2025, 7, 1), base=800)
    new = FeeTable("2026-01", date(2026, 1, 1))
    assert pick_table([new, old], date(2025, 12, 31)) is old
    assert pick_table([new, old], date(2026, 1, 1)) is new
    with pytest.raises(ValueError, match="no fee table is in force on 2025-06-30"):
        pick_table([new, old], date(2025, 6, 30))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"road_class": "alley"}, "unknown road class 'alley'; use one of: congested, narrow"),
        ({"days": 0}, "at least 1 day"),
        ({"area_m2": -1.0}, "area_m2"),
        ({"area_m2": math.nan}, "area_m2"),
        ({"width_m": 0.0}, "width_m"),
    ],
)
def test_bad_inputs_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"road_class": "narrow", "days": 5, "area_m2": 12, "width_m": 0.8}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        quote(T2026, **args)  # type: ignore[arg-type]


def test_a_table_without_a_band_wide_enough_says_to_add_one() -> None:
    table = FeeTable("narrow-only", date(2026, 1, 1), restoration=((1.0, 1800),))
    with pytest.raises(ValueError, match=r"no restoration rate for a 2\.0 m wide trench"):
        quote(table, road_class="narrow", days=1, area_m2=4, width_m=2.0)
