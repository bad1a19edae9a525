"""Devices that restart and count from 1 again: their readings are stored, not taken for
duplicates; a true retry (same message) still is one; one absurd sequence number cannot
poison the delivery account; refused messages are counted on it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from onecity.core.devices.ingest import Msg
from onecity.core.devices.mqtt import MqttIngester
from onecity.core.devices.retention import purge
from onecity.core.devices.service import delivery_out
from onecity.core.devices.store import RECENT_EPOCHS
from onecity.core.models import DeliveryAccount, DeliveryEpoch, Device, Reading
from onecity.core.platform import Platform
from tests.integration.core.test_mqtt import accounts, broker, mqtt_platform, wait_until
from tests.integration.core.test_telemetry import _delivery, _device
from tests.mqtt_broker import Broker, Publisher

__all__ = ["broker", "mqtt_platform"]  # fixtures used here

NOW = int(time.time() * 1000) - 600_000


def _batch(seqs: list[int], at: int, fill: float = 0.5, **extra: Any) -> dict[str, Any]:
    msgs = [{"seq": s, "ts": at + s % 1000, "values": {"fill": fill}, **extra} for s in seqs]
    return {"messages": msgs}


def _post(client: TestClient, key: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/telemetry", headers={"X-Device-Key": key}, json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_a_reboot_that_reuses_sequence_numbers_is_stored(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _device(client, admin)
    assert _post(client, key, _batch([1, 2, 3], NOW, 0.2))["accepted"] == 3
    # Rebooted a minute later, counting from 1 again (before: 0 accepted, 2 duplicates).
    after = _post(client, key, _batch([1, 2], NOW + 60_000, 0.3))
    assert (after["accepted"], after["duplicates"], after["restarts"]) == (2, 0, 1)
    d = _delivery(client, admin)
    assert (d["received"], d["duplicates"], d["gaps"], d["restarts"]) == (5, 0, 0, 1)
    assert (d["first_seq"], d["last_seq"]) == (1, 2)  # the current boot's
    # Retries of either boot's batch are duplicates, stored once.
    again = _post(client, key, _batch([1, 2], NOW + 60_000, 0.3))
    assert (again["accepted"], again["duplicates"], again["restarts"]) == (0, 2, 0)
    old = _post(client, key, _batch([2, 3], NOW, 0.2))
    assert (old["accepted"], old["duplicates"]) == (0, 2)
    # The new boot goes on where it left off; gaps are counted per boot.
    assert _post(client, key, _batch([3, 5], NOW + 60_000, 0.3))["accepted"] == 2
    d = _delivery(client, admin)
    assert (d["received"], d["duplicates"], d["gaps"], d["restarts"]) == (7, 4, 1, 1)
    assert d["readings"] == 7
    series = client.get(
        "/api/v1/devices/bin-1/telemetry",
        headers=admin,
        params={"key": "fill", "from": "2020-01-01T00:00:00Z"},
    ).json()["points"]
    assert [p["value"] for p in series] == [0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3]


def test_explicit_boot_numbers_keep_interleaved_epochs_apart(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _device(client, admin)
    # Boot 7's messages and, after a reboot, boot 8's, arriving interleaved (a store-and-
    # forward device flushing two queues); same seqs, even the same times and values.
    body = {
        "messages": [
            {"boot": 7, "seq": 1, "ts": NOW, "values": {"fill": 0.1}},
            {"boot": 8, "seq": 1, "ts": NOW, "values": {"fill": 0.1}},
            {"boot": 7, "seq": 2, "ts": NOW + 1, "values": {"fill": 0.1}},
            {"boot": 8, "seq": 3, "ts": NOW + 2, "values": {"fill": 0.1}},
        ]
    }
    out = _post(client, key, body)
    assert (out["accepted"], out["duplicates"], out["restarts"], out["conflicts"]) == (4, 0, 1, 0)
    # A batch-level boot applies to messages that do not name their own.
    late = _post(client, key, {"boot": 7, **_batch([3], NOW)})
    assert (late["accepted"], late["restarts"]) == (1, 0)
    assert _post(client, key, body)["duplicates"] == 4
    d = _delivery(client, admin)
    # Boot 7: 1,2,3 (no gap); boot 8: 1,3 (seq 2 missing).
    assert (d["received"], d["gaps"], d["restarts"], d["conflicts"]) == (5, 1, 1, 0)
    # The same seq twice within one boot of one batch is still the device's mistake.
    bad = client.post(
        "/api/v1/telemetry",
        headers={"X-Device-Key": key},
        json={
            "messages": [
                {"boot": 9, "seq": 1, "ts": NOW, "values": {"fill": 0.1}},
                {"boot": 9, "seq": 1, "ts": NOW + 5, "values": {"fill": 0.2}},
            ]
        },
    )
    assert bad.status_code == 422 and bad.json()["field"] == "messages[1].seq", bad.text


def test_a_conflict_within_a_boot_is_kept_and_counted(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _device(client, admin)
    _post(client, key, {"boot": 1, **_batch([1, 2], NOW, 0.1)})
    out = _post(client, key, {"boot": 1, **_batch([2], NOW + 5000, 0.9)})
    assert (out["accepted"], out["conflicts"], out["restarts"]) == (1, 1, 1)
    d = _delivery(client, admin)
    assert (d["received"], d["conflicts"], d["gaps"]) == (3, 1, 0)


def test_an_absurd_sequence_number_does_not_poison_the_account(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _device(client, admin)
    _post(client, key, _batch([1, 2, 3], NOW))
    # Before: gaps and last_seq pinned at ~9.2e18 for good.
    assert _post(client, key, _batch([2**63 - 1], NOW + 10))["accepted"] == 1
    assert _post(client, key, _batch([4, 5], NOW + 20))["accepted"] == 2
    d = _delivery(client, admin)
    assert (d["received"], d["gaps"], d["last_seq"]) == (6, 0, 5)
    assert d["restarts"] == 1  # the jump opened an epoch of its own


def test_refused_messages_are_counted_on_the_account(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _device(client, admin)
    h = {"X-Device-Key": key, "content-type": "application/json"}
    nan = b'{"messages": [{"seq": 1, "ts": %d, "values": {"fill": NaN}},' % NOW
    nan += b' {"seq": 2, "ts": %d, "values": {"fill": NaN}}]}' % NOW
    assert client.post("/api/v1/telemetry", headers=h, content=nan).status_code == 422
    future = _batch([3], int(time.time() * 1000) + 3_600_000)
    r = client.post("/api/v1/telemetry", headers={"X-Device-Key": key}, json=future)
    assert r.status_code == 422
    d = _delivery(client, admin)
    assert (d["rejected"], d["received"]) == (3, 0)
    # Someone without the device's key cannot make its account count anything.
    r = client.post("/api/v1/telemetry", headers={"content-type": "application/json"}, content=nan)
    assert r.status_code in (401, 422)
    assert _delivery(client, admin)["rejected"] == 3


@pytest.mark.mqtt
def test_a_reboot_over_mqtt_is_stored_and_redeliveries_are_not(
    mqtt_platform: Platform, broker: Broker, client: TestClient, admin: dict[str, str]
) -> None:
    p = mqtt_platform
    _device(client, admin)

    def body(seq: int, at: int, **extra: Any) -> bytes:
        return json.dumps({"seq": seq, "ts": at + seq, "values": {"fill": 0.4}, **extra}).encode()

    ing = MqttIngester(p, relay_events=False).start()
    try:
        pub = Publisher(broker)
        for seq in (1, 2, 3):
            pub.send("bin-1", body(seq, NOW))
        for seq in (1, 2):  # rebooted, no boot number: taken as a restart by its times
            pub.send("bin-1", body(seq, NOW + 60_000))
        pub.send("bin-1", body(2, NOW))  # a pre-reboot message sent again: a duplicate
        for seq in (1, 2):  # the next boot says so
            pub.send("bin-1", body(seq, NOW + 120_000, boot=3))
        pub.send("bin-1", body(2, NOW + 120_000, boot=3))  # and retries
        pub.close()

        def done() -> bool:
            a = accounts(p).get("bin-1")
            return a is not None and a.received + a.duplicates == 9

        wait_until(done, 30, lambda: f"accounts {accounts(p)}, stats {ing.stats}")
    finally:
        ing.stop()
    a = accounts(p)["bin-1"]
    assert (a.received, a.duplicates, a.restarts, a.conflicts, a.gaps) == (7, 2, 2, 1, 0)


def test_a_device_counting_in_milliseconds_keeps_a_bounded_number_of_epochs(
    platform: Platform,
) -> None:
    """Its seq is its clock in ms, five minutes apart: every message jumps more than the
    maximum and opens an epoch (a restart, which the operator sees), but only the most
    recent epochs are kept; a resend of its very first message is still a duplicate."""
    with platform.db.session() as s:
        s.add(Device(id="ms", name="ms", type="litter_bin", department_code="epb"))
    msgs = [
        Msg("ms", NOW + i * 300_000, NOW + i * 300_000, (("fill", 0.5),), boot=7)
        for i in range(1000)
    ]
    for i in range(0, 1000, 100):
        assert platform.ingester.write(msgs[i : i + 100]).accepted == 100
    again = platform.ingester.write([msgs[0], msgs[500], msgs[999]])
    assert (again.accepted, again.duplicates) == (0, 3)
    with platform.db.read() as s:
        # Before: 1000 epoch rows, one per message.
        assert s.scalar(select(func.count()).select_from(DeliveryEpoch)) == RECENT_EPOCHS
        assert s.scalar(select(func.count()).select_from(Reading)) == 1000
        d = delivery_out(s.get(DeliveryAccount, "ms"))
    assert (d.received, d.restarts, d.duplicates, d.gaps) == (1000, 999, 3, 0)


def test_retention_removes_the_epochs_whose_readings_are_gone(platform: Platform) -> None:
    with platform.db.session() as s:
        for dev in ("a", "b"):
            s.add(Device(id=dev, name=dev, type="litter_bin", department_code="epb"))
    day = 86_400_000
    old, new = NOW - 10 * day, NOW
    # a: two boots long ago (epochs 0, 1), one now (epoch 2); b: all its readings are old.
    platform.ingester.write([Msg("a", q, old + q, (("fill", 0.1),)) for q in (1, 2, 3)])
    platform.ingester.write([Msg("a", q, old + 100 + q, (("fill", 0.2),)) for q in (1, 2)])
    platform.ingester.write([Msg("a", q, new + q, (("fill", 0.3),)) for q in (1, 2)])
    platform.ingester.write([Msg("b", q, old + q, (("fill", 0.4),)) for q in (1, 2)])
    assert purge(platform.db, retention_days=5, now_ms=NOW + 1) == 7
    with platform.db.read() as s:
        left = set(s.execute(select(DeliveryEpoch.device_id, DeliveryEpoch.epoch)).tuples())
    # Before: all four epoch rows stayed. A device's newest epoch is kept, readings or not,
    # so its numbering goes on.
    assert left == {("a", 2), ("b", 0)}
    out = platform.ingester.write([Msg("b", 3, NOW, (("fill", 0.5),))])
    assert (out.accepted, out.restarts) == (1, 0)
    with platform.db.read() as s:
        d = delivery_out(s.get(DeliveryAccount, "b"))
    assert (d.received, d.gaps, d.epoch) == (3, 0, 0)
