"""NGSI-LD geo-queries (ETSI GS CIM 009 §4.10): georel, geometry, coordinates, geoproperty.

Supported georels: `near;maxDistance==M` and `near;minDistance==M` (metres, from a Point),
`within`, `intersects` and `disjoint` with any GeoJSON geometry. `contains`, `overlaps` and
`equals` are valid NGSI-LD that this server does not evaluate (OperationNotSupported)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from onecity.core.geo import bbox_around, haversine_m
from onecity.core.ngsi_ld import BadRequestData, OperationNotSupported

_NEAR = re.compile(r"^near;(maxDistance|minDistance)==(\d+(\.\d+)?)$")
_UNSUPPORTED = ("contains", "overlaps", "equals")
_SHAPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
MAX_POSITIONS = 1000


@dataclass(frozen=True)
class GeoQuery:
    rel: str  # near-max, near-min, within, intersects, disjoint
    geometry: BaseGeometry
    distance_m: float = 0.0
    geoproperty: str = "location"

    def bbox(self) -> tuple[float, float, float, float] | None:
        """West, south, east, north of where a match can lie; None when it can be anywhere."""
        if self.rel == "near-max":
            return bbox_around(self.geometry.x, self.geometry.y, self.distance_m)
        if self.rel in ("within", "intersects"):
            w, s, e, n = self.geometry.bounds
            return float(w), float(s), float(e), float(n)
        return None

    def point(self) -> tuple[float, float] | None:
        """The query's point, by which near-query results are sorted nearest first."""
        return (self.geometry.x, self.geometry.y) if self.rel.startswith("near") else None


def _positions(v: Any, depth: int = 0) -> int:
    """How many [lon, lat] positions the coordinates hold, checking each; 400 if malformed."""
    if depth > 4 or not isinstance(v, list) or not v:
        raise BadRequestData("coordinates are not GeoJSON coordinates", field="coordinates")
    if all(isinstance(x, int | float) and not isinstance(x, bool) for x in v):
        if len(v) != 2:
            raise BadRequestData("a position is [lon,lat]", field="coordinates")
        if not (-180 <= v[0] <= 180 and -90 <= v[1] <= 90):
            raise BadRequestData("coordinates out of range", field="coordinates")
        return 1
    return sum(_positions(x, depth + 1) for x in v)


def _closed(v: Any, depth: int) -> bool:
    """Whether every linear ring at this depth of nesting is closed (RFC 7946 §3.1.6)."""
    if not isinstance(v, list):
        return False
    if depth == 1:
        return len(v) >= 4 and v[0] == v[-1]
    return all(_closed(x, depth - 1) for x in v)


def _geometry(kind: str | None, coordinates: str | None) -> BaseGeometry:
    if kind not in _SHAPES:
        raise BadRequestData(f"geometry must be one of {', '.join(_SHAPES)}", field="geometry")
    if not coordinates:
        raise BadRequestData("a geo-query needs coordinates", field="coordinates")
    try:
        coords = json.loads(coordinates)
    except (ValueError, RecursionError):
        coords = None
    if _positions(coords) > MAX_POSITIONS:
        raise BadRequestData(f"at most {MAX_POSITIONS} positions", field="coordinates")
    if kind == "Point" and isinstance(coords[0], list):
        raise BadRequestData("a Point's coordinates are [lon,lat]", field="coordinates")
    if kind in ("Polygon", "MultiPolygon") and not _closed(coords, 2 if kind == "Polygon" else 3):
        raise BadRequestData(
            "each ring of a polygon needs 4 or more positions, the last the same as the first",
            field="coordinates",
        )
    try:
        geom = shape({"type": kind, "coordinates": coords})
    except (ValueError, TypeError, IndexError, AttributeError, ShapelyError):
        geom = None
    if geom is None or geom.is_empty or not geom.is_valid:
        raise BadRequestData(f"coordinates do not make a valid {kind}", field="coordinates")
    return geom


def parse(
    georel: str | None, geometry: str | None, coordinates: str | None, geoproperty: str | None
) -> GeoQuery | None:
    """The geo-query the parameters ask for; None when there is none."""
    if not georel:
        if geometry or coordinates:
            raise BadRequestData("geometry and coordinates need a georel", field="georel")
        return None
    prop = geoproperty or "location"
    if georel.split(";")[0] in _UNSUPPORTED:
        raise OperationNotSupported(
            f"georel {georel.split(';')[0]} is not supported here; use near, within, "
            "intersects or disjoint",
            field="georel",
        )
    m = _NEAR.match(georel)
    if georel.startswith("near") and not m:
        raise BadRequestData("near needs ;maxDistance==M or ;minDistance==M", field="georel")
    if m is None and georel not in ("within", "intersects", "disjoint"):
        raise BadRequestData(f"not an NGSI-LD georel: {georel[:50]}", field="georel")
    if m is not None and geometry != "Point":
        raise BadRequestData("near measures from a geometry=Point", field="georel")
    geom = _geometry(geometry, coordinates)
    if m is None:
        return GeoQuery(georel, geom, geoproperty=prop)
    rel = "near-max" if m.group(1) == "maxDistance" else "near-min"
    return GeoQuery(rel, geom, float(m.group(2)), prop)


def entity_geometry(e: dict[str, Any], prop: str) -> BaseGeometry | None:
    loc = e.get(prop)
    value = loc.get("value") if isinstance(loc, dict) and loc.get("type") == "GeoProperty" else loc
    try:
        return shape(value) if isinstance(value, dict) else None
    except (ValueError, TypeError, IndexError, AttributeError, KeyError, ShapelyError):
        return None


def distance_m(g: BaseGeometry, lon: float, lat: float) -> float:
    """Metres from (lon, lat) to a geometry's nearest point (its centroid for non-points)."""
    p = g if g.geom_type == "Point" else g.centroid
    return haversine_m(lon, lat, p.x, p.y)


def matches(e: dict[str, Any], q: GeoQuery) -> bool:
    g = entity_geometry(e, q.geoproperty)
    if g is None:
        return False
    if q.rel == "near-max":
        return distance_m(g, q.geometry.x, q.geometry.y) <= q.distance_m
    if q.rel == "near-min":
        return distance_m(g, q.geometry.x, q.geometry.y) >= q.distance_m
    if q.rel == "within":
        return bool(g.within(q.geometry))
    if q.rel == "intersects":
        return bool(g.intersects(q.geometry))
    return bool(g.disjoint(q.geometry))
