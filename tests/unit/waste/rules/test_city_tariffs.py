"""The city's tariffs come from its profile (city.toml [waste.tariffs]) and a wrong entry
stops start-up with an error naming its key."""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from typing import Any

import pytest

from onecity.waste.rules.city_tariffs import tariffs_from_profile
from onecity.waste.rules.money import POINTS_PER_ITEM, TAIPEI_TARIFFS, Material, rebate


def _taipei() -> dict[str, Any]:
    text = (resources.files("onecity.cities") / "taipei" / "city.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_taipeis_profile_holds_the_tariffs_the_stations_ship_with() -> None:
    t = tariffs_from_profile(_taipei())
    assert t.garbage.versions == TAIPEI_TARIFFS
    assert dict(t.rebate_points) == POINTS_PER_ITEM


def test_a_citys_rebates_change_what_recycling_pays() -> None:
    raw = _taipei()
    raw["waste"]["tariffs"]["rebate_points"] = {"pet": 8, "aluminium": 5}
    rates = tariffs_from_profile(raw).rebate_points
    assert rebate(0, [Material.PET] * 5, rates).ntd == 1
    assert rebate(0, [Material.PET] * 5).ntd == 0  # Taipei's: 10 bottles a dollar


def _broken(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(_taipei())
    change(raw["waste"]["tariffs"])
    return raw


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["rebate_points"].update(glass=3), r"rebate_points\.glass is an unknown"),
        (lambda t: t["rebate_points"].pop("aluminium"), r"rebate_points\.aluminium is missing"),
        (lambda t: t["rebate_points"].update(pet=-1), r"rebate_points\.pet is -1"),
        (lambda t: t.pop("rebate_points"), r"waste\.tariffs\.rebate_points is missing"),
        (lambda t: t["garbage"][1].update(per_increment=-11), r"garbage\[1\]\.per_increment"),
        (lambda t: t["garbage"][0]["steps"][1].__setitem__(1, -4), r"garbage\[0\]\.steps\[1\]"),
        (lambda t: t["garbage"][0].pop("increment_g"), r"garbage\[0\]\.increment_g is missing"),
        (lambda t: t["garbage"][0].update(price=3), r"garbage\[0\]\.price is not a known key"),
        (lambda t: t["garbage"][0].update(effective_from="soon"), r"effective_from must be"),
        (lambda t: t["garbage"].clear(), r"waste\.tariffs\.garbage is missing"),
        (
            lambda t: t["garbage"][1].update(effective_from=t["garbage"][0]["effective_from"]),
            r"waste\.tariffs\.garbage: two tariff versions start on the same day",
        ),
        (
            lambda t: t["garbage"][0].update(steps=[[500, 4], [200, 1]]),
            r"garbage\[0\]: tariff steps must have rising",
        ),
    ],
)
def test_a_wrong_entry_is_refused_with_its_key(change: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tariffs_from_profile(_broken(change))


def test_a_profile_without_the_section_is_refused() -> None:
    raw = _taipei()
    del raw["waste"]
    with pytest.raises(ValueError, match=r"\[waste\.tariffs\] is missing"):
        tariffs_from_profile(raw)
