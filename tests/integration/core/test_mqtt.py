"""Telemetry over MQTT against a real Mosquitto (the project's config) on both databases:
each reading stored exactly once, accounts right, nothing lost across ingester crashes and
broker restarts."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import func, select, update

from onecity.core import events
from onecity.core.devices import ingest
from onecity.core.devices.mqtt import MqttIngester
from onecity.core.devices.schemas import TelemetryMessage
from onecity.core.devices.service import delivery_out
from onecity.core.models import DeliveryAccount, Device, Reading
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from tests.conftest import make_settings
from tests.mqtt_broker import Broker, Publisher, issue_keys, mosquitto_binary, running_broker

VALUES = {"fill": 0.5, "temperature": 21.5, "battery": 0.9}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh broker per test: no session or queue leaks from one test into the next."""
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    with running_broker(tmp_path / "mosquitto") as b:
        yield b


@pytest.fixture
def mqtt_platform(platform: Platform, broker: Broker) -> Platform:
    """The test's platform (same database), pointed at the test's broker, own client id."""
    s = make_settings(
        platform.settings.database_url,
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_client_id=f"onecity-test-{uuid.uuid4().hex[:8]}",
    )
    return start_platform(s, db=platform.db)


def register(p: Platform, ids: list[str], broker: Broker | None = None) -> dict[str, str]:
    """Register litter bins; with a broker, issue each a key and give the broker the logins
    (as `onecity mqtt sync-credentials` does). Returns device id -> key."""
    with p.db.session() as s:
        for i in ids:
            s.add(Device(id=i, name=i, type="litter_bin", department_code="epb"))
    if broker is None:
        return {}
    keys = issue_keys(p.devices, ids)
    broker.sync(p.db)
    return keys


def payload(seq: int, values: dict[str, Any] = VALUES, ts: object = None) -> bytes:
    return json.dumps(
        {"seq": seq, "ts": ts if ts is not None else int(time.time() * 1000), "values": values}
    ).encode()


def accounts(p: Platform) -> dict[str, Any]:
    with p.db.read() as s:
        return {a.device_id: delivery_out(a) for a in s.execute(select(DeliveryAccount)).scalars()}


def total_received(p: Platform) -> int:
    with p.db.read() as s:
        return int(
            s.execute(select(func.coalesce(func.sum(DeliveryAccount.received), 0))).scalar_one()
        )


def wait_until(cond: Callable[[], bool], timeout_s: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout_s} s: {what()}")
        time.sleep(0.05)


def wait_stored(p: Platform, n: int, what: Callable[[], str], stall_s: float = 30) -> None:
    """Until n messages are stored; fails early once nothing new arrives for stall_s."""
    last, since = -1, time.monotonic()
    while (got := total_received(p)) < n:
        if got != last:
            last, since = got, time.monotonic()
        elif time.monotonic() - since > stall_s:
            raise AssertionError(f"stuck at {got} of {n} stored for {stall_s} s: {what()}")
        time.sleep(0.05)


@pytest.mark.mqtt
def test_stored_once_with_accounts_and_bad_input_rejected(
    mqtt_platform: Platform, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    p = mqtt_platform
    keys = register(p, ["bin-1", "bin-2"], broker)
    with p.db.session() as s:  # waiting in the outbox before the ingester starts
        events.emit(s, "test.hello", {"n": 1})
    seen_events: list[str] = []
    listening = threading.Event()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    listener.on_message = lambda _c, _u, m: seen_events.append(m.topic)
    listener.on_subscribe = lambda *_a: listening.set()
    listener.connect(broker.host, broker.port)
    listener.subscribe("onecity/events/#", qos=1)
    listener.loop_start()
    assert listening.wait(10), "the event listener could not subscribe"
    ing = MqttIngester(p).start()
    try:
        # Not in the registry, so no login: only the platform's trusted loopback listener
        # can carry it (e.g. a device retired while its messages were queued). Ignored.
        gateway = Publisher(broker)
        gateway.send("ghost", payload(1))
        gateway.close()
        pub = Publisher(broker, keys)
        for seq in (1, 2):
            pub.send("bin-1", payload(seq))
        sent_3 = payload(3)
        pub.send("bin-1", sent_3)
        pub.send("bin-1", payload(4))
        pub.send("bin-1", payload(5))
        pub.send("bin-1", sent_3)  # the device retried (the same message): a duplicate
        pub.send("bin-1", payload(8))  # 6 and 7 never sent: two gaps
        future = int(time.time() * 1000) + 3_600_000
        for bad in (
            b"not json",
            b'{"seq": 9, "ts": 1, "values": {"fill": NaN}}',
            payload(9, {"fill": "high"}),
            payload(10, ts=future),
            payload(11, ts="2026-01-01T00:00:00"),
            payload(12, {}),
            b'{"seq": 13, "values": {"fill": 1}}',
            b"\xff\xfe",
        ):
            pub.send("bin-1", bad)
        pub.send("bin-2", payload(1, {"lid_open": True}))
        pub.close()

        def done() -> bool:
            a = accounts(p)
            return (
                "bin-1" in a
                and "bin-2" in a
                and a["bin-1"].received == 6
                and a["bin-1"].duplicates == 1
                and a["bin-1"].rejected == 8
                # The ingester's own counts follow the commit: wait for them too.
                and (ing.stats.unknown, ing.stats.rejected) == (1, 8)
            )

        wait_until(done, 30, lambda: f"accounts {accounts(p)}, stats {ing.stats}")
        a1 = accounts(p)["bin-1"]
        assert (a1.received, a1.duplicates, a1.gaps, a1.rejected, a1.readings) == (6, 1, 2, 8, 18)
        with p.db.read() as s:
            seqs = set(s.execute(select(Reading.seq).where(Reading.device_id == "bin-1")).scalars())
            lid = s.execute(select(Reading.value).where(Reading.device_id == "bin-2")).all()
            n_ghost = s.execute(
                select(func.count()).select_from(Reading).where(Reading.device_id == "ghost")
            ).scalar()
        assert seqs == {1, 2, 3, 4, 5, 8}, "nothing is stored for rejected messages"
        assert lid == [(1.0,)] and n_ghost == 0

        # Still ingesting after all that; a late message fills a gap.
        pub = Publisher(broker, keys)
        pub.send("bin-1", payload(6))
        pub.close()
        wait_until(
            lambda: accounts(p)["bin-1"].gaps == 1,
            30,
            lambda: f"accounts {accounts(p)}, stats {ing.stats}",
        )
        # The outbox relay publishes what was waiting and the devices' first appearance.
        wait_until(
            lambda: (
                seen_events.count("onecity/events/device.online") == 2
                and "onecity/events/test.hello" in seen_events
            ),
            30,
            lambda: f"events seen: {seen_events}",
        )
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    finally:
        ing.stop()
        listener.loop_stop()
        listener.disconnect()


def _ingester_process(p: Platform, log: Path) -> subprocess.Popen[bytes]:
    """`onecity ingest` in its own process, so the test can SIGKILL it like a power cut."""
    s = p.settings
    env = {
        **os.environ,
        "ONECITY_ENVIRONMENT": "test",
        "ONECITY_DATABASE_URL": s.database_url,
        "ONECITY_MQTT_HOST": s.mqtt_host,
        "ONECITY_MQTT_PORT": str(s.mqtt_port),
        "ONECITY_MQTT_CLIENT_ID": s.mqtt_client_id,
    }
    with log.open("ab") as f:
        return subprocess.Popen(
            [sys.executable, "-c", "from onecity.cli import app; app()", "ingest"],
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.mqtt
def test_nothing_lost_or_doubled_when_the_ingester_is_killed_twice(
    mqtt_platform: Platform, broker: Broker, tmp_path: Path
) -> None:
    p = mqtt_platform
    devices = [f"bin-{i:03d}" for i in range(40)]
    per_device, n = 500, 40 * 500
    keys = register(p, devices, broker)
    # The persistent session must exist before the first publish; after that the broker keeps
    # everything for it, whether or not an ingester is connected.
    MqttIngester(p, relay_events=False).start().stop()
    log = tmp_path / "ingester.log"
    proc = _ingester_process(p, log)
    repeats = [0]

    def publish(mine: list[str]) -> None:
        pub = Publisher(broker, keys)
        for seq in range(1, per_device + 1):
            for dev in mine:
                body = payload(seq)
                pub.send(dev, body)
                if seq % 50 == 0:  # a device that did not hear the PUBACK sends it again
                    pub.send(dev, body)
                    repeats[0] += 1
            if seq % 25 == 0:
                time.sleep(0.02)  # spread publishing over the crashes below
        pub.close()

    threads = [threading.Thread(target=publish, args=(devices[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    killed_at: list[int] = []
    try:
        for fraction in (0.2, 0.55):
            wait_until(
                lambda f=fraction: total_received(p) >= f * n,
                120,
                lambda: f"stored {total_received(p)} of {n}; log: {log.read_text()[-2000:]}",
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            killed_at.append(total_received(p))
            proc = _ingester_process(p, log)
        for t in threads:
            t.join(120)
        wait_stored(p, n, lambda: f"log: {log.read_text()[-2000:]}")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert all(0 < k < n for k in killed_at), f"kills were not mid-stream: {killed_at}"
    with p.db.read() as s:
        rows = s.execute(select(func.count()).select_from(Reading)).scalar_one()
        msgs = s.execute(
            select(func.count()).select_from(
                select(Reading.device_id, Reading.seq).distinct().subquery()
            )
        ).scalar_one()
    assert msgs == n and rows == n * len(VALUES)
    acc = accounts(p)
    assert {d: (a.received, a.gaps, a.readings) for d, a in acc.items()} == {
        d: (per_device, 0, per_device * len(VALUES)) for d in devices
    }
    dups = sum(a.duplicates for a in acc.values())
    # Every deliberate repeat is counted; redeliveries after the kills may add more.
    assert dups >= repeats[0], (dups, repeats[0])
    assert "Traceback" not in log.read_text()


@pytest.mark.mqtt
def test_broker_restarts_lose_nothing(mqtt_platform: Platform, broker: Broker) -> None:
    p = mqtt_platform
    devices = [f"bin-{i}" for i in range(10)]
    keys = register(p, devices, broker)

    def publish(seqs: range) -> None:
        pub = Publisher(broker, keys)
        for seq in seqs:
            for dev in devices:
                pub.send(dev, payload(seq))
        pub.close()

    ing = MqttIngester(p).start()
    try:
        # Hold the database so the ingester holds a full window of unacknowledged messages,
        # then restart the broker under it: the late acks belong to a dead connection and must
        # not be sent on the new one; the broker redelivers those messages instead.
        with p.db.session() as s:
            s.execute(update(Device).values(name=Device.name))
            publish(range(1, 301))
            wait_until(lambda: ing.stats.delivered >= 1000, 30, lambda: f"{ing.stats}")
            broker.restart()
            wait_until(
                lambda: ing.stats.connects >= 2 and ing.subscribed.is_set(),
                30,
                lambda: f"ingester did not reconnect: {ing.stats}",
            )
        wait_stored(p, 3000, lambda: f"{ing.stats}")
        assert ing.stats.stale >= 1, ing.stats
    finally:
        ing.stop()
    # Ingester away: the broker queues for its session, survives a restart, then delivers.
    publish(range(301, 601))
    broker.restart()
    ing = MqttIngester(p).start()
    try:
        wait_stored(p, 6000, lambda: f"{ing.stats}")
    finally:
        ing.stop()
    acc = accounts(p)
    assert {d: (a.received, a.gaps) for d, a in acc.items()} == {d: (600, 0) for d in devices}
    with p.db.read() as s:
        assert s.execute(select(func.count()).select_from(Reading)).scalar_one() == 6000 * 3


@pytest.mark.mqtt
def test_a_failed_write_is_retried_and_not_acknowledged(
    mqtt_platform: Platform, broker: Broker
) -> None:
    p = mqtt_platform
    if p.db.dialect != "postgresql":
        pytest.skip("kills the writer's database connection: a PostgreSQL backend")
    devices = [f"bin-{i}" for i in range(5)]
    keys = register(p, devices, broker)
    ing = MqttIngester(p, relay_events=False).start()
    try:
        with p.db.session() as s:
            # Park the writer inside its transaction (waiting for our row locks), then kill its
            # connection: the batch fails mid-transaction, as in a database restart.
            s.execute(update(Device).values(name=Device.name))
            pub = Publisher(broker, keys)
            for seq in range(1, 201):
                for dev in devices:
                    pub.send(dev, payload(seq))
            pub.close()

            def blocked() -> list[int]:
                rows = (
                    s.connection()
                    .exec_driver_sql(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    )
                    .all()
                )
                return [r[0] for r in rows]

            wait_until(lambda: bool(blocked()), 30, lambda: f"writer never blocked: {ing.stats}")
            for pid in blocked():
                s.connection().exec_driver_sql("SELECT pg_terminate_backend(%s)", (pid,))
        wait_stored(p, 1000, lambda: f"{ing.stats}")
        assert ing.stats.retries >= 1, ing.stats
    finally:
        ing.stop()
    acc = accounts(p)
    assert {d: (a.received, a.gaps, a.duplicates) for d, a in acc.items()} == {
        d: (200, 0, 0) for d in devices
    }


# Plain valid messages, a quarter as they are and the rest slightly off in one way each.
_odd = st.one_of(
    st.sampled_from([-1, 2**53 + 1, 2**63, 2**64, True, False, None, "7", 1.5, 1e300, [], {}]),
    st.floats(allow_nan=True, allow_infinity=True),
)
_good_key = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,8}", fullmatch=True)
_bad_key = st.sampled_from(["x" * 64, "x" * 65, "9bad", "", "a b", "a\n", "é", "a/b", "-x"])
_good_value = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**70), 2**70), st.booleans()
)


@st.composite
def _message(draw: st.DrawFn) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "seq": draw(st.integers(0, 2**63 - 1)),
        "ts": draw(st.integers(0, 2**53)),
        "values": draw(st.dictionaries(_good_key, _good_value, min_size=1, max_size=5)),
    }
    if draw(st.booleans()):
        msg["boot"] = draw(st.integers(0, 2**63 - 1))
    what = draw(st.sampled_from(["as is", "seq", "ts", "boot", "key", "value", "extra", "missing"]))
    if what in ("seq", "ts", "boot"):
        msg[what] = draw(st.one_of(_odd, st.just("2026-11-26T08:00:00+08:00")))
    elif what == "key":
        msg["values"][draw(_bad_key)] = 1.0
    elif what == "value":
        msg["values"][next(iter(msg["values"]))] = draw(st.one_of(_odd, st.text(max_size=2)))
    elif what == "extra":
        msg["extra"] = 1
    elif what == "missing":
        del msg[draw(st.sampled_from(["seq", "ts", "values"]))]
    return msg


@settings(max_examples=1500, deadline=None)
@given(_message())
@example({"seq": 1, "ts": 1, "values": {f"k{i}": 1 for i in range(100)}})
@example({"seq": 1, "ts": 1, "values": {f"k{i}": 1 for i in range(101)}})
def test_the_plain_message_fast_path_agrees_with_the_schema(msg: dict[str, Any]) -> None:
    """The MQTT decoder skips pydantic for plain messages; it must decide exactly as the
    schema would (same values, or hand over to pydantic)."""
    raw = json.dumps(msg).encode()  # NaN and Infinity included, as a device might send them
    fast = ingest._plain(raw)
    try:
        m = TelemetryMessage.model_validate_json(raw)
    except ValidationError:
        assert fast is None, (raw, fast)
        return
    if fast is not None:
        assert fast == (m.seq, ingest.to_ms(m.ts), ingest._pairs(m.values), m.boot), raw
