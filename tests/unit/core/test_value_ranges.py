"""Device types' value ranges from the city profile."""

from __future__ import annotations

import math

import pytest

from onecity.core.devices.ranges import ranges_from_profile
from onecity.core.geo import CityProfile


def test_the_taipei_profile_declares_its_device_types() -> None:
    ranges = ranges_from_profile(CityProfile.load("taipei").raw["device_types"])
    bin_ = ranges["litter_bin"]
    assert bin_.check([("fill", 1.0), ("temperature", 25.0)]) is None
    assert bin_.check([("fill", 1.5)]) == ("fill", "fill must be a number from 0 to 1, got 1.5")
    assert bin_.check([("temperature", 1e308)])[0] == "temperature"  # type: ignore[index]
    assert bin_.check([("lid_open", 0.5)])[0] == "lid_open"  # type: ignore[index]
    assert bin_.check([("other", math.inf)])[0] == "other"  # type: ignore[index]
    assert bin_.check([("other", -1e16)])[0] == "other"  # type: ignore[index]
    assert ranges["bike_dock"].check([("bikes", 3.0)]) is None


def test_a_profile_with_an_impossible_range_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="min <= max"):
        ranges_from_profile({"x": {"fill": {"min": 1, "max": 0}}})
    with pytest.raises(ValueError, match="min <= max"):
        ranges_from_profile({"x": {"fill": {"min": 0, "max": float("nan")}}})


def test_a_value_says_what_it_measures_and_a_wrong_unit_is_named() -> None:
    r = ranges_from_profile({"litter_bin": {"fill": {"min": 0, "max": 1, "unit": "share"}}})
    assert r["litter_bin"].unit("fill") == "share" and r["litter_bin"].unit("other") is None
    with pytest.raises(ValueError, match=r"litter_bin: fill\.unit must be one of"):
        ranges_from_profile({"litter_bin": {"fill": {"min": 0, "max": 1, "unit": "percent"}}})
