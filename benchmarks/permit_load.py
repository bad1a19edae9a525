"""A city's worth of road works for benchmarks/permit_checks.py: synthetic pipes over Taipei,
permits dug along the same streets, dig bans and no-dig periods, written with `bulk_insert`.

NOT REAL DATA. The pipes come from `onecity.roadworks.demo.pipe_gen` (see its SYNTHETIC_NOTE); the
permits are invented to look like a few years of RPIC's books: trenches 5-60 m long and
0.5-3 m wide (and pits) along the streets the pipes lie under, spread over three years around
today, with statuses that fit their dates. The same seed gives the same city.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Table

from onecity.core.db import bulk_insert
from onecity.core.geo import CityProfile
from onecity.roadworks.demo import pipe_gen
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.pipes.models import PipeRow
from onecity.roadworks.registry.models import DigBanRow, EmbargoRow, RoadOrg
from onecity.roadworks.rules.pipes import Pipe
from onecity.roadworks.rules.status import PermitStatus

BATCH = 5_000
# Owners pipe_gen lays mains for, with what they dig for and how deep (m, low-high).
UTILITIES = {
    "twc": ("臺北自來水事業處", "Taipei Water", "water", (1.2, 2.0)),
    "sewer": ("衛生下水道工程處", "Sewerage Office", "sewer", (2.5, 4.0)),
    "taipower": ("台灣電力公司", "Taipower", "power", (1.5, 2.0)),
    "gas": ("大台北瓦斯", "Great Taipei Gas", "gas", (1.0, 1.5)),
    "cht": ("中華電信", "Chunghwa Telecom", "telecom", (0.8, 1.2)),
}
CONTRACTORS = [f"build{k:02d}" for k in range(1, 21)]
MAIN_ROADS = [
    f"{name}{section}"
    for name in ("忠孝東路", "仁愛路", "信義路", "和平東路", "民生東路", "南京東路", "中山北路")
    for section in ("一段", "二段", "三段", "四段", "五段")
] + ["復興南路一段", "敦化南路一段", "基隆路二段", "承德路三段", "羅斯福路四段"]
# Works are mostly in lanes off the main roads; a ban given by name alone names a main road.
ROADS = MAIN_ROADS + [f"{road}{k}巷" for road in MAIN_ROADS for k in range(1, 26)]
ROAD_CLASSES = ("narrow", "wide", "congested")
ON_STREETS = 0.8  # share of works (and of benchmark applications) placed along a street

Points = NDArray[np.float64]


@dataclass
class City:
    """Where things can go: the city in metres and its street segments (from the pipes)."""

    profile: CityProfile
    area: BaseGeometry  # the union of the districts, projected metres
    seg_a: Points  # (n, 2) street segment starts, metres
    seg_b: Points


@dataclass
class Books:
    """Every row to load, ready for `bulk_insert`, table by table."""

    orgs: list[dict[str, Any]]
    pipes: list[dict[str, Any]]
    permits: list[dict[str, Any]]
    bans: list[dict[str, Any]]
    embargoes: list[dict[str, Any]]
    made_s: dict[str, float] = field(default_factory=dict)


def _wgs84(city: CityProfile, xy: Points) -> Points:
    """(..., 2) projected metres as (..., 2) WGS84 degrees, 7 decimals (about 1 cm)."""
    flat = xy.reshape(-1, 2)
    lon, lat = city.from_projected_many(flat[:, 0], flat[:, 1])
    return np.round(np.column_stack([lon, lat]), 7).reshape(xy.shape)


def city_of(profile: CityProfile) -> BaseGeometry:
    def project(xy: Any) -> Any:
        xs, ys = profile.to_projected_many(xy[:, 0], xy[:, 1])
        return np.column_stack([xs, ys])

    return shapely.union_all(shapely.transform(np.array(profile.districts.geoms), project))


def places(city: City, n: int, rng: np.random.Generator) -> tuple[Points, Points]:
    """`n` centres (metres) and unit directions: most along a street, the rest anywhere."""
    on = rng.random(n) < ON_STREETS
    k = rng.integers(0, len(city.seg_a), n)
    t = rng.random(n)[:, None]
    along = city.seg_b[k] - city.seg_a[k]
    direction = along / np.hypot(along[:, 0], along[:, 1])[:, None]
    # Across the carriageway: a dig sits anywhere from kerb to kerb.
    normal = np.column_stack([-direction[:, 1], direction[:, 0]])
    centre = city.seg_a[k] + t * along + rng.uniform(-4.0, 4.0, n)[:, None] * normal
    free = np.flatnonzero(~on)
    x0, y0, x1, y1 = city.area.bounds
    shapely.prepare(city.area)
    spots: list[Points] = []
    while sum(len(s) for s in spots) < len(free):
        cand = rng.uniform([x0, y0], [x1, y1], (4 * len(free) + 16, 2))
        spots.append(cand[shapely.contains_xy(city.area, cand[:, 0], cand[:, 1])])
    centre[free] = np.concatenate(spots)[: len(free)]
    angle = rng.uniform(0, np.pi, len(free))
    direction[free] = np.column_stack([np.cos(angle), np.sin(angle)])
    return centre, direction


def rectangles(centre: Points, direction: Points, length: Points, width: Points) -> Points:
    """(n, 5, 2) closed rings: `length` along `direction`, `width` across, about `centre`."""
    u = direction * (length / 2)[:, None]
    v = np.column_stack([-direction[:, 1], direction[:, 0]]) * (width / 2)[:, None]
    corners = [centre - u - v, centre + u - v, centre + u + v, centre - u + v, centre - u - v]
    return np.stack(corners, axis=1)


def works_shapes(
    city: City, n: int, rng: np.random.Generator
) -> tuple[Points, Points, Points, Points]:
    """Trenches (80 %: 5-60 m by 0.5-3 m) and pits (1-4 m square): centres, directions,
    lengths and widths, in metres."""
    centre, direction = places(city, n, rng)
    trench = rng.random(n) < 0.8
    length = np.where(trench, rng.uniform(5.0, 60.0, n), rng.uniform(1.0, 4.0, n))
    width = np.where(trench, rng.uniform(0.5, 3.0, n), length * rng.uniform(0.7, 1.0, n))
    return centre, direction, length, width


# Statuses by where the works stand on today's date: (statuses, their shares).
P = PermitStatus
_PAST = (
    (P.CLOSED, P.RESTORED, P.WORKS_DONE, P.REFUSED, P.WITHDRAWN),
    (0.7, 0.15, 0.05, 0.05, 0.05),
)
_NOW = ((P.IN_PROGRESS, P.GRANTED, P.WORKS_DONE), (0.85, 0.10, 0.05))
_AHEAD = (
    (P.APPLIED, P.GRANTED, P.CHANGES_REQUESTED, P.REFUSED, P.WITHDRAWN),
    (0.40, 0.45, 0.05, 0.05, 0.05),
)


def _statuses(
    rng: np.random.Generator, start: NDArray[np.int64], end: NDArray[np.int64], today: int
) -> list[str]:
    """A status for each permit that fits its days (date ordinals) against today's."""
    out = np.empty(len(start), dtype=object)
    for mask, (pool, shares) in (
        (end < today, _PAST),
        ((start <= today) & (end >= today), _NOW),
        (start > today, _AHEAD),
    ):
        out[mask] = rng.choice([st.value for st in pool], size=int(mask.sum()), p=shares)
    return [str(v) for v in out]


def _districts(profile: CityProfile, lonlat: Points) -> list[str | None]:
    pts = shapely.points(lonlat)
    hit, which = profile.districts.tree.query(pts, predicate="intersects")
    out: list[str | None] = [None] * len(pts)
    for i, d in zip(hit.tolist(), which.tolist(), strict=True):
        out[i] = out[i] or profile.districts.names[d]
    return out


def permit_rows(city: City, n: int, today: date, rng: np.random.Generator) -> list[dict[str, Any]]:
    centre, direction, length, width = works_shapes(city, n, rng)
    rings = rectangles(centre, direction, length, width)
    lo, hi = rings.min(axis=1), rings.max(axis=1)
    wgs = _wgs84(city.profile, rings).tolist()
    district = _districts(city.profile, _wgs84(city.profile, centre))
    first = today - timedelta(days=730)  # three years: two behind today, one ahead
    start_off = rng.integers(0, 3 * 365, n)
    days = np.minimum(rng.geometric(1 / 8, n), 90)
    owners = list(UTILITIES)
    owner = rng.integers(0, len(owners), n)
    contractor = rng.integers(0, len(CONTRACTORS), n)
    road = rng.integers(0, len(ROADS), n)
    depth_pick = rng.random(n)
    flags = rng.random((n, 4))
    begin = first.toordinal() + start_off
    status = _statuses(rng, begin, begin + days - 1, today.toordinal())
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        start = first + timedelta(days=int(start_off[i]))
        end = start + timedelta(days=int(days[i]) - 1)
        code = owners[int(owner[i])]
        _zh, _en, purpose, (d0, d1) = UTILITIES[code]
        emergency = bool(flags[i, 0] < 0.05)
        area = float(length[i] * width[i])
        category = (
            "minor" if area <= 30 and days[i] <= 3 else "major" if days[i] > 10 else "standard"
        )
        filed = datetime.combine(start - timedelta(days=21), datetime.min.time(), UTC)
        rows.append(
            {
                "ref": f"BENCH-{i + 1:06d}",
                "department_code": "pwd",
                "applicant_code": code,
                "contractor_code": CONTRACTORS[int(contractor[i])],
                "purpose": purpose,
                "description": f"{purpose} works (benchmark)",
                "road": ROADS[int(road[i])],
                "road_class": ROAD_CLASSES[int(road[i]) % 3],
                "width_m": round(float(width[i]), 2),
                "area_m2": round(area, 2),
                "depth_m": round(d0 + (d1 - d0) * float(depth_pick[i]), 2),
                "geometry": {"type": "Polygon", "coordinates": [wgs[i]]},
                "district": district[i],
                "start_date": start,
                "end_date": end,
                "night": bool(flags[i, 1] < 0.15),
                "emergency": emergency,
                "residential": bool(flags[i, 2] < 0.3),
                "hours": "09:00-16:00",
                "traffic_plan": "",
                "status": status[i],
                "category": category,
                "filed_at": filed,
                "decide_by": start - timedelta(days=7),
                "fee_total": int(3000 + 500 * days[i] + 800 * area),
                "fee_version": "2026",
                "fee_lines": [],
                "findings": [],
                "joint_group": None,
                "dig_order": None,
                "created_by": "bench",
                "updated_at": now,
                "minx": float(lo[i, 0]),
                "miny": float(lo[i, 1]),
                "maxx": float(hi[i, 0]),
                "maxy": float(hi[i, 1]),
                "start_day": start.toordinal(),
                "end_day": end.toordinal(),
            }
        )
    return rows


def pipe_rows(profile: CityProfile, pipes: list[Pipe]) -> list[dict[str, Any]]:
    lines = np.array([p.line for p in pipes])
    ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)
    lo, hi = ends.min(axis=1), ends.max(axis=1)
    wgs = _wgs84(profile, ends).tolist()
    return [
        {
            "owner_code": p.owner,
            "kind": p.kind,
            "diameter_mm": p.diameter_mm,
            "material": p.material,
            "year_laid": p.year_laid,
            "survey": p.survey,
            "accuracy_m": p.accuracy_m,
            "depth_start_m": p.depth_start_m,
            "depth_end_m": p.depth_end_m,
            "geometry": {"type": "LineString", "coordinates": wgs[i]},
            "synthetic": True,
            "retired_at": None,
            "replaced_by": None,
            "source_permit_id": None,
            "minx": float(lo[i, 0]),
            "miny": float(lo[i, 1]),
            "maxx": float(hi[i, 0]),
            "maxy": float(hi[i, 1]),
        }
        for i, p in enumerate(pipes)
    ]


def ban_rows(city: City, n: int, today: date, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Newly paved stretches (50-300 m of a 12 m carriageway); one in ten by road name only."""
    by_area = n - n // 10
    centre, direction = places(city, by_area, rng)
    rings = rectangles(centre, direction, rng.uniform(50.0, 300.0, by_area), np.full(by_area, 12.0))
    lo, hi = rings.min(axis=1), rings.max(axis=1)
    wgs = _wgs84(city.profile, rings).tolist()
    rows = []
    for i in range(n):
        paved = today - timedelta(days=int(rng.integers(0, 6 * 365)))
        row: dict[str, Any] = {
            "road": MAIN_ROADS[int(rng.integers(0, len(MAIN_ROADS)))],
            "paved_on": paved,
            "years": int(rng.choice([3, 5])),
            "note": "benchmark",
            "geometry": None,
            "minx": None,
            "miny": None,
            "maxx": None,
            "maxy": None,
        }
        if i < by_area:
            row["geometry"] = {"type": "Polygon", "coordinates": [wgs[i]]}
            row.update(minx=float(lo[i, 0]), miny=float(lo[i, 1]))
            row.update(maxx=float(hi[i, 0]), maxy=float(hi[i, 1]))
        rows.append(row)
    return rows


def embargo_rows(profile: CityProfile, today: date) -> list[dict[str, Any]]:
    """Holidays city-wide each year, exam weeks and an event in one district's outline."""
    daan = profile.districts.geoms[profile.districts.names.index("大安區")]
    area = json.loads(shapely.to_geojson(daan))
    rows = []
    for year in (today.year - 1, today.year, today.year + 1):
        for zh, en, kind, start, days, geom in (
            ("春節", "Lunar New Year", "holiday", date(year, 1, 28), 10, None),
            ("國慶日", "National Day", "holiday", date(year, 10, 8), 4, None),
            ("大學學測", "University entrance exams", "exam", date(year, 1, 18), 3, None),
            ("跨年晚會", "New Year's Eve event", "event", date(year, 12, 28), 5, area),
        ):
            rows.append(
                {
                    "name_zh": zh,
                    "name_en": en,
                    "kind": kind,
                    "start_date": start,
                    "end_date": start + timedelta(days=days - 1),
                    "geometry": geom,
                }
            )
    return rows


def org_rows() -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = [
        {"code": c, "name_zh": zh, "name_en": en, "kind": "utility", "utility_kind": kind}
        for c, (zh, en, kind, _depth) in UTILITIES.items()
    ] + [
        {
            "code": c,
            "name_zh": f"承包商{c[-2:]}",
            "name_en": f"Contractor {c[-2:]}",
            "kind": "contractor",
            "utility_kind": None,
        }
        for c in CONTRACTORS
    ]
    return [dict(r, created_at=now) for r in rows]


def make(
    profile: CityProfile, permits: int, pipes: int, bans: int, seed: int = 0
) -> tuple[City, Books]:
    """The synthetic books and the streets they lie on."""
    made: dict[str, float] = {}
    began = time.monotonic()
    area = city_of(profile)
    network = pipe_gen.generate_count(area, pipes, seed=seed)
    ends = shapely.get_coordinates(np.array([p.line for p in network])).reshape(-1, 2, 2)
    city = City(profile, area, ends[:, 0], ends[:, 1])
    made["pipes"] = time.monotonic() - began
    rng = np.random.default_rng(seed)
    today = date.today()
    began = time.monotonic()
    books = Books(
        orgs=org_rows(),
        pipes=pipe_rows(profile, network),
        permits=permit_rows(city, permits, today, rng),
        bans=ban_rows(city, bans, today, rng),
        embargoes=embargo_rows(profile, today),
        made_s=made,
    )
    made["rows"] = time.monotonic() - began
    return city, books


def load(engine: Any, books: Books) -> dict[str, float]:
    """Insert the books, one transaction per batch; seconds per table."""
    took: dict[str, float] = {}
    tables: list[tuple[str, Table, list[dict[str, Any]]]] = [
        ("orgs", RoadOrg.__table__, books.orgs),  # type: ignore[list-item]
        ("pipes", PipeRow.__table__, books.pipes),  # type: ignore[list-item]
        ("permits", Permit.__table__, books.permits),  # type: ignore[list-item]
        ("dig bans", DigBanRow.__table__, books.bans),  # type: ignore[list-item]
        ("embargoes", EmbargoRow.__table__, books.embargoes),  # type: ignore[list-item]
    ]
    for name, table, rows in tables:
        began = time.monotonic()
        for k in range(0, len(rows), BATCH):
            with engine.begin() as conn:
                bulk_insert(conn, table, rows[k : k + BATCH])
        took[name] = time.monotonic() - began
    return took
