"""The platform's one clock. Everything that asks "what time is it" for city days, shifts,
sessions and records reads it (core.db.utcnow goes through here), so that tests can set the
city's time of day: `set_offset` moves the clock, which then runs on from there."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, tzinfo

_offset = timedelta(0)


def now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC) + _offset


def time_ms() -> int:
    """The current instant in Unix milliseconds (telemetry's time scale)."""
    return int((time.time() + _offset.total_seconds()) * 1000)


def today(tz: tzinfo) -> date:
    """The calendar day it is now in `tz` (the city's day)."""
    return now().astimezone(tz).date()


def offset() -> timedelta:
    return _offset


def set_offset(delta: timedelta) -> None:
    """Move the clock by `delta` from the system time (tests only; zero in production)."""
    global _offset
    _offset = delta
