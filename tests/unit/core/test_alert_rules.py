"""Threshold rules with hysteresis, as pure functions: no database."""

from __future__ import annotations

import pytest

from onecity.core.alerts import Rule, decide, validate_rule
from onecity.core.errors import Invalid


def _rule(direction: str, raise_at: float, clear_at: float, **kw: object) -> Rule:
    base: dict[str, object] = {
        "id": 1,
        "name": "r",
        "key": "fill",
        "direction": direction,
        "raise_at": raise_at,
        "clear_at": clear_at,
        "severity": "warning",
        "device_type": None,
        "device_id": None,
    }
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


def _run(rule: Rule, values: list[float]) -> list[bool]:
    """Feed readings through decide() and return whether an alert is open after each."""
    active = False
    states = []
    for v in values:
        d = decide(rule, v, active)
        if d == "raise":
            active = True
        elif d == "clear":
            active = False
        states.append(active)
    return states


def test_above_raises_at_threshold_and_clears_only_below_clear_at() -> None:
    r = _rule("above", 0.8, 0.5)
    assert _run(r, [0.1, 0.79, 0.8, 0.9, 0.7, 0.51, 0.5, 0.6, 0.79, 0.85]) == [
        False,
        False,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        True,
    ]


def test_below_raises_at_threshold_and_clears_only_above_clear_at() -> None:
    r = _rule("below", 0, 2)
    assert _run(r, [5, 1, 0, 1, 1.99, 2, 1, 0.5, -1]) == [
        False,
        False,
        True,
        True,
        True,
        False,
        False,
        False,
        True,
    ]


def test_flapping_around_the_raise_threshold_gives_one_alert() -> None:
    r = _rule("above", 60, 45)
    raises = 0
    active = False
    for v in [59, 61, 59, 61, 58, 62, 50, 46]:
        d = decide(r, v, active)
        raises += d == "raise"
        active = {"raise": True, "clear": False}.get(d or "", active)
    assert raises == 1 and active


def test_no_decision_when_nothing_changes() -> None:
    r = _rule("above", 10, 5)
    assert decide(r, 3, False) is None
    assert decide(r, 12, True) is None
    assert decide(r, 7, True) is None
    assert decide(r, 7, False) is None


def test_equal_thresholds_do_not_flap_on_the_same_value() -> None:
    r = _rule("above", 10, 10)
    assert decide(r, 10, False) == "raise"
    # At exactly the shared threshold an open alert clears; the next reading decides again.
    assert decide(r, 10, True) == "clear"
    assert decide(r, 11, True) is None


@pytest.mark.parametrize(
    "device_id,device_type,rule_kw,expected",
    [
        ("bin-1", "litter_bin", {}, True),
        ("bin-1", "litter_bin", {"device_type": "litter_bin"}, True),
        ("dock-1", "bike_dock", {"device_type": "litter_bin"}, False),
        ("bin-1", "litter_bin", {"device_id": "bin-1"}, True),
        ("bin-2", "litter_bin", {"device_id": "bin-1", "device_type": "litter_bin"}, False),
        ("bin-1", "bike_dock", {"device_id": "bin-1", "device_type": "litter_bin"}, True),
    ],
)
def test_rule_scope(
    device_id: str, device_type: str, rule_kw: dict[str, object], expected: bool
) -> None:
    assert _rule("above", 1, 0, **rule_kw).applies_to(device_id, device_type) is expected


@pytest.mark.parametrize(
    "direction,raise_at,clear_at,field",
    [
        ("above", 0.5, 0.8, "clear_at"),
        ("below", 5, 2, "clear_at"),
        ("sideways", 1, 1, "direction"),
    ],
)
def test_invalid_rules_are_refused(
    direction: str, raise_at: float, clear_at: float, field: str
) -> None:
    with pytest.raises(Invalid) as e:
        validate_rule(direction, raise_at, clear_at)
    assert e.value.field == field


def test_valid_rules_pass() -> None:
    validate_rule("above", 0.8, 0.5)
    validate_rule("below", 0, 2)
    validate_rule("above", 3, 3)
