"""Geometries the registry takes in: a pipe's line, a dig ban's road, an embargo's area. Each is
GeoJSON in WGS84 or, when `crs` says so, the city's projected metres (TWD97 TM2); what comes
back is the WGS84 GeoJSON to store and the shape in metres for boxes and distances. Anything a
client can get wrong is refused with a sentence that says what to send instead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shapely.geometry.base import BaseGeometry

from onecity.core.errors import Invalid
from onecity.core.geo import CityProfile
from onecity.roadworks.rules import footprint

MAX_VERTICES = 5_000
MAX_PIPE_M = 5_000.0  # one record is a segment between fittings, not a whole main


@dataclass(frozen=True)
class Parsed:
    wgs84: dict[str, Any]
    metres: BaseGeometry

    @property
    def box(self) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self.metres.bounds
        return float(x0), float(y0), float(x1), float(y1)


def parse(
    city: CityProfile,
    geometry: Any,
    kinds: tuple[str, ...],
    *,
    crs: str | None = None,
    field: str = "geometry",
) -> Parsed:
    """A GeoJSON geometry of one of `kinds`, inside the city, in both coordinate systems."""
    metres, wgs = footprint.read(
        city,
        geometry,
        kinds=kinds,
        crs=crs,
        field=field,
        max_vertices=MAX_VERTICES,
        wrong_kind=f"send a GeoJSON {' or '.join(kinds)}",
        empty="the geometry has no coordinates",
    )
    if not metres.is_valid:
        raise Invalid("the outline crosses itself or is malformed", field=field)
    west, south, east, north = city.bounds
    lon0, lat0, lon1, lat1 = wgs.bounds
    if lon0 < west or lon1 > east or lat0 < south or lat1 > north:
        raise Invalid(
            f"the geometry is outside {city.name.get('en', city.id)}: send [longitude, "
            "latitude] in WGS84 degrees within the city",
            field=field,
        )
    return Parsed(wgs84=footprint.to_wgs84(city, metres), metres=metres)


def parse_line(city: CityProfile, geometry: Any, *, crs: str | None, field: str) -> Parsed:
    """A pipe segment: a LineString at least 10 cm and at most 5 km long."""
    got = parse(city, geometry, ("LineString",), crs=crs, field=field)
    length = float(got.metres.length)
    if length < 0.1:
        raise Invalid("the pipe is shorter than 10 cm: send both ends", field=field)
    if length > MAX_PIPE_M:
        raise Invalid(
            f"the pipe is {length:,.0f} m long; record segments of at most {MAX_PIPE_M:,.0f} m",
            field=field,
        )
    return got


def parse_area(
    city: CityProfile,
    geometry: Any,
    *,
    crs: str | None,
    field: str,
    line_width_m: float | None = None,
) -> Parsed:
    """An area: a Polygon or MultiPolygon, or (when `line_width_m` is given) a LineString
    along a road, widened to that many metres."""
    kinds = ("Polygon", "MultiPolygon") + (("LineString",) if line_width_m else ())
    got = parse(city, geometry, kinds, crs=crs, field=field)
    if got.metres.geom_type == "LineString" and line_width_m:
        wide = got.metres.buffer(line_width_m / 2, cap_style="flat")
        got = Parsed(wgs84=footprint.to_wgs84(city, wide), metres=wide)
    if got.metres.area <= 0.05:
        raise Invalid("the area has no size", field=field)
    return got
