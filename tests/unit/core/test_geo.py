"""Geo without a database: TWD97 TM2 projection, district/village look-up, bbox parsing."""

from __future__ import annotations

import math
import re
import shutil
from importlib import resources
from pathlib import Path

import pytest

from onecity.core.errors import Invalid
from onecity.core.geo import CityProfile, bbox_around, haversine_m, parse_bbox, point_from_geojson

TAIPEI_101 = (121.5645, 25.0340)
CITY_HALL = (121.5645, 25.0375)


@pytest.fixture(scope="module")
def taipei() -> CityProfile:
    return CityProfile.load("taipei")


def _tm2_snyder(lon: float, lat: float) -> tuple[float, float]:
    """TWD97 TM2 (GRS80, central meridian 121°E, k0 0.9999, false easting 250 km) by
    Snyder's transverse Mercator series (USGS PP 1395, eqs. 8-9 to 8-10). Written out here so
    the platform's pyproj set-up is checked against an independent computation."""
    a, f = 6378137.0, 1 / 298.257222101
    k0, lon0, fe = 0.9999, math.radians(121.0), 250_000.0
    e2 = 2 * f - f * f
    ep2 = e2 / (1 - e2)
    phi, lam = math.radians(lat), math.radians(lon)
    n = a / math.sqrt(1 - e2 * math.sin(phi) ** 2)
    t = math.tan(phi) ** 2
    c = ep2 * math.cos(phi) ** 2
    aa = (lam - lon0) * math.cos(phi)
    m = a * (
        (1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256) * phi
        - (3 * e2 / 8 + 3 * e2**2 / 32 + 45 * e2**3 / 1024) * math.sin(2 * phi)
        + (15 * e2**2 / 256 + 45 * e2**3 / 1024) * math.sin(4 * phi)
        - (35 * e2**3 / 3072) * math.sin(6 * phi)
    )
    x = fe + k0 * n * (
        aa + (1 - t + c) * aa**3 / 6 + (5 - 18 * t + t * t + 72 * c - 58 * ep2) * aa**5 / 120
    )
    y = k0 * (
        m
        + n
        * math.tan(phi)
        * (
            aa**2 / 2
            + (5 - t + 9 * c + 4 * c * c) * aa**4 / 24
            + (61 - 58 * t + t * t + 600 * c - 330 * ep2) * aa**6 / 720
        )
    )
    return x, y


@pytest.mark.parametrize(
    "lon,lat",
    [TAIPEI_101, CITY_HALL, (121.5170, 25.0478), (121.4570, 24.9600), (121.6660, 25.2110)],
)
def test_wgs84_to_twd97_matches_independent_formula(
    taipei: CityProfile, lon: float, lat: float
) -> None:
    x, y = taipei.to_projected(lon, lat)
    ex, ey = _tm2_snyder(lon, lat)
    assert abs(x - ex) < 0.05 and abs(y - ey) < 0.05, ((x, y), (ex, ey))


def test_taipei_101_in_twd97_is_where_the_maps_put_it(taipei: CityProfile) -> None:
    x, y = taipei.to_projected(*TAIPEI_101)
    # Published TWD97 for the tower is about E 306 9xx, N 2 769 6xx.
    assert 306_500 < x < 307_500
    assert 2_769_200 < y < 2_770_200


def test_twd97_round_trip_is_centimetre_exact(taipei: CityProfile) -> None:
    for lon, lat in (TAIPEI_101, CITY_HALL, (121.50, 25.10)):
        x, y = taipei.to_projected(lon, lat)
        lon2, lat2 = taipei.from_projected(x, y)
        assert haversine_m(lon, lat, lon2, lat2) < 0.01


def test_district_and_village_on_known_points(taipei: CityProfile) -> None:
    hall = taipei.place(*CITY_HALL)
    assert hall.district == "信義區"
    assert hall.district_code == "6300200"
    assert hall.village == "西村里"
    assert hall.village_code is not None and hall.village_code.startswith(hall.district_code)
    # Taipei Main Station is in Zhongzheng, Beitou's Xinbeitou station in Beitou.
    assert taipei.place(121.5170, 25.0478).district == "中正區"
    assert taipei.place(121.5030, 25.1370).district == "北投區"


@pytest.mark.parametrize(
    "lon,lat",
    [(121.3000, 25.0000), (121.4650, 25.0120), (120.6850, 24.1370), (0.0, 0.0)],
)
def test_points_outside_taipei_have_no_district(
    taipei: CityProfile, lon: float, lat: float
) -> None:
    # Taoyuan, Banqiao (New Taipei), Taichung, the Gulf of Guinea.
    p = taipei.place(lon, lat)
    assert (p.district, p.district_code, p.village, p.village_code) == (None, None, None, None)


def test_parse_bbox_accepts_a_good_box() -> None:
    assert parse_bbox("121.5,25.0,121.6,25.1") == (121.5, 25.0, 121.6, 25.1)
    assert parse_bbox(" 121.5 , 25 ,121.6, 25.1") == (121.5, 25.0, 121.6, 25.1)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "121.5,25.0,121.6",
        "121.5,25.0,121.6,25.1,3",
        "a,b,c,d",
        "121.6,25.0,121.5,25.1",  # west > east
        "121.5,25.1,121.6,25.0",  # south > north
        "121.5,-91,121.6,25.1",
        "-181,25,121.6,25.1",
        "nan,25,121.6,25.1",
        "121.5,25,inf,25.1",
    ],
)
def test_parse_bbox_rejects_with_field(raw: str) -> None:
    with pytest.raises(Invalid) as e:
        parse_bbox(raw)
    assert e.value.field == "bbox"
    assert "west" in e.value.detail


@pytest.mark.parametrize(
    "obj,field",
    [
        (None, "location"),
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "location"),
        ({"type": "Point", "coordinates": [121.5]}, "location.coordinates"),
        ({"type": "Point", "coordinates": [25.03, 121.56]}, "location.coordinates"),  # swapped
        ({"type": "Point", "coordinates": [float("nan"), 25.0]}, "location.coordinates"),
    ],
)
def test_point_from_geojson_rejects(obj: dict[str, object] | None, field: str) -> None:
    with pytest.raises(Invalid) as e:
        point_from_geojson(obj)
    assert e.value.field == field


def _destination(lon: float, lat: float, bearing_deg: float, d_m: float) -> tuple[float, float]:
    d = d_m / 6_371_008.8
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(l2), math.degrees(p2)


@pytest.mark.parametrize("radius", [50.0, 500.0, 100_000.0, 1_000_000.0])
def test_bbox_around_holds_every_point_of_the_circle(radius: float) -> None:
    lon, lat = TAIPEI_101
    w, s, e, n = bbox_around(lon, lat, radius)
    eps = 1e-9  # degrees, about 0.1 mm: floating-point noise, not geometry
    for i in range(3600):
        plon, plat = _destination(lon, lat, i / 10, radius)
        assert haversine_m(lon, lat, plon, plat) == pytest.approx(radius, rel=1e-9)
        assert w - eps <= plon <= e + eps and s - eps <= plat <= n + eps, (
            i / 10,
            plon,
            plat,
            (w, s, e, n),
        )
    # ...and is not much bigger than it needs to be.
    assert haversine_m(lon, lat, lon, n) == pytest.approx(radius, rel=1e-9)
    assert haversine_m(lon, lat, e, lat) < radius * 1.01


def test_taipei_districts_are_named_in_both_languages(taipei: CityProfile) -> None:
    names = taipei.district_names
    assert len(names) == 12 and all(set(n) == {"zh-TW", "en"} for n in names.values())
    assert names["6300200"] == {"zh-TW": "信義區", "en": "Xinyi"}
    assert taipei.district_names_of("大安區") == {"zh-TW": "大安區", "en": "Da'an"}
    assert taipei.district_names_of("6301200") == {"zh-TW": "北投區", "en": "Beitou"}
    assert taipei.district_names_of(None) is None and taipei.district_names_of("板橋區") is None
    served = {
        f["properties"]["TNAME"]: f["properties"] for f in taipei.districts_geojson["features"]
    }
    assert served["中正區"]["names"]["en"] == "Zhongzheng" and served["中正區"]["code"] == "6300500"
    # the boundary data itself is left as it was read
    assert "names" not in taipei.districts.geojson["features"][0]["properties"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('"9999999" = { en = "Nowhere" }', "boundaries.district_names.9999999"),
        ('"6300200" = { fr = "Xinyi" }', "boundaries.district_names.6300200"),
        ('"6300200" = { en = "" }', "boundaries.district_names.6300200"),
    ],
)
def test_a_wrong_district_name_stops_the_profile_naming_its_key(
    tmp_path: Path, extra: str, named: str
) -> None:
    src = Path(str(resources.files("onecity.cities") / "taipei"))
    for f in src.iterdir():
        shutil.copy(f, tmp_path / f.name)
    toml = (tmp_path / "city.toml").read_text(encoding="utf-8")
    (tmp_path / "city.toml").write_text(
        toml.replace('"6300200" = { en = "Xinyi" }', extra), encoding="utf-8"
    )
    with pytest.raises(ValueError, match=re.escape(named)):
        _ = CityProfile.load(str(tmp_path)).district_names
