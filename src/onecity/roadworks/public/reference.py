"""Something to draw against where the city has no map tiles: the lines of its village
boundaries (in a city of blocks they mostly run down the middle of streets) and, in the demo
city, the fire department's list of narrow alleys by name (demo_data/nar_alley.geojson, see
SOURCES.md). Both are open data; neither is a street map, and the page says so."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry

from onecity.core.errors import Invalid
from onecity.core.geo import CityProfile

ALLEYS = Path(__file__).parents[1] / "demo_data" / "nar_alley.geojson"
MAX_SPAN_DEG = 0.06  # about 6 km: a street-level view, not the whole city


class Reference:
    def __init__(self, city: CityProfile, alleys: Path = ALLEYS) -> None:
        self.city = city
        self.alleys_path = alleys

    @cached_property
    def _alleys(self) -> list[dict[str, Any]]:
        if not self.alleys_path.exists():
            return []
        out = []
        for f in json.loads(self.alleys_path.read_text("utf-8"))["features"]:
            p = f["properties"]
            lon, lat = f["geometry"]["coordinates"][:2]
            props = {"kind": "alley", "name": p.get("巷道名稱"), "width_m": p.get("寬度(公尺)")}
            out.append({"type": "Feature", "geometry": f["geometry"], "properties": props})
            out[-1]["_xy"] = (float(lon), float(lat))
        return out

    def features(self, bbox: tuple[float, float, float, float]) -> dict[str, Any]:
        west, south, east, north = bbox
        if east - west > MAX_SPAN_DEG or north - south > MAX_SPAN_DEG:
            raise Invalid(
                f"the box spans more than {MAX_SPAN_DEG}°: zoom in to see streets",
                field="bbox",
                code="too_wide",
            )
        area = box(west, south, east, north)
        villages = self.city.villages
        features: list[dict[str, Any]] = []
        for i in villages.tree.query(area, predicate="intersects"):
            edge: BaseGeometry = villages.geoms[int(i)].boundary.intersection(area)
            if edge.is_empty:
                continue
            features.append(
                {
                    "type": "Feature",
                    "geometry": mapping(edge.simplify(0.00001)),
                    "properties": {"kind": "village", "name": villages.names[int(i)]},
                }
            )
        for a in self._alleys:
            x, y = a["_xy"]
            if west <= x <= east and south <= y <= north:
                features.append({k: v for k, v in a.items() if k != "_xy"})
        return {"type": "FeatureCollection", "features": features}
