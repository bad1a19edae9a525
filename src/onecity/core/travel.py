"""How long it takes to drive from A to B: travel-time and distance matrices behind one
interface, for any module that plans vehicles.

`CrowFlies` needs nothing but coordinates: great-circle distance times the city's detour
factor (street networks run 1.2-1.4 x the straight line), driven at the vehicle class's speed
for the local hour of day. Both come from the city profile's `[travel]` section:

    [travel]
    detour = 1.35
    [travel.speeds_kmh]
    garbage_truck = [28.0, 30.0, ...]  # 24 speeds, one per local hour 0-23

`OsrmTable` asks an OSRM server's table service instead (a city that runs one gets its real
street network). Both return whole metres and seconds.

A planner that works with one duration matrix drives at the shift's average speed (the
harmonic mean of its hours' speeds): a 06:00-14:00 shift through the morning rush is slower
than a 20:00-04:00 one, though within a shift noon is not faster than 08:00."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx
import numpy as np

from onecity.core.geo import EARTH_RADIUS_M, CityProfile

HOURS = 24


class TravelError(RuntimeError):
    """The travel provider could not give a matrix; the message says why."""


Point = tuple[float, float]  # (lon, lat) WGS84


class TravelProvider(Protocol):
    def matrix(
        self, points: Sequence[Point], depart: datetime, until: datetime | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(metres, seconds) between every pair of points, rows from, columns to, for trips
        made between `depart` and `until` (a shift)."""
        ...


def great_circle_m(points: Sequence[Point]) -> np.ndarray:
    a = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    lon, lat = a[:, 0], a[:, 1]
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    h = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
    out: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return out


# -- the city profile's [travel] section ------------------------------------------------------


@dataclass(frozen=True)
class TravelProfile:
    """A city's `[travel]` section, checked: the detour factor and, per vehicle class, the
    average speed in km/h for each local hour 0-23."""

    detour: float
    speeds_kmh: Mapping[str, tuple[float, ...]]
    tz: tzinfo

    @classmethod
    def of(cls, city: CityProfile) -> TravelProfile:
        """The profile's section, or a ValueError naming the key that is wrong."""
        raw = city.raw.get("travel")
        if not isinstance(raw, dict):
            raise ValueError(f"city profile '{city.id}': [travel] is missing")
        detour = _number(raw.get("detour"), "[travel] detour")
        if detour < 1.0:
            raise ValueError(
                f"city profile [travel] detour = {detour:g}: must be at least 1 "
                "(streets are never shorter than a straight line)"
            )
        classes = raw.get("speeds_kmh")
        if not isinstance(classes, dict) or not classes:
            raise ValueError("city profile [travel.speeds_kmh] is missing: one list per vehicle")
        speeds = {str(k): _hourly(v, f"[travel.speeds_kmh] {k}") for k, v in classes.items()}
        return cls(detour, speeds, ZoneInfo(city.timezone))

    def speeds_for(self, vehicle: str) -> tuple[float, ...]:
        try:
            return self.speeds_kmh[vehicle]
        except KeyError:
            raise ValueError(
                f"city profile [travel.speeds_kmh] has no '{vehicle}' "
                f"(it lists {', '.join(sorted(self.speeds_kmh))})"
            ) from None

    def crow_flies(self, vehicle: str) -> CrowFlies:
        return CrowFlies(self.speeds_for(vehicle), self.detour, self.tz)


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"city profile {key} must be a number, not {value!r}")
    return float(value)


def _hourly(value: Any, key: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != HOURS:
        n = len(value) if isinstance(value, list) else type(value).__name__
        raise ValueError(f"city profile {key}: needs {HOURS} hourly speeds (0-23 h), got {n}")
    speeds = tuple(_number(v, key) for v in value)
    if min(speeds) <= 0:
        raise ValueError(f"city profile {key}: every hourly speed must be positive (km/h)")
    return speeds


# -- providers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrowFlies:
    speeds_kmh: tuple[float, ...]  # one per local hour 0-23
    detour: float
    tz: tzinfo  # the city's, whose hours the speeds are

    def __post_init__(self) -> None:
        if self.detour < 1.0:
            raise ValueError("detour must be at least 1: streets are never shorter than a line")
        if len(self.speeds_kmh) != HOURS or min(self.speeds_kmh) <= 0:
            raise ValueError("speeds_kmh needs 24 positive speeds, one per local hour")

    def speed_kmh(self, at: datetime, until: datetime | None = None) -> float:
        """The speed at `at`, or over [at, until): the harmonic mean of the hours' speeds,
        which gives the right total time for driving spread evenly over the shift."""
        local = at.astimezone(self.tz)
        if until is None or until - at < timedelta(hours=1):
            return self.speeds_kmh[local.hour]
        hours = int((until - at) / timedelta(hours=1))
        speeds = [self.speeds_kmh[(local.hour + h) % HOURS] for h in range(hours)]
        return len(speeds) / sum(1 / v for v in speeds)

    def matrix(
        self, points: Sequence[Point], depart: datetime, until: datetime | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        metres = great_circle_m(points) * self.detour
        seconds = metres / (self.speed_kmh(depart, until) / 3.6)
        return np.rint(metres).astype(np.int64), np.rint(seconds).astype(np.int64)

    def describe(self, first: datetime, last: datetime) -> str:
        return f"great circle x {self.detour:g} at {self.speed_kmh(first, last):.1f} km/h"


@dataclass
class OsrmTable:
    """An OSRM server's table service (`/table/v1/{profile}/{lon,lat;...}`), as documented in
    the OSRM HTTP API. Big matrices go in blocks so no URL grows past what servers accept."""

    base_url: str
    profile: str = "driving"
    block: int = 100
    timeout_s: float = 30.0
    client: httpx.Client | None = None

    def _get(self, points: Sequence[Point], src: range, dst: range) -> tuple[list, list]:  # type: ignore[type-arg]
        coords = ";".join(f"{lon:.6f},{lat:.6f}" for lon, lat in points)
        url = f"{self.base_url.rstrip('/')}/table/v1/{self.profile}/{coords}"
        params = {
            "sources": ";".join(map(str, src)),
            "destinations": ";".join(map(str, dst)),
            "annotations": "distance,duration",
        }
        client = self.client or httpx.Client(timeout=self.timeout_s)
        try:
            r = client.get(url, params=params)
        except httpx.HTTPError as e:
            raise TravelError(f"OSRM at {self.base_url} did not answer: {e}") from e
        finally:
            if self.client is None:
                client.close()
        try:
            body = r.json()
        except ValueError as e:
            raise TravelError(f"OSRM answered {r.status_code} without JSON") from e
        if r.status_code != 200 or body.get("code") != "Ok":
            raise TravelError(
                f"OSRM refused the table: {body.get('code')} {body.get('message', '')}"
            )
        return body["distances"], body["durations"]

    def matrix(
        self, points: Sequence[Point], depart: datetime, until: datetime | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        # OSRM's table has no time of day: the server's profile decides the speeds.
        n = len(points)
        metres = np.zeros((n, n))
        seconds = np.zeros((n, n))
        # Each request carries the coordinates of its two blocks only.
        for i in range(0, n, self.block):
            for j in range(0, n, self.block):
                rows = list(range(i, min(i + self.block, n)))
                cols = list(range(j, min(j + self.block, n)))
                sub = [points[k] for k in rows] + [points[k] for k in cols]
                d, t = self._get(sub, range(len(rows)), range(len(rows), len(sub)))
                if any(v is None for row in (*d, *t) for v in row):
                    raise TravelError("OSRM found no road between some of the sites")
                metres[i : i + len(rows), j : j + len(cols)] = d
                seconds[i : i + len(rows), j : j + len(cols)] = t
        np.fill_diagonal(metres, 0)
        np.fill_diagonal(seconds, 0)
        return np.rint(metres).astype(np.int64), np.rint(seconds).astype(np.int64)


def provider(city: CityProfile, vehicle: str, osrm_url: str | None = None) -> TravelProvider:
    """The city's travel model for one vehicle class: OSRM when the city runs a server, else
    the crow flies at the profile's speeds. The profile's [travel] section is checked either
    way when present, so a broken one stops the start-up."""
    if osrm_url and "travel" not in city.raw:
        return OsrmTable(osrm_url)
    crow = TravelProfile.of(city).crow_flies(vehicle)
    return OsrmTable(osrm_url) if osrm_url else crow
