"""The test clock: a test that depends on the time of day sets it, and the sweep runs a
suite at each of the city times (tests/city_clock.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from onecity.core import clock
from onecity.core.db import utcnow
from tests.city_clock import CITY_TZ, city_today


def _reads(hhmm: str) -> bool:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    local = clock.now().astimezone(CITY_TZ)
    start = local.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    return start <= local < start + timedelta(minutes=1)


@pytest.mark.city_time("23:30")
def test_a_pinned_test_starts_at_its_city_time() -> None:
    assert _reads("23:30")
    assert abs(utcnow() - clock.now()) < timedelta(seconds=1)  # the code's clock too
    assert city_today() == clock.now().astimezone(CITY_TZ).date()


@pytest.mark.times_of_day
def test_the_sweep_runs_at_each_city_time(city_clock: str) -> None:
    assert city_clock is not None  # parametrised: CITY_TIMES, or ONECITY_TEST_CLOCK's one
    assert _reads(city_clock)


def test_the_clock_runs_on_after_being_set() -> None:
    before = clock.offset()
    try:
        clock.set_offset(timedelta(hours=-5))
        a = clock.now()
        b = clock.now()
        assert b >= a
        assert abs((datetime.now(a.tzinfo) - a) - timedelta(hours=5)) < timedelta(seconds=1)
        assert abs(clock.time_ms() / 1000 - a.timestamp()) < 1
    finally:
        clock.set_offset(before)
