"""The underground pipeline map in three dimensions, and who must be told before a dig.

A pipe segment is a 2D line in projected metres (TWD97 TM2, EPSG:3826) plus the depth of its
centre at both ends; the depth in between is linear along the line. A dig is a plan footprint and
a depth. The locate rule says which segments a dig could hit, and so which utility owners a permit
must notify. Everything here is pure: no I/O, no database, no web framework.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, Point, box
from shapely.geometry.base import BaseGeometry

KINDS = ("water", "sewer", "power", "gas", "telecom", "other")

_FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Pipe:
    """One surveyed pipe segment, as the pipeline map holds it."""

    id: int
    owner: str
    kind: str
    line: LineString
    depth_start_m: float
    depth_end_m: float
    diameter_mm: int
    accuracy_m: float = 0.5
    material: str = ""
    year_laid: int | None = None
    survey: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"pipe {self.id}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.depth_start_m < 0 or self.depth_end_m < 0:
            raise ValueError(f"pipe {self.id}: depths are metres below the surface, give them >= 0")
        if self.diameter_mm <= 0:
            raise ValueError(f"pipe {self.id}: diameter_mm must be a positive number of mm")
        if self.accuracy_m < 0:
            raise ValueError(f"pipe {self.id}: accuracy_m must be >= 0")


@dataclass(frozen=True)
class LocateRule:
    """How far around and below a dig a pipe still counts as at risk."""

    buffer_m: float = 3.0
    depth_margin_m: float = 0.5


@dataclass(frozen=True)
class Match:
    """A pipe a dig could hit, with how close it comes in plan and how shallow its top is there."""

    pipe_id: int
    owner: str
    kind: str
    plan_distance_m: float
    top_depth_m: float


def depth_at(pipe: Pipe, dist_along_m: float) -> float:
    """Centre depth of the pipe at a distance along its line, clamped to the line's ends."""
    length = float(pipe.line.length)
    if length <= 0.0:
        return pipe.depth_start_m
    frac = min(max(dist_along_m / length, 0.0), 1.0)
    return pipe.depth_start_m + frac * (pipe.depth_end_m - pipe.depth_start_m)


def _top(pipe: Pipe, centre_depth_m: float) -> float:
    return max(centre_depth_m - pipe.diameter_mm / 2000.0, 0.0)


def top_depth_within(pipe: Pipe, area: BaseGeometry) -> float | None:
    """Shallowest top-of-pipe depth over the part of the pipe inside `area`; None if none is."""
    # Each straight segment is clipped on its own and its pieces measured from its own start: a
    # pipe that doubles back over itself passes one plan point twice at two depths, and
    # projecting that point onto the whole line would only ever find the first pass.
    best: float | None = None
    walked = 0.0
    for p, q in itertools.pairwise(shapely.get_coordinates(pipe.line)):
        seg = LineString([p, q])
        inside = seg.intersection(area)
        if not inside.is_empty:
            # Depth is linear along the segment, so each piece is shallowest at one of its ends;
            # every vertex of the pieces is checked, which includes those ends.
            xy = shapely.get_coordinates(inside)
            for s in np.hypot(xy[:, 0] - p[0], xy[:, 1] - p[1]):
                top = _top(pipe, depth_at(pipe, walked + float(s)))
                best = top if best is None else min(best, top)
        walked += float(seg.length)
    return best


def _edges(geom: BaseGeometry) -> tuple[_FloatArray, _FloatArray]:
    """The footprint's boundary as segment start and end arrays; a lone point is a 0-length edge."""
    starts: list[_FloatArray] = []
    ends: list[_FloatArray] = []
    for part in shapely.get_parts(geom):
        if part.is_empty:
            continue
        if part.geom_type == "Polygon":
            rings = [part.exterior, *part.interiors]
        elif part.geom_type in ("LineString", "LinearRing", "Point"):
            rings = [part]
        else:  # a nested collection
            s, e = _edges(part)
            starts.append(s)
            ends.append(e)
            continue
        for ring in rings:
            xy = shapely.get_coordinates(ring)
            if len(xy) == 1:
                starts.append(xy)
                ends.append(xy)
            else:
                starts.append(xy[:-1])
                ends.append(xy[1:])
    if not starts:
        empty = np.empty((0, 2))
        return empty, empty
    return np.concatenate(starts), np.concatenate(ends)


def _slab(
    p0: _FloatArray, p1: _FloatArray, lo: _FloatArray | float, hi: _FloatArray | float
) -> tuple[_FloatArray, _FloatArray]:
    """The t interval where p0 + t * p1 lies in [lo, hi]; (inf, -inf) when there is none."""
    # A near-parallel move overflows to +-inf, which still orders the interval right.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ta = (lo - p0) / p1
        tb = (hi - p0) / p1
    moving = p1 != 0.0
    still_in = (p0 >= lo) & (p0 <= hi)
    t_lo = np.where(moving, np.minimum(ta, tb), np.where(still_in, -np.inf, np.inf))
    t_hi = np.where(moving, np.maximum(ta, tb), np.where(still_in, np.inf, -np.inf))
    return t_lo, t_hi


def _first_t(
    a: _FloatArray, v: _FloatArray, starts: _FloatArray, ends: _FloatArray, r: float
) -> float | None:
    """First t in [0, 1] at which A + t*v comes within r of any footprint edge, or None.

    Each edge's r-neighbourhood is a capsule (two disks and a rectangle). A capsule is convex, so
    the segment meets it in one interval, and its first point is the earliest of the three parts.
    """
    vv = float(v @ v)
    best = math.inf
    # Disks round every edge end.
    w = a - np.concatenate([starts, ends])
    b = 2.0 * (w @ v)
    c = np.einsum("ij,ij->i", w, w) - r * r
    disc = b * b - 4.0 * vv * c
    ok = disc >= 0.0
    if ok.any():
        sq = np.sqrt(disc[ok])
        t1 = (-b[ok] - sq) / (2.0 * vv)
        t2 = (-b[ok] + sq) / (2.0 * vv)
        lo = np.maximum(t1, 0.0)
        hit = lo <= np.minimum(t2, 1.0)
        if hit.any():
            best = min(best, float(lo[hit].min()))
    # Rectangles along every edge of non-zero length.
    e = ends - starts
    le = np.hypot(e[:, 0], e[:, 1])
    keep = le > 0.0
    if keep.any():
        u = e[keep] / le[keep, None]
        n = np.column_stack([-u[:, 1], u[:, 0]])
        w = a - starts[keep]
        along_lo, along_hi = _slab(np.einsum("ij,ij->i", w, u), u @ v, 0.0, le[keep])
        perp_lo, perp_hi = _slab(np.einsum("ij,ij->i", w, n), n @ v, -r, r)
        lo = np.maximum(np.maximum(along_lo, perp_lo), 0.0)
        hi = np.minimum(np.minimum(along_hi, perp_hi), 1.0)
        hit = lo <= hi
        if hit.any():
            best = min(best, float(lo[hit].min()))
    return None if math.isinf(best) else best


_Edges = tuple[_FloatArray, _FloatArray]


def _first_reach(
    line: LineString, footprint: BaseGeometry, edges: _Edges, r: float
) -> float | None:
    """Distance along `line` of its first point within r of the footprint in plan, or None."""
    xy = shapely.get_coordinates(line)
    if shapely.distance(Point(xy[0]), footprint) <= r:
        return 0.0
    starts, ends = edges
    if len(starts) == 0:
        return None
    # Starting outside the r-zone, the line can only enter it across the zone's edge, which lies
    # at distance r from the footprint's boundary: so the edge capsules find the first entry.
    walked = 0.0
    for p, q in itertools.pairwise(xy):
        v = q - p
        seg = float(math.hypot(v[0], v[1]))
        if seg == 0.0:
            continue
        t = _first_t(p, v, starts, ends, r)
        if t is not None:
            return walked + t * seg
        walked += seg
    return None


def _shallowest_top_near(
    pipe: Pipe, footprint: BaseGeometry, edges: _Edges, r: float
) -> float | None:
    """Shallowest top over the part of the pipe within r of the footprint in plan (exact)."""
    # Depth is monotone along the line, so the shallowest reachable point is the first one met
    # walking in from the shallow end.
    reverse = pipe.depth_end_m < pipe.depth_start_m
    line = pipe.line.reverse() if reverse else pipe.line
    s = _first_reach(line, footprint, edges, r)
    if s is None:
        if shapely.distance(pipe.line, footprint) > r:
            return None
        # Rounding put the closest approach a hair outside every capsule: use that point.
        s = float(line.project(shapely.get_point(shapely.shortest_line(line, footprint), 0)))
    if reverse:
        s = float(pipe.line.length) - s
    return _top(pipe, depth_at(pipe, s))


def matches(
    footprint: BaseGeometry,
    dig_depth_m: float,
    pipes: Iterable[Pipe],
    rule: LocateRule = LocateRule(),
) -> list[Match]:
    """The pipes a dig could hit, sorted by owner then pipe id.

    A pipe matches when some part of it lies within `rule.buffer_m + pipe.accuracy_m` of the
    footprint in plan and its top there is no deeper than
    `dig_depth_m + rule.depth_margin_m + pipe.accuracy_m`. Exact, not approximated by a buffer.
    """
    found: list[Match] = []
    edges = _edges(footprint)
    for pipe in pipes:
        reach = rule.buffer_m + pipe.accuracy_m
        plan = float(shapely.distance(pipe.line, footprint))
        if plan > reach:
            continue
        top = _shallowest_top_near(pipe, footprint, edges, reach)
        if top is None:
            continue
        if top <= dig_depth_m + rule.depth_margin_m + pipe.accuracy_m:
            found.append(Match(pipe.id, pipe.owner, pipe.kind, plan, top))
    found.sort(key=lambda m: (m.owner, m.pipe_id))
    return found


def owners(found: Iterable[Match]) -> list[str]:
    """The utility owners a permit must notify, sorted and without repeats."""
    return sorted({m.owner for m in found})


class PipeIndex:
    """An in-memory spatial index over pipes for fast locate queries."""

    def __init__(self, pipes: Iterable[Pipe]) -> None:
        self._pipes: list[Pipe] = list(pipes)
        self._tree = shapely.STRtree([p.line for p in self._pipes])
        self._max_accuracy = max((p.accuracy_m for p in self._pipes), default=0.0)

    def __len__(self) -> int:
        return len(self._pipes)

    def query(
        self, footprint: BaseGeometry, dig_depth_m: float, rule: LocateRule = LocateRule()
    ) -> list[Match]:
        """Same answer as `matches` over every pipe, using the tree to skip the far ones."""
        if not self._pipes:
            return []
        # Growing the bounding box (not buffering the shape) keeps the candidate set a superset:
        # a polygonal buffer sits inside the true one at its rounded corners.
        reach = rule.buffer_m + self._max_accuracy
        minx, miny, maxx, maxy = footprint.bounds
        probe = box(minx - reach, miny - reach, maxx + reach, maxy + reach)
        hits = self._tree.query(probe)
        return matches(footprint, dig_depth_m, (self._pipes[i] for i in sorted(hits)), rule)


def as_built_update(
    old: Pipe,
    surveyed: LineString,
    depth_start_m: float,
    depth_end_m: float,
    accuracy_m: float,
    year_laid: int | None,
    *,
    diameter_mm: int | None = None,
    material: str | None = None,
) -> Pipe:
    """The record that replaces `old` once works close with an as-built survey."""
    return dataclasses.replace(
        old,
        line=surveyed,
        depth_start_m=depth_start_m,
        depth_end_m=depth_end_m,
        accuracy_m=accuracy_m,
        year_laid=old.year_laid if year_laid is None else year_laid,
        diameter_mm=old.diameter_mm if diameter_mm is None else diameter_mm,
        material=old.material if material is None else material,
        survey="as-built",
    )


def to_geojson_3d(
    pipe: Pipe, to_wgs84: Callable[[float, float], tuple[float, float]]
) -> dict[str, Any]:
    """A GeoJSON Feature for 3D display: [lon, lat, z] per vertex, z = -centre depth in metres."""
    xy = shapely.get_coordinates(pipe.line)
    steps = np.hypot(*np.diff(xy, axis=0).T)
    along: Sequence[float] = np.concatenate([[0.0], np.cumsum(steps)]).tolist()
    coords = []
    for (x, y), s in zip(xy.tolist(), along, strict=True):
        lon, lat = to_wgs84(x, y)
        coords.append([lon, lat, -depth_at(pipe, s)])
    return {
        "type": "Feature",
        "id": pipe.id,
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": {
            "owner": pipe.owner,
            "kind": pipe.kind,
            "diameter_mm": pipe.diameter_mm,
            "material": pipe.material,
            "year_laid": pipe.year_laid,
            "survey": pipe.survey,
            "accuracy_m": pipe.accuracy_m,
            "depth_start_m": pipe.depth_start_m,
            "depth_end_m": pipe.depth_end_m,
        },
    }
