"""A works footprint from what a client sends: a GeoJSON Polygon, MultiPolygon or LineString
(a trench, given its width), in WGS84 or, when `crs` says so, TWD97 TM2 metres. Everything a
client can get wrong is refused with a sentence that says what to send instead."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import transform
from shapely.validation import explain_validity

from onecity.core.errors import Invalid
from onecity.core.geo import CityProfile

WGS84 = "EPSG:4326"
KINDS = ("Polygon", "MultiPolygon", "LineString")
MAX_AREA_M2 = 50_000.0  # a permit is a stretch of road, not a district
MAX_VERTICES = 2_000


@dataclass(frozen=True)
class Footprint:
    wgs84: dict[str, Any]  # GeoJSON as stored and shown
    metres: BaseGeometry  # in the city's projected CRS, for distances and areas
    area_m2: float
    district: str | None

    @property
    def box(self) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self.metres.bounds
        return float(x0), float(y0), float(x1), float(y1)


def _coords(obj: Any, field: str) -> list[list[float]]:
    """Every position in a GeoJSON coordinates array, flattened."""
    if isinstance(obj, list) and obj and all(isinstance(v, int | float) for v in obj):
        return [obj]
    if isinstance(obj, list):
        out: list[list[float]] = []
        for item in obj:
            out.extend(_coords(item, field))
        return out
    raise Invalid("coordinates must be nested arrays of numbers", field=f"{field}.coordinates")


def read(
    city: CityProfile,
    geometry: Any,
    *,
    kinds: tuple[str, ...],
    crs: str | None,
    field: str,
    max_vertices: int,
    wrong_kind: str,
    empty: str,
) -> tuple[BaseGeometry, BaseGeometry]:
    """A GeoJSON geometry of one of `kinds`, in WGS84 or the city's projected CRS, as its
    plan shape (x, y only) in projected metres and in WGS84 degrees. Refuses what no shape can
    be made of, an unknown crs, and projected metres sent as degrees; `wrong_kind` and `empty`
    are the sentences for a geometry of another kind and one without coordinates."""
    if not isinstance(geometry, dict) or geometry.get("type") not in kinds:
        raise Invalid(wrong_kind, field=field, code="wrong_type")
    points = _coords(geometry.get("coordinates"), field)
    if not points:
        raise Invalid(empty, field=f"{field}.coordinates", code="empty")
    if len(points) > max_vertices:
        raise Invalid(
            f"at most {max_vertices} vertices, please",
            field=f"{field}.coordinates",
            code="too_many_vertices",
        )
    if any(len(p) < 2 or not all(math.isfinite(v) for v in p[:3]) for p in points):
        raise Invalid(
            "every position needs a finite x and y",
            field=f"{field}.coordinates",
            code="bad_coordinates",
        )
    given = (crs or WGS84).upper().replace("URN:OGC:DEF:CRS:EPSG::", "EPSG:")
    if given not in (WGS84, "CRS84", city.projected_crs.upper()):
        raise Invalid(f"crs must be {WGS84} (the default) or {city.projected_crs}", field="crs")
    projected = given == city.projected_crs.upper()
    if not projected and any(abs(p[0]) > 180 or abs(p[1]) > 90 for p in points):
        raise Invalid(
            "these coordinates are not WGS84 degrees; they look like projected metres "
            f"(e.g. TWD97). Send [longitude, latitude], or set crs to {city.projected_crs}",
            field=f"{field}.coordinates",
            code="not_degrees",
        )
    try:
        # Only x and y: depths travel as their own fields, never as z.
        raw = transform(lambda x, y, z=None: (x, y), shape(geometry))
    except (ValueError, TypeError, AttributeError, IndexError):
        raise Invalid(
            "the geometry is not valid GeoJSON", field=field, code="bad_geojson"
        ) from None
    if raw.is_empty:
        raise Invalid(empty, field=field, code="empty")
    if projected:
        return raw, transform(lambda x, y, z=None: _to_deg(city, x, y), raw)
    return transform(lambda x, y, z=None: _to_m(city, x, y), raw), raw


def parse(
    city: CityProfile,
    geometry: Any,
    *,
    crs: str | None = None,
    width_m: float | None = None,
    field: str = "geometry",
) -> Footprint:
    metres, wgs = read(
        city,
        geometry,
        kinds=KINDS,
        crs=crs,
        field=field,
        max_vertices=MAX_VERTICES,
        wrong_kind="the works must be a GeoJSON Polygon, MultiPolygon or LineString",
        empty="the works geometry is empty",
    )
    if not metres.is_valid:
        raise Invalid(
            f"the works outline crosses itself or is malformed ({explain_validity(metres)})",
            field=field,
            code="self_intersecting",
        )
    if metres.geom_type == "LineString":
        if width_m is None or not (0.2 <= width_m <= 30):
            raise Invalid(
                "a trench given as a line needs width_m between 0.2 and 30",
                field="width_m",
                code="trench_width",
            )
        if metres.length < 0.5:
            raise Invalid("the trench is shorter than half a metre", field=field, code="too_short")
        metres = metres.buffer(width_m / 2, cap_style="flat")
        wgs = transform(lambda x, y, z=None: _to_deg(city, x, y), metres)
    if metres.area <= 0.05:
        raise Invalid("the works outline has no area", field=field, code="no_area")
    if metres.area > MAX_AREA_M2:
        raise Invalid(
            f"the works cover {metres.area:,.0f} m²; one permit covers at most "
            f"{MAX_AREA_M2:,.0f} m² (split the works)",
            field=field,
            code="too_large",
        )
    west, south, east, north = city.bounds
    lon0, lat0, lon1, lat1 = wgs.bounds
    centre = wgs.representative_point()
    place = city.place(centre.x, centre.y)
    if lon0 < west or lon1 > east or lat0 < south or lat1 > north or place.district is None:
        raise Invalid(
            f"the works are outside {city.name.get('en', city.id)}: send [longitude, "
            "latitude] in WGS84 degrees within the city",
            field=field,
            code="outside_city",
        )
    return Footprint(
        wgs84=_rounded(mapping(wgs)),
        metres=metres,
        area_m2=round(float(metres.area), 2),
        district=place.district,
    )


def _to_m(city: CityProfile, x: Any, y: Any) -> tuple[Any, Any]:
    return city.to_projected_many(x, y)


def _to_deg(city: CityProfile, x: Any, y: Any) -> tuple[Any, Any]:
    return city.from_projected_many(x, y)


def _rounded(geo: Any) -> dict[str, Any]:
    """GeoJSON with 7 decimals (about 1 cm), as plain lists."""

    def walk(c: Any) -> Any:
        if isinstance(c, list | tuple) and c and isinstance(c[0], int | float):
            return [round(float(v), 7) for v in c[:2]]
        return [walk(v) for v in c]

    return {"type": geo["type"], "coordinates": walk(geo["coordinates"])}


def to_metres(city: CityProfile, geojson: dict[str, Any]) -> BaseGeometry:
    """A stored (WGS84) geometry in projected metres."""
    return transform(lambda x, y, z=None: _to_m(city, x, y), shape(geojson))


def to_wgs84(city: CityProfile, geom: BaseGeometry) -> dict[str, Any]:
    return _rounded(mapping(transform(lambda x, y, z=None: _to_deg(city, x, y), geom)))
