"""Geo: GeoJSON points, WGS84 <-> TWD97 TM2 (EPSG:3826), district and village look-up,
and the city profile that says which city this is."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from pyproj import Transformer
from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from onecity.core.errors import Invalid

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Place:
    district: str | None
    district_code: str | None
    village: str | None
    village_code: str | None


@dataclass
class Boundaries:
    names: list[str]
    codes: list[str]
    parents: list[str | None]
    geoms: list[BaseGeometry]
    geojson: dict[str, Any]
    tree: STRtree = field(init=False)

    def __post_init__(self) -> None:
        self.tree = STRtree(self.geoms)

    def find(self, lon: float, lat: float) -> int | None:
        pt = Point(lon, lat)
        for idx in self.tree.query(pt, predicate="intersects"):
            return int(idx)
        return None


def _load_boundaries(path: Path, name: str, code: str, parent: str | None) -> Boundaries:
    data = json.loads(path.read_text(encoding="utf-8"))
    names, codes, parents, geoms = [], [], [], []
    for f in data["features"]:
        p = f["properties"]
        names.append(str(p[name]))
        codes.append(str(p[code]))
        parents.append(str(p[parent]) if parent else None)
        geoms.append(shape(f["geometry"]))
    return Boundaries(names, codes, parents, geoms, data)


@dataclass(frozen=True)
class Department:
    code: str
    zh: str
    en: str


class CityProfile:
    """A city described by its profile folder (city.toml plus boundary files)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        raw = tomllib.loads((folder / "city.toml").read_text(encoding="utf-8"))
        self.raw = raw
        self.id: str = raw["id"]
        self.name: dict[str, str] = raw["name"]
        self.timezone: str = raw["timezone"]
        self.languages: list[str] = raw["languages"]
        self.default_language: str = raw.get("default_language", self.languages[0])
        self.currency: str = raw["currency"]
        self.bounds: list[float] = raw["bounds"]
        self.center: list[float] = raw["center"]
        self.zoom: int = raw.get("zoom", 12)
        self.projected_crs: str = raw.get("projected_crs", "EPSG:3857")
        self.departments = [Department(d["code"], d["zh"], d["en"]) for d in raw["departments"]]

    @classmethod
    def load(cls, city: str) -> CityProfile:
        candidate = Path(city)
        if candidate.is_dir():
            return cls(candidate)
        folder = Path(str(resources.files("onecity.cities") / city))
        if not (folder / "city.toml").exists():
            raise ValueError(f"no city profile '{city}' (looked in {folder})")
        return cls(folder)

    @cached_property
    def districts(self) -> Boundaries:
        b = self.raw["boundaries"]["districts"]
        return _load_boundaries(self.folder / b["file"], b["name"], b["code"], None)

    @cached_property
    def district_names(self) -> dict[str, dict[str, str]]:
        """Each district's name per language, by its code: the boundary data's own name in the
        city's default language, and the profile's `[boundaries.district_names]` for others
        (`"<code>" = { en = "..." }`). An unknown code or language stops start-up, named."""
        b = self.districts
        out = {c: {self.default_language: n} for c, n in zip(b.codes, b.names, strict=True)}
        given = self.raw["boundaries"].get("district_names", {})
        for code, names in given.items():
            where = f"boundaries.district_names.{code}"
            if code not in out:
                raise ValueError(f"{where}: no district with that code in the boundary data")
            if not isinstance(names, dict) or not all(
                lang in self.languages and isinstance(n, str) and n.strip()
                for lang, n in names.items()
            ):
                raise ValueError(f'{where}: give {{ <language> = "name" }} for {self.languages}')
            out[code].update(names)
        return out

    def district_names_of(self, name: str | None) -> dict[str, str] | None:
        """A district's names per language, from its name in the boundary data (what a device
        stores) or its code."""
        if name is None:
            return None
        code = self._district_codes.get(name, name)
        return self.district_names.get(code)

    @cached_property
    def _district_codes(self) -> dict[str, str]:
        return dict(zip(self.districts.names, self.districts.codes, strict=True))

    @cached_property
    def districts_geojson(self) -> dict[str, Any]:
        """The district boundaries as served: each feature's properties also carry its `code`
        and its `names` per language."""
        b = self.districts
        features = [
            {**f, "properties": {**f["properties"], "code": c, "names": self.district_names[c]}}
            for f, c in zip(b.geojson["features"], b.codes, strict=True)
        ]
        return {**b.geojson, "features": features}

    @cached_property
    def villages(self) -> Boundaries:
        b = self.raw["boundaries"]["villages"]
        return _load_boundaries(self.folder / b["file"], b["name"], b["code"], b.get("parent"))

    @cached_property
    def _to_projected(self) -> Transformer:
        return Transformer.from_crs("EPSG:4326", self.projected_crs, always_xy=True)

    @cached_property
    def _from_projected(self) -> Transformer:
        return Transformer.from_crs(self.projected_crs, "EPSG:4326", always_xy=True)

    def to_projected(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._to_projected.transform(lon, lat)
        return float(x), float(y)

    def from_projected(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self._from_projected.transform(x, y)
        return float(lon), float(lat)

    def to_projected_many(self, lons: Any, lats: Any) -> tuple[Any, Any]:
        """Arrays (or sequences) of coordinates at once, as shapely.ops.transform hands them."""
        xs, ys = self._to_projected.transform(lons, lats)
        return xs, ys

    def from_projected_many(self, xs: Any, ys: Any) -> tuple[Any, Any]:
        lons, lats = self._from_projected.transform(xs, ys)
        return lons, lats

    def place(self, lon: float, lat: float) -> Place:
        d = self.districts.find(lon, lat)
        v = self.villages.find(lon, lat)
        return Place(
            self.districts.names[d] if d is not None else None,
            self.districts.codes[d] if d is not None else None,
            self.villages.names[v] if v is not None else None,
            self.villages.codes[v] if v is not None else None,
        )

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "timezone": self.timezone,
            "languages": self.languages,
            "default_language": self.default_language,
            "currency": self.currency,
            "bounds": self.bounds,
            "center": self.center,
            "zoom": self.zoom,
            "projected_crs": self.projected_crs,
            "departments": [{"code": d.code, "zh": d.zh, "en": d.en} for d in self.departments],
        }


def point_from_geojson(
    obj: dict[str, Any] | None, field_name: str = "location"
) -> tuple[float, float]:
    if obj is None or obj.get("type") != "Point":
        raise Invalid("expected a GeoJSON Point", field=field_name)
    coords = obj.get("coordinates")
    if not isinstance(coords, list) or len(coords) < 2:
        raise Invalid("a Point needs [longitude, latitude]", field=f"{field_name}.coordinates")
    if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords[:2]):
        raise Invalid(
            "coordinates must be numbers: [longitude, latitude] in WGS84 degrees",
            field=f"{field_name}.coordinates",
        )
    lon, lat = float(coords[0]), float(coords[1])
    if (
        not (math.isfinite(lon) and math.isfinite(lat))
        or not (-180 <= lon <= 180)
        or not (-90 <= lat <= 90)
    ):
        raise Invalid(
            "coordinates must be [longitude, latitude] in WGS84 degrees",
            field=f"{field_name}.coordinates",
        )
    return lon, lat


def geojson_point(lon: float | None, lat: float | None) -> dict[str, Any] | None:
    if lon is None or lat is None:
        return None
    return {"type": "Point", "coordinates": [lon, lat]}


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def bbox_around(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """A box holding every point within radius_m of (lon, lat), for a cheap index pre-filter."""
    delta = radius_m / EARTH_RADIUS_M
    dlat = math.degrees(delta)
    # The circle's widest point is not due east: its longitude offset is asin(sin d / cos lat),
    # a little more than d / cos lat. A circle reaching over a pole spans every longitude.
    reach = math.sin(min(delta, math.pi / 2)) / max(math.cos(math.radians(lat)), 1e-12)
    dlon = 180.0 if delta >= math.pi / 2 or reach >= 1 else math.degrees(math.asin(reach))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        w, s, e, n = (float(x) for x in raw.split(","))
    except ValueError:
        raise Invalid("bbox must be 'west,south,east,north' in degrees", field="bbox") from None
    if (
        not all(math.isfinite(v) for v in (w, s, e, n))
        or w > e
        or s > n
        or not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90)
    ):
        raise Invalid(
            "bbox must be 'west,south,east,north' with west<=east, south<=north", field="bbox"
        )
    return w, s, e, n
