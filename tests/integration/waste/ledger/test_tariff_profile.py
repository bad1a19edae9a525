"""A city profile with broken tariffs stops the platform at start-up, naming the key."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from onecity.core.modules import start_platform
from tests.conftest import make_settings


def test_a_negative_price_in_the_profile_stops_start_up(tmp_path: Path) -> None:
    city = tmp_path / "city"
    shutil.copytree(Path(str(resources.files("onecity.cities") / "taipei")), city)
    toml = city / "city.toml"
    text = toml.read_text(encoding="utf-8")
    assert "per_increment = 11\n" in text
    toml.write_text(text.replace("per_increment = 11\n", "per_increment = -11\n"), "utf-8")
    settings = make_settings(f"sqlite:///{tmp_path / 'x.db'}", modules="waste", city=str(city))
    with pytest.raises(ValueError, match=r"waste\.tariffs\.garbage\[1\]\.per_increment is -11"):
        start_platform(settings)
