"""The city's time of day in tests (hooks and a fixture, imported by tests/conftest.py).

CI runs at any hour, so a test whose outcome depends on the time of day in Taipei sets the
clock (onecity.core.clock, which the code reads for city days, shifts and telemetry time):

- `@pytest.mark.city_time("10:00")` pins one test to a city time of day, always.
- `@pytest.mark.times_of_day` (a suite's `pytestmark`) runs each of its tests with the clock
  set to each of CITY_TIMES on SQLite, and at NOON on PostgreSQL (the handlers are the same;
  the extra runs stay cheap). A pinned test keeps its own time.
- ONECITY_TEST_CLOCK=HH:MM sets the clock once, when the run starts, as if the run had been
  started at that time (reproduce an hour-of-day failure: `ONECITY_TEST_CLOCK=23:00 pytest …`);
  the sweep then runs at that time only.

Set means moved there: the clock then runs on, as real clocks do (a frozen one would stop
sessions, timeouts and telemetry sequences from advancing). Test code that makes times of
its own (telemetry timestamps, "an hour ago") reads the same clock: `clock.now()`,
`clock.time_ms()`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

import pytest

from onecity.core import clock

CITY_TZ = ZoneInfo("Asia/Taipei")
CITY_TIMES = ("00:30", "06:00", "12:00", "23:30")
NOON = "12:00"
ENV = "ONECITY_TEST_CLOCK"


def pytest_configure(config: pytest.Config) -> None:
    forced = _forced()
    if forced:
        clock.set_offset(offset_to(forced))
    config.addinivalue_line(
        "markers", "city_time(hhmm): run this test with the city clock set to HH:MM (Taipei)"
    )
    config.addinivalue_line(
        "markers",
        "times_of_day: run each test at every time of CITY_TIMES (tests/city_clock.py)",
    )


def _forced() -> str | None:
    value = os.environ.get(ENV, "").strip()
    return value or None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    definition = metafunc.definition
    if definition.get_closest_marker("city_time") is not None:
        return
    if definition.get_closest_marker("times_of_day") is None:
        return
    forced = _forced()
    times = [forced] if forced else list(CITY_TIMES)
    metafunc.parametrize("city_clock", times, indirect=True, ids=[f"at{t}" for t in times])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL runs the sweep at noon only."""
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        spec = getattr(item, "callspec", None)
        params = spec.params if spec is not None else {}
        extra = "city_clock" in params and params["city_clock"] != NOON and not _forced()
        (drop if extra and params.get("db_url") == "postgres" else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def offset_to(hhmm: str, tz: ZoneInfo = CITY_TZ) -> timedelta:
    """How far to move the clock so that it now reads HH:MM today in `tz`."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    real = datetime.now(UTC)
    target = datetime.combine(real.astimezone(tz).date(), dt_time(hours, minutes), tz)
    return target - real


@pytest.fixture(autouse=True)
def city_clock(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The city time of day this test starts at (None: the run's clock, see above)."""
    pinned = request.node.get_closest_marker("city_time")
    hhmm: str | None = (
        str(pinned.args[0]) if pinned is not None else getattr(request, "param", None)
    )
    if hhmm is None:
        yield _forced()
        return
    before = clock.offset()
    clock.set_offset(offset_to(hhmm))
    try:
        yield hhmm
    finally:
        clock.set_offset(before)


def city_today() -> date:
    """The city's calendar day by the platform's clock (what the server calls today)."""
    return clock.today(CITY_TZ)
