"""The read-only NGSI-LD view of devices, as a FIWARE tool would query it."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from tests.conftest import add_user, login

TAIPEI_101 = (121.5645, 25.0340)
URN = "urn:ngsi-ld:Device:"
CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"


def _offset(lon: float, lat: float, bearing_deg: float, d_m: float) -> tuple[float, float]:
    """The point d_m metres from (lon, lat) on a bearing, on a sphere of mean Earth radius."""
    d = d_m / 6_371_008.8
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return round(math.degrees(l2), 9), round(math.degrees(p2), 9)


# Name -> (metres from Taipei 101, bearing). 495 and 505 sit either side of a 500 m radius.
RING = {
    "d-120": (120, 10),
    "d-300": (300, 200),
    "d-495": (495, 90),
    "d-505": (505, 45),
    "d-050": (50, 300),
    "d-2000": (2000, 180),
    "d-480": (480, 0),
}


def _register(
    client: TestClient,
    admin: dict[str, str],
    device_id: str,
    coords: tuple[float, float] | None,
    dept: str = "epb",
) -> None:
    body: dict[str, Any] = {
        "id": device_id,
        "name": f"Sensor {device_id}",
        "type": "air_quality",
        "department": dept,
    }
    if coords:
        body["location"] = {"type": "Point", "coordinates": list(coords)}
    r = client.post("/api/v1/devices", headers=admin, json=body)
    assert r.status_code == 201, r.text


@pytest.fixture
def ring(client: TestClient, admin: dict[str, str]) -> dict[str, tuple[float, float]]:
    where = {k: _offset(*TAIPEI_101, b, d) for k, (d, b) in RING.items()}
    for k, c in where.items():
        _register(client, admin, k, c)
    _register(client, admin, "no-location", None)
    return where


def _get(client: TestClient, h: dict[str, str], **params: Any) -> Any:
    r = client.get("/ngsi-ld/v1/entities", headers=h, params=params)
    assert r.status_code == 200, r.text
    assert (
        CONTEXT in r.headers["link"]
        and 'rel="http://www.w3.org/ns/json-ld#context"' in r.headers["link"]
    )
    return r.json()


def test_normalized_form(
    client: TestClient, admin: dict[str, str], ring: dict[str, tuple[float, float]]
) -> None:
    out = _get(client, admin, type="Device", limit=100)
    assert [e["id"] for e in out] == sorted(URN + k for k in [*RING, "no-location"])
    e = next(x for x in out if x["id"] == URN + "d-120")
    assert e["type"] == "Device"
    assert e["location"] == {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": list(ring["d-120"])},
    }
    assert e["name"] == {"type": "Property", "value": "Sensor d-120"}
    assert e["deviceCategory"] == {"type": "Property", "value": ["air_quality"]}
    assert e["owner"] == {"type": "Property", "value": ["epb"]}
    assert e["address"] == {"type": "Property", "value": {"addressLocality": "信義區"}}
    assert e["deviceState"] == {"type": "Property", "value": "unknown"}
    for k, v in e.items():
        if k not in ("id", "type"):
            assert v["type"] in ("Property", "GeoProperty"), k
    no_loc = next(x for x in out if x["id"] == URN + "no-location")
    assert "location" not in no_loc and "address" not in no_loc


def test_key_values_form(
    client: TestClient, admin: dict[str, str], ring: dict[str, tuple[float, float]]
) -> None:
    out = _get(client, admin, type="Device", options="keyValues", id=URN + "d-300")
    assert out == [
        {
            "id": URN + "d-300",
            "type": "Device",
            "location": {"type": "Point", "coordinates": list(ring["d-300"])},
            "name": "Sensor d-300",
            "deviceCategory": ["air_quality"],
            "owner": ["epb"],
            "deviceState": "unknown",
            "status": "active",
            "address": {"addressLocality": "信義區"},
        }
    ]


def test_id_and_type_filters(
    client: TestClient, admin: dict[str, str], ring: dict[str, tuple[float, float]]
) -> None:
    ids = [URN + "d-120", URN + "d-2000", URN + "missing"]
    assert sorted(e["id"] for e in _get(client, admin, id=",".join(ids))) == sorted(ids[:2])
    # An id that is not a Device URN matches nothing but does not hide the others.
    got = _get(client, admin, id=f"urn:ngsi-ld:Building:1,{URN}d-120")
    assert [e["id"] for e in got] == [URN + "d-120"]
    assert _get(client, admin, type="Building") == []
    assert len(_get(client, admin, type="Building,Device", limit=100)) == len(RING) + 1
    page1 = _get(client, admin, type="Device", limit=3)
    page2 = _get(client, admin, type="Device", limit=3, offset=3)
    assert len(page1) == 3 and {e["id"] for e in page1}.isdisjoint({e["id"] for e in page2})


def test_near_returns_only_devices_within_range_nearest_first(
    client: TestClient, admin: dict[str, str], ring: dict[str, tuple[float, float]]
) -> None:
    out = _get(
        client,
        admin,
        type="Device",
        georel="near;maxDistance==500",
        geometry="Point",
        coordinates=f"[{TAIPEI_101[0]},{TAIPEI_101[1]}]",
    )
    assert [e["id"] for e in out] == [
        URN + k for k in ("d-050", "d-120", "d-300", "d-480", "d-495")
    ]
    wider = _get(
        client,
        admin,
        type="Device",
        georel="near;maxDistance==2100.5",
        geometry="Point",
        coordinates="[121.5645, 25.0340]",
        options="keyValues",
    )
    assert [e["id"] for e in wider][-2:] == [URN + "d-505", URN + "d-2000"]
    assert len(wider) == len(RING)
    tiny = _get(
        client,
        admin,
        type="Device",
        georel="near;maxDistance==10",
        geometry="Point",
        coordinates="[121.5645,25.0340]",
    )
    assert tiny == []
    paged = _get(
        client,
        admin,
        type="Device",
        georel="near;maxDistance==500",
        geometry="Point",
        coordinates="[121.5645,25.0340]",
        limit=2,
        offset=1,
    )
    assert [e["id"] for e in paged] == [URN + "d-120", URN + "d-300"]


@pytest.mark.parametrize(
    "params,field",
    [
        ({}, "type"),
        ({"georel": "beside", "geometry": "Point", "coordinates": "[121.5,25]"}, "georel"),
        (
            {"georel": "near;maxDistance==500", "geometry": "Polygon", "coordinates": "[121.5,25]"},
            "georel",
        ),
        ({"georel": "near;maxDistance==500", "geometry": "Point"}, "coordinates"),
        (
            {"georel": "near;maxDistance==-5", "geometry": "Point", "coordinates": "[121.5,25]"},
            "georel",
        ),
        (
            {"georel": "near;maxDistance==500", "geometry": "Point", "coordinates": "121.5,25"},
            "coordinates",
        ),
        (
            {"georel": "near;maxDistance==500", "geometry": "Point", "coordinates": "[121.5]"},
            "coordinates",
        ),
        (
            {"georel": "near;maxDistance==500", "geometry": "Point", "coordinates": "[[1],[2]]"},
            "coordinates",
        ),
        (
            {"georel": "near;maxDistance==500", "geometry": "Point", "coordinates": "[200,25]"},
            "coordinates",
        ),
        (
            {"georel": "near;maxDistance==500", "geometry": "Point", "coordinates": "[NaN,25]"},
            "coordinates",
        ),
    ],
)
def test_bad_queries_are_400_bad_request_data(
    client: TestClient, admin: dict[str, str], params: dict[str, str], field: str
) -> None:
    r = client.get("/ngsi-ld/v1/entities", headers=admin, params=params)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "BadRequestData" and r.json()["field"] == field
    # A ProblemDetails body (the NGSI-LD error type) that keeps the platform's error and field.
    assert r.headers["content-type"] == "application/problem+json"
    assert set(r.json()) == {"type", "title", "status", "detail", "error", "field"}
    assert r.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def test_get_one_entity(
    client: TestClient, admin: dict[str, str], ring: dict[str, tuple[float, float]]
) -> None:
    r = client.get(f"/ngsi-ld/v1/entities/{URN}d-120", headers=admin)
    assert r.status_code == 200 and CONTEXT in r.headers["link"]
    assert r.json()["id"] == URN + "d-120"
    assert r.json()["location"]["type"] == "GeoProperty"
    kv = client.get(
        f"/ngsi-ld/v1/entities/{URN}d-120", headers=admin, params={"options": "keyValues"}
    ).json()
    assert kv["location"] == {"type": "Point", "coordinates": list(ring["d-120"])}
    for missing in (f"{URN}nope", "urn:ngsi-ld:Building:d-120", "d-120"):
        r = client.get(f"/ngsi-ld/v1/entities/{missing}", headers=admin)
        assert r.status_code == 404, missing
        assert r.json()["error"] == "ResourceNotFound"


def test_other_departments_are_invisible(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    _register(client, admin, "epb-1", TAIPEI_101)
    _register(client, admin, "pol-1", _offset(*TAIPEI_101, 0, 10), dept="police")
    add_user(platform, "epb.crew", "crew", "epb")
    crew = login(client, "epb.crew")
    near = _get(
        client,
        crew,
        georel="near;maxDistance==100",
        geometry="Point",
        coordinates="[121.5645,25.0340]",
    )
    assert [e["id"] for e in near] == [URN + "epb-1"]
    assert _get(client, crew, id=URN + "pol-1") == []
    assert client.get(f"/ngsi-ld/v1/entities/{URN}pol-1", headers=crew).status_code == 404
