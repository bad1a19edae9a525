"""iTrash compartments on the core's NGSI-LD read API as FIWARE WasteContainer entities, on
both databases: made from the stations' telemetry, normalized and keyValues, by id, near a
point, and only for staff who see the stations' department."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from onecity.core import clock
from onecity.core.platform import Platform
from tests.conftest import add_user, login
from tests.integration.waste.helpers import add_station

NGSI = "/ngsi-ld/v1/entities"
GARBAGE = "urn:ngsi-ld:WasteContainer:IT940-1:garbage"


def send(client: TestClient, key: dict[str, str], values: dict[str, float]) -> None:
    msg = {"seq": 1, "ts": clock.time_ms(), "values": values}
    r = client.post("/api/v1/telemetry", headers=key, json={"messages": [msg]})
    assert r.status_code == 200, r.text


def get(client: TestClient, who: dict[str, str], path: str, **params: Any) -> Any:
    r = client.get(path, headers=who, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_compartments_are_waste_containers(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    key = add_station(client, admin, "IT940-1")
    send(client, key, {"garbage.fill": 0.85, "garbage.weight_kg": 120.5, "garbage.temp_c": 6.5})

    got = get(client, admin, NGSI, type="WasteContainer")
    assert [e["id"] for e in got] == [
        GARBAGE,
        "urn:ngsi-ld:WasteContainer:IT940-1:recycling_can",
        "urn:ngsi-ld:WasteContainer:IT940-1:recycling_pet",
    ]
    garbage = got[0]
    assert garbage["type"] == "WasteContainer"
    assert garbage["fillingLevel"]["type"] == "Property"
    assert garbage["fillingLevel"]["value"] == 0.85
    assert garbage["cargoWeight"]["value"] == 120.5
    assert garbage["storedWasteKind"]["value"] == "other"
    assert garbage["location"]["value"]["coordinates"] == [121.5645, 25.0375]
    # Full at 0.85: the container says when a crew is due.
    assert "nextActuationDeadline" in garbage
    assert "fillingLevel" not in got[1]  # nothing reported for the cans yet

    flat = get(client, admin, f"{NGSI}/{GARBAGE}", options="keyValues")
    assert flat["fillingLevel"] == 0.85 and flat["status"] == "ok"
    assert flat["location"] == {"type": "Point", "coordinates": [121.5645, 25.0375]}

    near = get(
        client,
        admin,
        NGSI,
        type="WasteContainer",
        georel="near;maxDistance==200",
        geometry="Point",
        coordinates="[121.5650,25.0377]",
    )
    assert len(near) == 3
    far = get(
        client,
        admin,
        NGSI,
        type="WasteContainer",
        georel="near;maxDistance==200",
        geometry="Point",
        coordinates="[121.60,25.10]",
    )
    assert far == []
    # The stations stay Devices too; one type does not leak into the other.
    devices = get(client, admin, NGSI, type="Device")
    assert [e["id"] for e in devices] == ["urn:ngsi-ld:Device:IT940-1"]
    both = get(client, admin, NGSI, id=f"{GARBAGE},urn:ngsi-ld:Device:IT940-1")
    assert sorted(e["type"] for e in both) == ["Device", "WasteContainer"]


def test_unknown_containers_and_other_departments_are_not_found(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    add_station(client, admin, "IT940-1")
    for missing in (
        "urn:ngsi-ld:WasteContainer:IT940-1:glass",
        "urn:ngsi-ld:WasteContainer:NO-SUCH:garbage",
    ):
        r = client.get(f"{NGSI}/{missing}", headers=admin)
        assert r.status_code == 404, r.text
    add_user(platform, "police.one", "officer", "police")
    police = login(client, "police.one")
    assert get(client, police, NGSI, type="WasteContainer") == []
    assert client.get(f"{NGSI}/{GARBAGE}", headers=police).status_code == 404


def test_a_client_finds_full_containers_with_q_and_counts_them(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    send(client, add_station(client, admin, "IT940-1"), {"garbage.fill": 0.85})
    send(client, add_station(client, admin, "IT941-1"), {"garbage.fill": 0.30})
    full = get(client, admin, NGSI, type="WasteContainer", q="fillingLevel>=0.8")
    assert [e["id"] for e in full] == [GARBAGE]
    some = get(client, admin, NGSI, type="WasteContainer", q="fillingLevel==0.2..0.9")
    assert len(some) == 2
    r = client.get(
        NGSI,
        headers=admin,
        params={"type": "WasteContainer", "q": "fillingLevel<0.5", "limit": 0, "count": "true"},
    )
    assert r.status_code == 200 and r.json() == [] and r.headers["NGSILD-Results-Count"] == "1"
    # As JSON-LD each container carries its own contexts (Smart Data Models and the core);
    # as plain JSON none is in the body and the core context is in the Link header.
    ld = client.get(f"{NGSI}/{GARBAGE}", headers={**admin, "Accept": "application/ld+json"}).json()
    assert len(ld["@context"]) == 2
    assert "@context" not in get(client, admin, f"{NGSI}/{GARBAGE}")
