"""Devices log in at the broker with their registry keys, and publish only as themselves.

Against the real Mosquitto started from deploy/mosquitto/onecity.conf (tests/mqtt_broker.py):
its device listener refuses anonymous clients, takes the logins that
`onecity mqtt sync-credentials` writes from the registry, and its ACL lets a key publish only
on its own device's topic. A revoked key is cut off at the next sync."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from onecity.core.auth.permissions import Principal, Role
from onecity.core.devices.mqtt import MqttIngester
from onecity.core.devices.schemas import DevicePatch
from onecity.core.models import DeliveryAccount, Device, Reading
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from tests.conftest import make_settings
from tests.mqtt_broker import Broker, Refused, device_client, issue_keys, mosquitto_binary

pytestmark = pytest.mark.mqtt
ADMIN = Principal(0, "root.admin", Role.ADMIN, "doit")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    with Broker(tmp_path / "mosquitto") as b:
        yield b


@pytest.fixture
def ingesting(platform: Platform, broker: Broker) -> Iterator[Platform]:
    """The ingester on the platform's loopback listener, as `onecity ingest` runs."""
    s = make_settings(
        platform.settings.database_url,
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_client_id=f"onecity-test-{uuid.uuid4().hex[:8]}",
    )
    ing = MqttIngester(start_platform(s, db=platform.db), relay_events=False).start()
    yield platform
    ing.stop()


def register(p: Platform, ids: list[str]) -> None:
    with p.db.session() as s:
        for i in ids:
            s.add(Device(id=i, name=i, type="litter_bin", department_code="epb"))


def body(seq: int, fill: float = 0.5) -> bytes:
    return json.dumps(
        {"seq": seq, "ts": int(time.time() * 1000), "values": {"fill": fill}}
    ).encode()


def publish(c: mqtt.Client, device: str, seq: int) -> None:
    info = c.publish(f"onecity/devices/{device}/telemetry", body(seq), qos=1)
    info.wait_for_publish(10)


def seqs(p: Platform, device: str) -> set[int]:
    with p.db.read() as s:
        return set(s.execute(select(Reading.seq).where(Reading.device_id == device)).scalars())


def wait_for(p: Platform, device: str, seq: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while seq not in seqs(p, device):
        assert time.monotonic() < deadline, f"{device} seq {seq} never stored"
        time.sleep(0.05)


def accounted(p: Platform) -> set[str]:
    with p.db.read() as s:
        return set(s.execute(select(DeliveryAccount.device_id)).scalars())


def test_an_anonymous_client_cannot_publish_as_a_device(
    ingesting: Platform, broker: Broker
) -> None:
    """The audit's case: anonymous, publishing as a waste station, raised a crew job."""
    p = ingesting
    register(p, ["IT125-1"])
    key = issue_keys(p.devices, ["IT125-1"])["IT125-1"]
    broker.sync(p.db)
    # No user name: refused at once.
    refused = threading.Event()
    anon = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="anon-1")
    anon.on_connect = lambda _c, _u, _f, rc, _p: refused.set() if rc.is_failure else None
    anon.connect(broker.host, broker.device_port)
    anon.loop_start()
    assert refused.wait(10), "the device listener accepted an anonymous client"
    anon.loop_stop()
    # Not waiting for the CONNACK either: whatever an anonymous client sends goes nowhere.
    raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="anon")
    raw.connect(broker.host, broker.device_port)
    raw.loop_start()
    raw.publish("onecity/devices/IT125-1/telemetry", body(1, fill=0.99), qos=1)
    time.sleep(0.5)
    raw.loop_stop()
    # The device itself, with its key, gets through, so the ingester was listening.
    dev = device_client(broker, key)
    publish(dev, "IT125-1", 2)
    dev.disconnect()
    wait_for(p, "IT125-1", 2)
    assert seqs(p, "IT125-1") == {2}


def test_a_device_cannot_publish_on_another_devices_topic(
    ingesting: Platform, broker: Broker
) -> None:
    p = ingesting
    register(p, ["bin-a", "bin-b"])
    keys = issue_keys(p.devices, ["bin-a", "bin-b"])
    broker.sync(p.db)
    a = device_client(broker, keys["bin-a"])
    publish(a, "bin-b", 1)  # spoofing b: the broker acknowledges and drops it
    publish(a, "bin-a", 1)
    a.disconnect()
    # In order on one connection: once a's own message is stored, the spoof would be too.
    wait_for(p, "bin-a", 1)
    assert seqs(p, "bin-b") == set() and "bin-b" not in accounted(p)


def test_a_wrong_key_or_another_devices_key_id_is_refused(
    ingesting: Platform, broker: Broker
) -> None:
    p = ingesting
    register(p, ["bin-a", "bin-b"])
    keys = issue_keys(p.devices, ["bin-a", "bin-b"])
    broker.sync(p.db)
    key_id_a = keys["bin-a"].split("_")[1]
    with pytest.raises(Refused):
        device_client(broker, f"ock_{key_id_a}_not-the-secret")
    with pytest.raises(Refused):
        # b's secret under a's key id
        device_client(broker, f"ock_{key_id_a}_{keys['bin-b'].split('_', 2)[2]}")


def test_a_revoked_key_is_cut_off_and_its_successor_works(
    ingesting: Platform, broker: Broker
) -> None:
    p = ingesting
    register(p, ["bin-r"])
    old = p.devices.issue_key(ADMIN, "bin-r", label="old")
    new = p.devices.issue_key(ADMIN, "bin-r", label="new")
    assert old.mqtt_username == old.key_id
    broker.sync(p.db)
    # Both keys work while the device moves over to the new one.
    conn = device_client(broker, old.key)
    publish(conn, "bin-r", 1)
    wait_for(p, "bin-r", 1)
    dropped = threading.Event()
    conn.on_disconnect = lambda *_a: dropped.set()
    conn.reconnect_delay_set(60, 60)  # no quiet reconnection behind the test's back

    p.devices.revoke_key(ADMIN, "bin-r", old.key_id)
    assert broker.sync(p.db)
    # The open connection is dropped at the reload; the key cannot log in again.
    assert dropped.wait(10), "the revoked key's connection stayed open"
    conn.loop_stop()
    with pytest.raises(Refused):
        device_client(broker, old.key)
    fresh = device_client(broker, new.key)
    publish(fresh, "bin-r", 2)
    fresh.disconnect()
    wait_for(p, "bin-r", 2)
    assert seqs(p, "bin-r") == {1, 2}
    assert not broker.sync(p.db)  # nothing changed since: no reload


def test_a_retired_device_can_no_longer_log_in(ingesting: Platform, broker: Broker) -> None:
    p = ingesting
    register(p, ["bin-x"])
    key = issue_keys(p.devices, ["bin-x"])["bin-x"]
    broker.sync(p.db)
    device_client(broker, key).disconnect()
    p.devices.update(ADMIN, "bin-x", DevicePatch(status="retired"))
    broker.sync(p.db)
    with pytest.raises(Refused):
        device_client(broker, key)


def test_the_platform_may_log_in_on_the_device_listener(platform: Platform, broker: Broker) -> None:
    """With ONECITY_MQTT_USERNAME/_PASSWORD the sync adds the ingester's own login: it reads
    every device's telemetry and writes events, nothing else."""
    register(platform, ["bin-p"])
    key = issue_keys(platform.devices, ["bin-p"])["bin-p"]
    s = make_settings(
        platform.settings.database_url,
        mqtt_host=broker.host,
        mqtt_port=broker.device_port,
        mqtt_client_id=f"onecity-test-{uuid.uuid4().hex[:8]}",
        mqtt_username="onecity-ingester",
        mqtt_password="a-long-platform-password",
    )
    from onecity.core.devices.broker_auth import sync_files

    before = broker.log().count("Reloading config")
    assert sync_files(
        platform.db,
        broker.passwd,
        broker.acl,
        pid_file=broker.workdir / "mosquitto.pid",
        platform=("onecity-ingester", "a-long-platform-password"),
    )
    broker.wait_reloaded(before)
    ing = MqttIngester(start_platform(s, db=platform.db), relay_events=False).start()
    try:
        dev = device_client(broker, key)
        publish(dev, "bin-p", 1)
        dev.disconnect()
        wait_for(platform, "bin-p", 1)
    finally:
        ing.stop()
    acl = broker.acl.read_text()
    assert "user onecity-ingester\ntopic read onecity/devices/+/telemetry\n" in acl


def test_sync_credentials_command(platform: Platform, broker: Broker, tmp_path: Path) -> None:
    """`onecity mqtt sync-credentials` writes both files and reloads the broker."""
    from onecity.cli import app

    register(platform, ["bin-c"])
    key = issue_keys(platform.devices, ["bin-c"])["bin-c"]
    before = broker.log().count("Reloading config")
    env: dict[str, Any] = {"ONECITY_DATABASE_URL": platform.settings.database_url}
    r = CliRunner().invoke(
        app,
        [
            "mqtt",
            "sync-credentials",
            "--passwd",
            str(broker.passwd),
            "--acl",
            str(broker.acl),
            "--pid-file",
            str(broker.workdir / "mosquitto.pid"),
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    broker.wait_reloaded(before)
    device_client(broker, key).disconnect()
    assert "topic write onecity/devices/bin-c/telemetry" in broker.acl.read_text()


def test_simulated_demo_devices_log_in_with_their_keys(
    ingesting: Platform, broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`onecity devices simulate --mqtt`: the demo's devices (keys from seed_demo) publish on
    the device listener, each with its own login, and every message arrives."""
    from onecity.bootstrap import seed_demo
    from onecity.cli import app

    keys = tmp_path / "keys.json"
    seed_demo(ingesting, keys, youbike=3, bins=3)
    broker.sync(ingesting.db)
    monkeypatch.chdir(tmp_path)
    args = ["devices", "simulate", "--count", "6", "--rate", "12", "--duration", "2.5"]
    r = CliRunner().invoke(
        app, [*args, "--mqtt", f"{broker.host}:{broker.device_port}", "--keys-file", str(keys)]
    )
    assert r.exit_code == 0, r.output
    ids = sorted(json.loads(keys.read_text()))
    deadline = time.monotonic() + 30
    while accounted(ingesting) != set(ids):
        assert time.monotonic() < deadline, f"only {accounted(ingesting)} reported"
        time.sleep(0.1)
