"""NGSI-LD geo-query parameters: whatever a client sends is a query or a clear 4xx."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onecity.core import ngsi_geo
from onecity.core.errors import AppError

GEOMETRIES = ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"]


@given(
    st.sampled_from(["within", "intersects", "disjoint", "near;maxDistance==10", "contains"]),
    st.sampled_from([*GEOMETRIES, "Circle"]),
    st.text(alphabet="[],0123456789.-eE ", max_size=80),
)
@settings(max_examples=1500, deadline=None)
def test_any_geometry_is_parsed_or_refused_with_a_4xx(
    georel: str, geometry: str, coordinates: str
) -> None:
    try:
        ngsi_geo.parse(georel, geometry, coordinates, None)
    except AppError as e:
        assert 400 <= e.status < 500


@pytest.mark.parametrize(
    "geometry,coordinates",
    [("LineString", "[[121.5,25]]"), ("MultiLineString", "[[[1,2]]]"), ("Point", "[[1,2]]")],
)
def test_geometries_shapely_refuses_are_400(geometry: str, coordinates: str) -> None:
    with pytest.raises(AppError) as e:  # a one-point line was once a GEOSException (a 500)
        ngsi_geo.parse("intersects", geometry, coordinates, None)
    assert e.value.status == 400 and e.value.field == "coordinates"
