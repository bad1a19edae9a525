"""The waste module's services are built from the city profile at start-up: a broken [travel]
section stops start_platform with a message naming the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from onecity.core.geo import CityProfile
from onecity.core.modules import start_platform
from onecity.core.travel import CrowFlies
from onecity.waste.services import WasteServices
from tests.conftest import make_settings


def city_folder(tmp_path: Path, speeds: str) -> Path:
    """A copy of Taipei's profile with its garbage trucks' speeds replaced."""
    folder = tmp_path / "city"
    shutil.copytree(CityProfile.load("taipei").folder, folder)
    toml = (folder / "city.toml").read_text(encoding="utf-8")
    # Swap the garbage trucks' 24 speeds for `speeds`, leaving the rest of the profile as it is.
    head, _, rest = toml.partition("garbage_truck = [")
    _, _, tail = rest.partition("]")
    (folder / "city.toml").write_text(head + speeds + tail, encoding="utf-8")
    return folder


def test_start_platform_builds_the_planner_from_the_profile(tmp_path: Path) -> None:
    speeds = "garbage_truck = [" + ", ".join(["12.5"] * 24) + "]"
    settings = make_settings(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        city=str(city_folder(tmp_path, speeds)),
        modules="waste",
    )
    p = start_platform(settings)
    try:
        travel = p.services(WasteServices).planner.travel
        assert isinstance(travel, CrowFlies)
        assert travel.speeds_kmh == (12.5,) * 24 and travel.detour == 1.35
    finally:
        p.db.dispose()


@pytest.mark.parametrize(
    ("speeds", "message"),
    [
        ("garbage_truck = [20.0]", r"\[travel.speeds_kmh\] garbage_truck: needs 24 hourly"),
        (
            "garbage_truck = [" + ", ".join(["20.0"] * 23) + ", -1.0]",
            r"\[travel.speeds_kmh\] garbage_truck: every hourly speed must be positive",
        ),
        (
            "bus = [" + ", ".join(["20.0"] * 24) + "]",
            r"\[travel.speeds_kmh\] has no 'garbage_truck'",
        ),
    ],
)
def test_a_broken_travel_profile_stops_start_platform(
    tmp_path: Path, speeds: str, message: str
) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        city=str(city_folder(tmp_path, speeds)),
        modules="waste",
    )
    with pytest.raises(ValueError, match=message):
        start_platform(settings)
