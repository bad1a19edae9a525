"""Start-up reads RPIC's working days from the city profile and stops on a wrong one."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from onecity.core.geo import CityProfile
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.roadworks.services import RoadworksServices
from tests.conftest import make_settings

TAIPEI = Path(CityProfile.load("taipei").folder)


def test_the_permit_calendar_is_the_city_profiles(platform: Platform) -> None:
    cal = platform.services(RoadworksServices).permits.config.calendar
    assert not cal.is_working(date(2026, 2, 17))  # Lunar New Year
    assert cal.is_working(date(2026, 2, 23))


def test_a_wrong_calendar_stops_start_up(db_url: str, tmp_path: Path) -> None:
    city = tmp_path / "taipei"
    shutil.copytree(TAIPEI, city)
    toml = city / "city.toml"
    text = toml.read_text(encoding="utf-8")
    assert "  2026-05-01,  # 勞動節" in text
    # An unquoted 2026-05-32 is a TOML error already; quoted, it is the calendar's to refuse.
    toml.write_text(text.replace("  2026-05-01,  # 勞動節", '  "2026-05-32",  # 勞動節'), "utf-8")
    with pytest.raises(ValueError, match=r"city\.toml: calendar\.days_off\[\d+\]: '2026-05-32'"):
        start_platform(make_settings(db_url, modules="roadworks", city=str(city)))
    toml.write_text(text.replace("  2026-05-01,  # 勞動節", "  2026-01-01,  # 勞動節"), "utf-8")
    with pytest.raises(ValueError, match=r"calendar\.days_off\[\d+\]: 2026-01-01 is listed twice"):
        start_platform(make_settings(db_url, modules="roadworks", city=str(city)))
