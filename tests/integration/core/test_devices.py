"""The device registry over HTTP: GeoJSON in and out, districts, bbox, paging, refusals."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from onecity.core.auth.permissions import Principal, Role
from onecity.core.devices.schemas import DeviceIn
from onecity.core.errors import AppError
from onecity.core.platform import Platform

TAIPEI_101 = [121.5645, 25.0340]


def _body(device_id: str = "bin-1", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": device_id,
        "name": "Bin",
        "type": "litter_bin",
        "department": "epb",
        "location": {"type": "Point", "coordinates": TAIPEI_101},
    }
    body.update(over)
    return body


def _error(r: Any, status: int, field: str | None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()
    assert set(err) == {"error", "detail", "field"}
    assert isinstance(err["error"], str) and isinstance(err["detail"], str) and err["detail"]
    assert err["field"] == field, err
    return err


def test_register_looks_up_the_district(client: TestClient, admin: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/devices", headers=admin, json=_body(metadata={"capacity_l": 120}, heartbeat_s=60)
    )
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["district"] == "信義區"
    assert d["district_names"] == {"zh-TW": "信義區", "en": "Xinyi"}
    assert d["location"] == {"type": "Point", "coordinates": TAIPEI_101}
    assert (d["status"], d["connectivity"], d["heartbeat_s"]) == ("active", "unknown", 60)
    got = client.get("/api/v1/devices/bin-1", headers=admin).json()
    assert got["district"] == "信義區" and got["metadata"] == {"capacity_l": 120}
    assert got["delivery"]["received"] == 0 and got["latest"] == {}
    # Outside Taipei (Banqiao, New Taipei) is allowed, but there is no Taipei district.
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json=_body("bin-2", location={"type": "Point", "coordinates": [121.4650, 25.0120]}),
    )
    assert r.status_code == 201 and r.json()["district"] is None
    # No location at all is fine too.
    r = client.post("/api/v1/devices", headers=admin, json=_body("bin-3", location=None))
    assert r.status_code == 201 and r.json()["location"] is None


def test_patch_moves_and_renames(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/api/v1/devices", headers=admin, json=_body())
    r = client.patch(
        "/api/v1/devices/bin-1",
        headers=admin,
        json={"location": {"type": "Point", "coordinates": [121.5170, 25.0478]}, "name": "Moved"},
    )
    assert r.status_code == 200
    assert (r.json()["district"], r.json()["name"]) == ("中正區", "Moved")
    r = client.patch("/api/v1/devices/bin-1", headers=admin, json={"status": "maintenance"})
    assert r.json()["status"] == "maintenance" and r.json()["name"] == "Moved"
    r = client.patch("/api/v1/devices/bin-1", headers=admin, json={"location": None})
    assert r.json()["location"] is None and r.json()["district"] is None
    _error(
        client.patch("/api/v1/devices/bin-1", headers=admin, json={"status": "gone"}), 422, "status"
    )
    _error(client.patch("/api/v1/devices/bin-1", headers=admin, json={"owner": "me"}), 422, "owner")
    _error(client.patch("/api/v1/devices/nope", headers=admin, json={}), 404, None)


def test_bbox_filters(client: TestClient, admin: dict[str, str]) -> None:
    grid = {f"g-{i}-{j}": [121.50 + i * 0.01, 25.00 + j * 0.01] for i in range(5) for j in range(5)}
    for dev_id, coords in grid.items():
        assert (
            client.post(
                "/api/v1/devices",
                headers=admin,
                json=_body(dev_id, location={"type": "Point", "coordinates": coords}),
            ).status_code
            == 201
        )
    client.post("/api/v1/devices", headers=admin, json=_body("nowhere", location=None))
    r = client.get(
        "/api/v1/devices", headers=admin, params={"bbox": "121.505,25.005,121.525,25.035"}
    )
    got = sorted(d["id"] for d in r.json()["items"])
    want = sorted(
        k for k, (x, y) in grid.items() if 121.505 <= x <= 121.525 and 25.005 <= y <= 25.035
    )
    assert got == want and len(want) == 6
    assert r.json()["total"] == 6
    everything = client.get(
        "/api/v1/devices", headers=admin, params={"bbox": "121,24,122,26"}
    ).json()
    assert everything["total"] == 25  # the device without a location is not in any box


@pytest.mark.parametrize(
    "bbox",
    [
        "1,2,3",
        "a,b,c,d",
        "121.6,25,121.5,25.1",
        "121.5,25.1,121.6,25.0",
        "0,-100,1,1",
        "nan,1,2,3",
        "",
    ],
)
def test_bad_bbox_is_422(client: TestClient, admin: dict[str, str], bbox: str) -> None:
    r = client.get("/api/v1/devices", headers=admin, params={"bbox": bbox})
    if bbox == "":
        assert r.status_code == 200  # empty means no filter
    else:
        _error(r, 422, "bbox")


def test_cursor_paging_returns_every_device_once(client: TestClient, admin: dict[str, str]) -> None:
    ids = [
        "A-1",
        "a-1",
        "a.2",
        "a:3",
        "a_4",
        "b",
        "B9",
        "z",
        "Z",
        "0",
        "9-9",
        "bin-10",
        "bin-2",
        "bin-100",
        "x.y.z",
        "m",
        "M",
        "n-1",
        "n-10",
        "n-2",
        "q",
        "r",
        "s",
    ]
    for dev_id in ids:
        assert client.post("/api/v1/devices", headers=admin, json=_body(dev_id)).status_code == 201
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/devices", headers=admin, params=params).json()
        if pages == 0:
            assert page["total"] == len(ids)
        assert len(page["items"]) <= 4
        seen += [d["id"] for d in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 20
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert pages == 6
    _error(client.get("/api/v1/devices", headers=admin, params={"limit": 0}), 422, "limit")
    _error(client.get("/api/v1/devices", headers=admin, params={"limit": 1001}), 422, "limit")


def test_type_and_department_filters(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/api/v1/devices", headers=admin, json=_body("bin-1"))
    client.post(
        "/api/v1/devices", headers=admin, json=_body("cam-1", type="camera", department="police")
    )
    r = client.get("/api/v1/devices", headers=admin, params={"type": "camera"}).json()
    assert [d["id"] for d in r["items"]] == ["cam-1"]
    r = client.get("/api/v1/devices", headers=admin, params={"department": "epb"}).json()
    assert [d["id"] for d in r["items"]] == ["bin-1"]
    r = client.get("/api/v1/devices", headers=admin, params={"connectivity": "offline"}).json()
    assert r["items"] == []
    _error(
        client.get("/api/v1/devices", headers=admin, params={"connectivity": "asleep"}),
        422,
        "connectivity",
    )


def test_duplicate_and_unknown_department(client: TestClient, admin: dict[str, str]) -> None:
    assert client.post("/api/v1/devices", headers=admin, json=_body()).status_code == 201
    err = _error(client.post("/api/v1/devices", headers=admin, json=_body(name="again")), 409, "id")
    assert "bin-1" in err["detail"]
    assert client.get("/api/v1/devices/bin-1", headers=admin).json()["name"] == "Bin"
    _error(
        client.post("/api/v1/devices", headers=admin, json=_body("bin-2", department="nasa")),
        422,
        "department",
    )
    assert client.get("/api/v1/devices/bin-2", headers=admin).status_code == 404


@pytest.mark.parametrize(
    "location,field",
    [
        ({"type": "Point", "coordinates": [200, 25]}, "location.coordinates"),
        ({"type": "Point", "coordinates": [121.5, 95]}, "location.coordinates"),
        ({"type": "Point", "coordinates": [25.03, 121.56]}, "location.coordinates"),  # lat,lon
        ({"type": "Point", "coordinates": [121.5]}, "location.coordinates"),
        ({"type": "Point", "coordinates": [121.5, 25, 3, 4]}, "location.coordinates"),
        ({"type": "Point", "coordinates": ["east", 25]}, "location.coordinates[0]"),
        ({"type": "LineString", "coordinates": [121.5, 25]}, "location.type"),
        ({"coordinates": [121.5, 25]}, "location.type"),
        ({"type": "Point", "coordinates": [121.5, 25], "crs": "x"}, "location.crs"),
        ("121.5,25", "location"),
    ],
)
def test_bad_coordinates_are_422(
    client: TestClient, admin: dict[str, str], location: Any, field: str
) -> None:
    _error(client.post("/api/v1/devices", headers=admin, json=_body(location=location)), 422, field)
    assert client.get("/api/v1/devices/bin-1", headers=admin).status_code == 404


def test_non_finite_coordinates_are_422(client: TestClient, admin: dict[str, str]) -> None:
    raw = (
        b'{"id": "bin-1", "name": "b", "type": "litter_bin", "department": "epb", '
        b'"location": {"type": "Point", "coordinates": [NaN, 25.0]}}'
    )
    r = client.post(
        "/api/v1/devices", headers={**admin, "content-type": "application/json"}, content=raw
    )
    _error(r, 422, "location.coordinates[0]")


@pytest.mark.parametrize(
    "over,field",
    [
        ({"id": "-starts-with-dash"}, "id"),
        ({"id": "has space"}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"type": "Litter Bin"}, "type"),
        ({"name": ""}, "name"),
        ({"heartbeat_s": 1}, "heartbeat_s"),
        ({"colour": "green"}, "colour"),
    ],
)
def test_bad_fields_are_422_and_named(
    client: TestClient, admin: dict[str, str], over: dict[str, Any], field: str
) -> None:
    _error(client.post("/api/v1/devices", headers=admin, json=_body(**over)), 422, field)


def test_missing_device_and_malformed_json(client: TestClient, admin: dict[str, str]) -> None:
    _error(client.get("/api/v1/devices/nope", headers=admin), 404, None)
    r = client.post(
        "/api/v1/devices", headers={**admin, "content-type": "application/json"}, content=b'{"id": '
    )
    assert _error(r, 400, None)["error"] == "malformed_json"


def test_racing_registrations_of_one_id_give_one_device_and_one_409(platform: Platform) -> None:
    who = Principal(0, "root.admin", Role.ADMIN, "doit")
    body = DeviceIn.model_validate(_body())
    start = threading.Barrier(4)
    outcomes: list[object] = []

    def register() -> None:
        start.wait()
        try:
            platform.devices.register(who, body)
            outcomes.append(201)
        except AppError as e:
            outcomes.append(e.status)
        except Exception as e:  # reported by the assertion below
            outcomes.append(type(e).__name__)

    ts = [threading.Thread(target=register) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(outcomes, key=str) == [201, 409, 409, 409]


def test_keys_issue_list_revoke(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/api/v1/devices", headers=admin, json=_body())
    k = client.post("/api/v1/devices/bin-1/keys", headers=admin, json={"label": "gateway"})
    assert k.status_code == 201
    key_id, full = k.json()["key_id"], k.json()["key"]
    assert full.startswith(f"ock_{key_id}_")
    listed = client.get("/api/v1/devices/bin-1/keys", headers=admin).json()
    assert [(x["key_id"], x["label"], x["revoked_at"]) for x in listed] == [
        (key_id, "gateway", None)
    ]
    assert full not in str(listed)  # the secret is shown once, at issue
    assert client.delete(f"/api/v1/devices/bin-1/keys/{key_id}", headers=admin).status_code == 204
    again = client.delete(f"/api/v1/devices/bin-1/keys/{key_id}", headers=admin)
    _error(again, 409, None)
    _error(client.delete("/api/v1/devices/bin-1/keys/0000000000000000", headers=admin), 404, None)
    client.post("/api/v1/devices", headers=admin, json=_body("bin-2"))
    # A key is only reachable through its own device.
    _error(client.delete(f"/api/v1/devices/bin-2/keys/{key_id}", headers=admin), 404, None)


def test_racing_revokes_of_one_key_give_one_revocation(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    client.post("/api/v1/devices", headers=admin, json=_body())
    key_id = client.post("/api/v1/devices/bin-1/keys", headers=admin).json()["key_id"]
    who = Principal(0, "root.admin", Role.ADMIN, "doit")
    start = threading.Barrier(4)
    outcomes: list[object] = []

    def revoke() -> None:
        start.wait()
        try:
            platform.devices.revoke_key(who, "bin-1", key_id)
            outcomes.append(204)
        except AppError as e:
            outcomes.append(e.status)

    ts = [threading.Thread(target=revoke) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(outcomes) == [204, 409, 409, 409]
    rows = client.get("/api/v1/audit", headers=admin).json()
    assert [r["action"] for r in rows].count("device.key_revoke") == 1


def test_register_with_twd97_and_read_it_back(client: TestClient, admin: dict[str, str]) -> None:
    # Taipei City Hall surveyed in TWD97 TM2 (EPSG:3826), as a Taiwanese agency would give it.
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": "cityhall-1",
            "name": "City Hall sensor",
            "type": "air",
            "department": "doit",
            "location_projected": {"x": 306770.0, "y": 2770080.0},
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    lon, lat = body["location"]["coordinates"]
    assert abs(lon - 121.5645) < 0.003 and abs(lat - 25.0375) < 0.003
    assert body["district"] == "信義區"
    got = client.get("/api/v1/devices/cityhall-1", headers=admin).json()["location_projected"]
    assert got["crs"] == "EPSG:3826"
    assert abs(got["x"] - 306770.0) < 0.01 and abs(got["y"] - 2770080.0) < 0.01


def test_twd97_far_from_the_city_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": "lost-1",
            "name": "x",
            "type": "air",
            "department": "doit",
            "location_projected": {"x": 121.56, "y": 25.03},
        },
    )  # degrees sent as metres
    assert r.status_code == 422 and r.json()["field"] == "location_projected"
    assert client.get("/api/v1/devices/lost-1", headers=admin).status_code == 404


def test_contractor_sees_the_device_but_not_its_telemetry(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    from tests.conftest import add_user, login

    client.post(
        "/api/v1/devices",
        headers=admin,
        json={"id": "pipe-1", "name": "strain gauge", "type": "strain", "department": "pwd"},
    )
    key = client.post("/api/v1/devices/pipe-1/keys", headers=admin).json()["key"]
    import time as _t

    client.post(
        "/api/v1/telemetry",
        headers={"X-Device-Key": key},
        json={"messages": [{"seq": 1, "ts": int(_t.time() * 1000), "values": {"strain": 812.5}}]},
    )
    assert client.get("/api/v1/devices/pipe-1", headers=admin).json()["latest"]["strain"]
    add_user(platform, "pwd.contractor1", "contractor", "pwd")
    h = login(client, "pwd.contractor1")
    r = client.get("/api/v1/devices/pipe-1", headers=h)
    assert r.status_code == 200 and r.json()["latest"] == {}
    assert (
        client.get(
            "/api/v1/devices/pipe-1/telemetry", headers=h, params={"key": "strain"}
        ).status_code
        == 403
    )


def test_export_with_a_non_ascii_key_is_refused_not_a_crash(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.post(
        "/api/v1/devices",
        headers=admin,
        json={"id": "t-1", "name": "t", "type": "air", "department": "doit"},
    )
    r = client.get("/api/v1/devices/t-1/telemetry.csv", headers=admin, params={"key": "溫度"})
    assert r.status_code == 422 and r.json()["field"] == "key"
