"""Where the collection simulation puts its stations, depots and trucks: at real places of
Taipei, from the city's garbage-truck stops (臺北市垃圾車點位路線資訊, shipped in demo_data).

Stations stand at N of the trucks' real stop locations, a seeded sample spread over the city:
the N are shared out among the 12 districts in proportion to their stops, then drawn at random
within each district. Depots are the trucks' teams (分隊). The data gives a team no address,
only its trucks' stops, so a team's depot is placed at the **medoid** of its stops (the stop
with the least total distance to the team's other stops): a stand-in for the yard, not its
real address. Every station belongs to its nearest depot, and the trucks are shared out among
the depots in proportion to the stations that belong to them; depots left without a truck are
not part of the layout.

Pure apart from reading the shipped CSV (importlib.resources)."""

from __future__ import annotations

import csv
import io
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

import numpy as np

from onecity.core.geo import CityProfile
from onecity.core.travel import CrowFlies, TravelProfile, great_circle_m
from onecity.waste.planning.policy import TRUCK_CLASS

STOPS_FILE = "taipei_garbage_truck_stops.csv"
# [west, south, east, north]: the Taipei city profile's bounds (cities/taipei/city.toml). About
# 16 rows of the source have coordinates outside the city (a source error) and are skipped.
TAIPEI_BOUNDS = (121.457, 24.960, 121.666, 25.211)


class LayoutError(ValueError):
    """A layout that cannot be made as asked; the message says what to change."""


@dataclass(frozen=True, slots=True)
class TruckStop:
    district: str  # 行政區
    village: str  # 里別
    team: str  # 分隊
    route: str  # 路線
    place: str  # 地點
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class StationPlace:
    id: str
    district: str
    place: str
    lon: float
    lat: float
    depot: int  # index into CityLayout.depots: the nearest depot with a truck


@dataclass(frozen=True, slots=True)
class Depot:
    team: str
    lon: float
    lat: float  # the medoid of the team's stops: the data has no depot addresses
    trucks: int


@dataclass(frozen=True)
class CityLayout:
    stations: tuple[StationPlace, ...]
    depots: tuple[Depot, ...]

    @property
    def trucks(self) -> int:
        return sum(d.trucks for d in self.depots)


def _inside(lon: float, lat: float) -> bool:
    west, south, east, north = TAIPEI_BOUNDS
    return west <= lon <= east and south <= lat <= north


@cache
def truck_stops() -> tuple[TruckStop, ...]:
    """Every stop of the shipped file with coordinates inside Taipei."""
    raw = (resources.files("onecity.demo_data") / STOPS_FILE).read_text("utf-8")
    out = []
    for row in csv.DictReader(io.StringIO(raw)):
        try:
            lon, lat = float(row["經度"]), float(row["緯度"])
        except (TypeError, ValueError):
            continue
        if _inside(lon, lat):
            out.append(
                TruckStop(
                    district=row["行政區"],
                    village=row["里別"],
                    team=row["分隊"],
                    route=row["路線"],
                    place=row["地點"],
                    lon=lon,
                    lat=lat,
                )
            )
    return tuple(out)


@cache
def taipei() -> CityProfile:
    """The simulated city's profile (cities/taipei/city.toml)."""
    return CityProfile.load("taipei")


def taipei_zone() -> ZoneInfo:
    """The simulated city's time zone, from its profile: its local hours drive the stations'
    usage and the crews' shifts."""
    return ZoneInfo(taipei().timezone)


@cache
def taipei_trucks() -> CrowFlies:
    """Garbage trucks' travel through Taipei, from the city profile's [travel] section."""
    return TravelProfile.of(taipei()).crow_flies(TRUCK_CLASS)


def medoid(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The point with the least total great-circle distance to the others."""
    if not points:
        raise LayoutError("a medoid needs at least one point")
    total = great_circle_m(points).sum(axis=1)
    return points[int(np.argmin(total))]


@cache
def team_depots() -> dict[str, tuple[float, float]]:
    """Each team's depot location: the medoid of its (distinct) stops, as (lon, lat)."""
    by_team: dict[str, set[tuple[float, float]]] = defaultdict(set)
    for s in truck_stops():
        by_team[s.team].add((s.lon, s.lat))
    return {team: medoid(sorted(pts)) for team, pts in sorted(by_team.items())}


def _shares(weights: dict[str, int], total: int) -> dict[str, int]:
    """`total` shared out in proportion to `weights` (largest remainder; ties by name)."""
    whole = sum(weights.values())
    exact = {k: total * w / whole for k, w in weights.items()}
    out = {k: math.floor(v) for k, v in exact.items()}
    rest = total - sum(out.values())
    for k in sorted(exact, key=lambda k: (out[k] - exact[k], k))[:rest]:
        out[k] += 1
    return out


def _sample_places(n: int, rng: random.Random) -> list[TruckStop]:
    """n distinct stop locations, shared out among the districts by their number of places."""
    by_district: dict[str, dict[tuple[float, float], TruckStop]] = defaultdict(dict)
    for s in truck_stops():
        by_district[s.district].setdefault((s.lon, s.lat), s)  # first stop at a place names it
    places = {d: list(v.values()) for d, v in sorted(by_district.items())}
    available = sum(len(v) for v in places.values())
    if not 1 <= n <= available:
        raise LayoutError(f"stations must be between 1 and {available} (distinct stop places)")
    counts = _shares({d: len(v) for d, v in places.items()}, n)
    out: list[TruckStop] = []
    for d, v in places.items():
        out.extend(rng.sample(v, counts[d]))
    return out


def layout(stations: int, trucks: int, seed: int = 0) -> CityLayout:
    """`stations` stations at real stop places and `trucks` trucks at the depots nearest them."""
    if trucks < 1:
        raise LayoutError("trucks must be at least 1")
    rng = random.Random(f"city-layout:{seed}")
    chosen = _sample_places(stations, rng)
    teams = team_depots()
    names = list(teams)
    spots = [teams[t] for t in names]
    points = [(s.lon, s.lat) for s in chosen] + spots
    dist = great_circle_m(points)[: len(chosen), len(chosen) :]
    nearest = [names[int(np.argmin(row))] for row in dist]
    near_count: dict[str, int] = defaultdict(int)
    for team in nearest:
        near_count[team] += 1
    share = _shares(dict(near_count), trucks)
    # more trucks than busy depots: a share can be 0; those depots drop out of the layout
    kept = [t for t in names if share.get(t, 0) > 0]
    depots = tuple(Depot(t, teams[t][0], teams[t][1], share[t]) for t in kept)
    kept_idx = [names.index(t) for t in kept]
    places = []
    for i, s in enumerate(chosen):
        k = int(np.argmin([dist[i, j] for j in kept_idx]))
        places.append(StationPlace(f"S{i + 1:03d}", s.district, s.place, s.lon, s.lat, k))
    return CityLayout(tuple(places), depots)
