"""Values a device cannot report are refused on HTTP and MQTT alike, with the key named,
nothing stored for them, and counted as rejected on the device's account."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from onecity.core.devices.mqtt import MqttIngester
from onecity.core.models import Reading
from onecity.core.platform import Platform
from tests.integration.core.test_mqtt import accounts, broker, mqtt_platform, wait_until
from tests.integration.core.test_telemetry import _delivery, _device
from tests.mqtt_broker import Broker, Publisher

__all__ = ["broker", "mqtt_platform"]  # fixtures used here


def _one(seq: int, values: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"seq": seq, "ts": int(time.time() * 1000), "values": values}]}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"fill": 1.5}, "fill"),
        ({"fill": -0.1}, "fill"),
        ({"fill": 0.5, "temperature": 1e308}, "temperature"),
        ({"battery": 2}, "battery"),
        ({"lid_open": 0.5}, "lid_open"),
        ({"anything_else": 1e300}, "anything_else"),
    ],
)
def test_impossible_values_are_refused_over_http(
    client: TestClient, admin: dict[str, str], values: dict[str, Any], field: str
) -> None:
    key = _device(client, admin)
    h = {"X-Device-Key": key}
    r = client.post("/api/v1/telemetry", headers=h, json=_one(1, values))
    assert r.status_code == 422, r.text
    err = r.json()
    assert (err["error"], err["field"]) == ("impossible_value", f"messages[0].values.{field}")
    d = _delivery(client, admin)
    assert (d["received"], d["readings"], d["rejected"]) == (0, 0, 1)
    ok = client.post("/api/v1/telemetry", headers=h, json=_one(1, {"fill": 1.0, "lid_open": True}))
    assert ok.status_code == 200 and ok.json()["accepted"] == 1


def test_other_device_types_are_bounded_too(client: TestClient, admin: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={"id": "dock-1", "name": "Dock", "type": "bike_dock", "department": "doit"},
    )
    assert r.status_code == 201, r.text
    key = client.post("/api/v1/devices/dock-1/keys", headers=admin, json={}).json()["key"]
    h = {"X-Device-Key": key}
    r = client.post("/api/v1/telemetry", headers=h, json=_one(1, {"bikes": 2.5}))
    assert r.status_code == 422 and r.json()["field"] == "messages[0].values.bikes", r.text
    r = client.post("/api/v1/telemetry", headers=h, json=_one(1, {"bikes": 3, "free_docks": 7}))
    assert r.status_code == 200, r.text


@pytest.mark.mqtt
def test_impossible_values_are_rejected_over_mqtt(
    mqtt_platform: Platform, broker: Broker, client: TestClient, admin: dict[str, str]
) -> None:
    p = mqtt_platform
    _device(client, admin)
    now = int(time.time() * 1000)

    def body(seq: int, values: dict[str, Any]) -> bytes:
        return json.dumps({"seq": seq, "ts": now + seq, "values": values}).encode()

    ing = MqttIngester(p, relay_events=False).start()
    try:
        pub = Publisher(broker)
        pub.send("bin-1", body(1, {"fill": 1.5}))
        pub.send("bin-1", body(2, {"fill": 0.5, "temperature": 1e308}))
        pub.send("bin-1", body(3, {"fill": 0.5, "temperature": 21.0}))
        pub.send("bin-1", b'{"seq": 4, "ts": %d, "values": {"fill": Infinity}}' % now)
        pub.close()
        wait_until(
            lambda: (
                "bin-1" in accounts(p)
                and (accounts(p)["bin-1"].received, accounts(p)["bin-1"].rejected) == (1, 3)
            ),
            30,
            lambda: f"accounts {accounts(p)}, stats {ing.stats}",
        )
    finally:
        ing.stop()
    with p.db.read() as s:
        stored = set(s.execute(select(Reading.seq, Reading.key, Reading.value)).tuples())
    assert stored == {(3, "fill", 0.5), (3, "temperature", 21.0)}
