"""Open311 limits: how many reports one client may file per window and per day, and how many
photo bytes one client and the whole city may store per day.

A client is known by every name it has: its address (an IPv6 client by its /64, which one
subscriber is usually given whole), the device id it sends and the account it is logged in
with; each name has its own counters and a report must fit all of them. The counters are rows
in the database, counted in the filing's own transaction: every API process sees the same
counts, concurrent reports of one client queue on its row, and a refused report (or any
other failure) rolls its counting back with everything else."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from onecity.core.clients import network
from onecity.core.db import insert_for
from onecity.core.errors import Throttled
from onecity.core.models import Open311Usage
from onecity.settings import Settings

MB = 1_000_000
CITY = "city"
# A period's row is kept this long after it ends (for an operator's look), then deleted.
KEEP = timedelta(days=1)
_SWEEP = 100  # expired rows deleted per report, at most


class TooManyReports(Throttled):
    """A limit is reached: the same report sent after `retry_after` seconds can go through.
    The platform's one 429 (Throttled), with the code Open311 clients are told."""

    code = "too_many_requests"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail, retry_after_s=max(1, math.ceil(retry_after)))

    @property
    def retry_after(self) -> int:
        return self.retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


@dataclass(frozen=True)
class Limits:
    per_window: int
    window: timedelta
    per_day: int
    client_media_bytes: int
    city_media_bytes: int
    tz: ZoneInfo  # where a day begins: the city's midnight

    @classmethod
    def from_settings(cls, settings: Settings, tz: ZoneInfo) -> Limits:
        return cls(
            per_window=settings.open311_reports_per_window,
            window=timedelta(minutes=settings.open311_window_minutes),
            per_day=settings.open311_reports_per_day,
            client_media_bytes=settings.open311_media_mb_per_client_day * MB,
            city_media_bytes=settings.open311_media_mb_per_day * MB,
            tz=tz,
        )


def client_names(address: str, device_id: str | None, account: str | None) -> list[str]:
    """Every name a client is counted under."""
    names = [f"ip:{network(address)}"]
    if device_id:
        names.append(f"device:{device_id}")
    if account:
        names.append(f"account:{account}")
    return names


@dataclass(frozen=True)
class _Period:
    name: str
    ends: datetime


def _periods(limits: Limits, now: datetime) -> tuple[_Period, _Period]:
    seconds = int(limits.window.total_seconds())
    n = int(now.timestamp()) // seconds
    window = _Period(f"w{n}", datetime.fromtimestamp((n + 1) * seconds, UTC))
    today = now.astimezone(limits.tz).date()
    midnight = datetime.combine(today + timedelta(days=1), time(), limits.tz)
    return window, _Period(f"d{today.isoformat()}", midnight.astimezone(UTC))


def charge(
    s: Session, limits: Limits, clients: Sequence[str], media_bytes: int, now: datetime
) -> None:
    """Count one report, and its photo's bytes, for each of the client's names (and the
    photo's bytes for the city); TooManyReports if that passes a limit. Call it before the
    report is stored: the caller's rollback then leaves nothing of a refused one."""
    _sweep(s, now)
    window, day = _periods(limits, now)
    minutes = int(limits.window.total_seconds()) // 60
    # One lock order for every writer: the client's rows by name, then the city's.
    for client in sorted(set(clients)):
        reports, _ = _add(s, client, window, 1, 0)
        if reports > limits.per_window:
            raise _refused(
                f"one client may file {limits.per_window} reports per {minutes} minutes",
                window,
                now,
            )
        reports, media = _add(s, client, day, 1, media_bytes)
        if reports > limits.per_day:
            raise _refused(f"one client may file {limits.per_day} reports a day", day, now)
        if media > limits.client_media_bytes:
            raise _refused(
                f"one client may send {limits.client_media_bytes // MB} MB of photos a day; "
                "a report without a photo is still accepted",
                day,
                now,
            )
    if media_bytes:
        _, media = _add(s, CITY, day, 0, media_bytes)
        if media > limits.city_media_bytes:
            raise _refused(
                "the city has taken in all the photos it can store today; "
                "a report without a photo is still accepted",
                day,
                now,
            )


def check(s: Session, limits: Limits, clients: Sequence[str], now: datetime) -> None:
    """TooManyReports if one of the client's names has already used up its reports: asked
    before the body is read, so a client past its limit cannot make the server take in more
    megabytes. Reads only; `charge` remains the check that counts."""
    window, day = _periods(limits, now)
    u = Open311Usage
    rows = s.execute(
        select(u.period, u.reports).where(
            u.client.in_(set(clients)), u.period.in_((window.name, day.name))
        )
    ).all()
    for period, reports in rows:
        if period == window.name and reports >= limits.per_window:
            minutes = int(limits.window.total_seconds()) // 60
            why = f"one client may file {limits.per_window} reports per {minutes} minutes"
            raise _refused(why, window, now)
        if period == day.name and reports >= limits.per_day:
            raise _refused(f"one client may file {limits.per_day} reports a day", day, now)


def _refused(why: str, period: _Period, now: datetime) -> TooManyReports:
    wait = (period.ends - now).total_seconds()
    when = f"{math.ceil(wait / 60)} minutes" if wait < 2 * 3600 else f"{wait / 3600:.0f} hours"
    return TooManyReports(f"{why}: try again in {when}", wait)


def _add(s: Session, client: str, period: _Period, reports: int, media: int) -> tuple[int, int]:
    u = Open311Usage
    stmt = (
        insert_for(s)(u)
        .values(
            client=client,
            period=period.name,
            reports=reports,
            media_bytes=media,
            expires_at=period.ends + KEEP,
        )
        .on_conflict_do_update(
            index_elements=[u.client, u.period],
            set_={"reports": u.reports + reports, "media_bytes": u.media_bytes + media},
        )
        .returning(u.reports, u.media_bytes)
    )
    row = s.execute(stmt).one()
    return int(row[0]), int(row[1])


def _sweep(s: Session, now: datetime) -> None:
    """Delete some expired rows, skipping any another report is deleting this moment (so
    reports never queue behind each other's sweeping)."""
    u = Open311Usage
    expired = (
        select(u.client, u.period)
        .where(u.expires_at < now)
        .limit(_SWEEP)
        .with_for_update(skip_locked=True)
    )
    s.execute(delete(u).where(tuple_(u.client, u.period).in_(expired)))
