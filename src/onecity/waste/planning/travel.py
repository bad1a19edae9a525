"""Travel times and distances between collection sites, behind one interface.

`CrowFlies` needs nothing but coordinates: great-circle distance times a city detour factor
(street networks run 1.2-1.4 x the straight line; Taipei's grid and one-way streets put it near
1.35), driven at a speed for the hour of day. `OsrmTable` asks an OSRM server's table service
(a city that runs one gets its real street network). Both return whole metres and seconds, as
the planner wants them.

PyVRP plans with one duration matrix, so a plan drives at the shift's average speed (the
harmonic mean of its hours' speeds): a 06:00-14:00 shift through the morning rush is slower
than a 20:00-04:00 one, though within a shift noon is not faster than 08:00."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

import httpx
import numpy as np

EARTH_RADIUS_M = 6_371_008.8

# Average garbage-truck speed through Taipei's streets by local hour, km/h: slowest in the
# 7-9 h and 17-19 h rush, fastest at night.
TAIPEI_SPEEDS_KMH = (
    *(28.0, 30.0, 30.0, 30.0, 30.0, 27.0),  # 0-5
    *(22.0, 16.0, 15.0, 18.0, 20.0, 20.0),  # 6-11
    *(19.0, 20.0, 20.0, 19.0, 17.0, 15.0),  # 12-17
    *(15.0, 17.0, 20.0, 23.0, 25.0, 27.0),  # 18-23
)


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


@dataclass(frozen=True)
class CrowFlies:
    detour: float = 1.35
    speeds_kmh: tuple[float, ...] = TAIPEI_SPEEDS_KMH
    utc_offset_hours: float = 8.0

    def __post_init__(self) -> None:
        if self.detour < 1.0:
            raise ValueError("detour must be at least 1: streets are never shorter than a line")
        if len(self.speeds_kmh) != 24 or min(self.speeds_kmh) <= 0:
            raise ValueError("speeds_kmh needs 24 positive speeds, one per local hour")

    def speed_kmh(self, at: datetime, until: datetime | None = None) -> float:
        """The speed at `at`, or over [at, until): the harmonic mean of the hours' speeds,
        which gives the right total time for driving spread evenly over the shift."""
        local = at.astimezone(timezone(timedelta(hours=self.utc_offset_hours)))
        if until is None or until - at < timedelta(hours=1):
            return self.speeds_kmh[local.hour]
        hours = int((until - at) / timedelta(hours=1))
        speeds = [self.speeds_kmh[(local.hour + h) % 24] for h in range(hours)]
        return len(speeds) / sum(1 / v for v in speeds)

    def matrix(
        self, points: Sequence[Point], depart: datetime, until: datetime | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        metres = great_circle_m(points) * self.detour
        seconds = metres / (self.speed_kmh(depart, until) / 3.6)
        return np.rint(metres).astype(np.int64), np.rint(seconds).astype(np.int64)


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


def provider(osrm_url: str | None) -> TravelProvider:
    return OsrmTable(osrm_url) if osrm_url else CrowFlies()
