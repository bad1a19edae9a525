"""Telemetry over MQTT: QoS 1 on a persistent session, acknowledged only after the commit.

Devices publish one message per PUBLISH to `onecity/devices/{device_id}/telemetry`. The
ingester holds a persistent session under a fixed client id, so the broker keeps everything
published while the ingester is away. Messages are acknowledged by hand (paho's manual ack):
a batch is written in one transaction by `Ingester.write`, and only after it committed are its
PUBACKs sent. A crash before the commit means no ack, so the broker delivers again; a crash
after the commit but before the ack means a redelivery that the (device, seq, key) key turns
into a counted duplicate. Either way each reading is stored exactly once.

The outbox relay (events to `onecity/events/{type}`) runs alongside on a connection of its
own, so its acknowledgements never queue behind a backlog of telemetry.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from pydantic import ValidationError

from onecity.core import clock, events
from onecity.core.devices.ingest import Msg, msg_from_json
from onecity.core.errors import Invalid
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.core.workers import liveness_loop
from onecity.settings import Settings

log = logging.getLogger(__name__)

TOPIC = "onecity/devices/+/telemetry"
_PREFIX, _SUFFIX = "onecity/devices/", "/telemetry"


@dataclass
class Stats:
    """What the ingester has seen since it started (for logs, tests and benchmarks)."""

    connects: int = 0
    delivered: int = 0  # PUBLISH packets handed to us by the broker
    stored: int = 0  # new messages committed
    duplicates: int = 0  # already stored (a device retry or a redelivery after a crash)
    rejected: int = 0  # payloads that cannot be stored; counted on the device's account
    unknown: int = 0  # for devices not in the registry (or retired)
    acked: int = 0
    stale: int = 0  # not acked: they came on a connection that has since dropped
    batches: int = 0
    retries: int = 0


@dataclass(frozen=True, slots=True)
class _Delivery:
    conn: int  # which connection it came on: a packet id means nothing on another one
    mid: int
    qos: int
    device_id: str
    payload: bytes | bytearray
    at: float


def device_from_topic(topic: str) -> str | None:
    if topic.startswith(_PREFIX) and topic.endswith(_SUFFIX):
        dev = topic[len(_PREFIX) : -len(_SUFFIX)]
        return dev if dev and "/" not in dev else None
    return None


class MqttIngester:
    """Subscribe, batch, write, then acknowledge. `start()` and `stop()` from any thread."""

    def __init__(
        self,
        platform: Platform,
        *,
        batch_max: int = 2000,
        linger_s: float = 0.05,
        buffer_max: int = 20_000,
        relay_events: bool = True,
    ) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.ingester = platform.ingester
        self.batch_max = batch_max
        self.linger_s = linger_s
        self.buffer_max = max(buffer_max, 2 * batch_max)
        self.relay_events = relay_events
        self.stats = Stats()
        self.subscribed = threading.Event()
        self._inbox: list[_Delivery] = []
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # the writer waits here for messages
        self._room = threading.Condition(lock)  # the network thread waits here for space
        # Guards the connection number and the acks: a PUBACK must never be sent for a packet
        # id of an earlier connection, since the broker may have reused that id on this one.
        self._ack_lock = threading.Lock()
        self._conn = 0
        self._closing = False  # graceful stop: flush what we have, take nothing new
        self._dead = threading.Event()  # crash: drop everything, ack nothing
        self._warned: set[str] = set()
        self._client = self._make_client()
        # Events go out on a connection of their own (see the module docstring).
        self._events = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{self.settings.mqtt_client_id}-events"
        )
        self._events_up = threading.Event()
        self._secure(self._events)
        self._events.on_connect = self._on_events_connect
        self._events.on_disconnect = lambda *_a: self._events_up.clear()
        self._writer = threading.Thread(target=self._write_loop, name="mqtt-writer", daemon=True)
        self._relay: threading.Thread | None = None

    # --- the connection ----------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.mqtt_client_id,
            clean_session=False,  # the broker keeps our queue while we are away
            protocol=MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
        )
        self._secure(c)
        c.reconnect_delay_set(min_delay=1, max_delay=10)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message
        return c

    def _secure(self, c: mqtt.Client) -> None:
        """Broker credentials and TLS from settings (a production listener needs both)."""
        if self.settings.mqtt_username:
            c.username_pw_set(self.settings.mqtt_username, self.settings.mqtt_password or None)
        if self.settings.mqtt_tls_ca is not None:
            c.tls_set(ca_certs=str(self.settings.mqtt_tls_ca))

    def _on_connect(self, c: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the connection: %s", rc)
            return
        self.stats.connects += 1
        log.info(
            "connected to %s:%s as %s (session kept: %s)",
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            self.settings.mqtt_client_id,
            flags.session_present,
        )
        # Subscribing again on a kept session is harmless and covers a broker that lost it.
        c.subscribe(TOPIC, qos=self.settings.mqtt_qos)

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        if any(code.is_failure for code in codes):
            log.error("broker refused the subscription to %s: %s", TOPIC, codes)
            return
        self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        with self._ack_lock:
            self._conn += 1
        self.subscribed.clear()
        if not self._closing:
            log.warning("lost the broker (%s); reconnecting, unacked messages will come again", rc)

    def _on_message(self, _c: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
        if self._closing:
            return  # not acked: the broker delivers it to the next session
        self.stats.delivered += 1
        try:
            dev = device_from_topic(m.topic)
        except UnicodeDecodeError:
            dev = None
        d = _Delivery(self._conn, m.mid, m.qos, dev or "", m.payload, time.monotonic())
        with self._cond:
            # Backpressure: while the buffer is full, stop reading from the socket so the broker
            # keeps the backlog. Needed because Mosquitto 2.0.11 stops honouring
            # max_inflight_messages once acks flow and sends its whole queue at once.
            while len(self._inbox) >= self.buffer_max:
                if self._closing or self._dead.is_set():
                    return
                self._room.wait(1.0)
            self._inbox.append(d)
            n = len(self._inbox)
            if n == 1 or n >= self.batch_max:
                self._cond.notify()

    # --- batching and writing ------------------------------------------------------------------
    def _take(self) -> list[_Delivery] | None:
        """The next batch: up to batch_max messages, or what came within linger_s of the first."""
        with self._cond:
            while not self._inbox:
                if self._closing or self._dead.is_set():
                    return None
                self._cond.wait(0.5)
            deadline = self._inbox[0].at + self.linger_s
            while len(self._inbox) < self.batch_max and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = self._inbox[: self.batch_max]
            del self._inbox[: self.batch_max]
            self._room.notify()
            return batch

    def _write_loop(self) -> None:
        while not self._dead.is_set():
            batch = self._take()
            if batch is None:
                return
            self._process(batch)

    def _decode(self, batch: list[_Delivery]) -> tuple[list[Msg], dict[str, int]]:
        now_ms = clock.time_ms()
        msgs: list[Msg] = []
        rejected: dict[str, int] = {}
        for d in batch:
            if not d.device_id:
                self.stats.unknown += 1  # a topic that names no device: nobody to count it on
                continue
            try:
                msgs.append(msg_from_json(d.device_id, d.payload, now_ms, self.settings))
            except (ValidationError, Invalid, ValueError, OverflowError) as e:
                rejected[d.device_id] = rejected.get(d.device_id, 0) + 1
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("rejected a message from %s: %s", d.device_id, e)
        return msgs, rejected

    def _process(self, batch: list[_Delivery]) -> None:
        msgs, rejected = self._decode(batch)
        attempt = 0
        while True:
            if self._dead.is_set():
                return
            try:
                out = self.ingester.write(msgs, rejected=rejected)
                break
            except Exception:  # the database is away: keep the batch, ack nothing, retry
                attempt += 1
                self.stats.retries += 1
                log.exception(
                    "writing a batch of %d failed (attempt %d); retrying", len(batch), attempt
                )
                if self._dead.wait(min(5.0, 0.2 * 2**attempt)):
                    return
        self._ack(batch)
        s = self.stats
        s.batches += 1
        s.stored += out.accepted
        s.duplicates += out.duplicates
        s.rejected += sum(rejected.values()) + out.rejected
        s.unknown += sum(1 for m in msgs if m.device_id in out.unknown_devices)
        for dev in out.unknown_devices - self._warned:
            if len(self._warned) < 10_000:
                self._warned.add(dev)
                log.warning("messages for unknown or retired device %r are dropped", dev)

    def _ack(self, batch: list[_Delivery]) -> None:
        acked = stale = 0
        with self._ack_lock:
            for d in batch:
                if d.conn != self._conn or self._dead.is_set():
                    stale += 1  # the broker will deliver it again; the key dedupes it
                elif d.qos > 0:
                    self._client.ack(d.mid, d.qos)
                    acked += 1
        self.stats.acked += acked
        self.stats.stale += stale

    # --- events out ------------------------------------------------------------------------------
    def _on_events_connect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the events connection: %s", rc)
        else:
            self._events_up.set()

    def _publish_event(self, topic: str, body: bytes) -> None:
        # Wait out a (re)connection rather than fail at once: paho refuses to publish while
        # disconnected, and relay_once would log every such refusal as an error.
        if not self._events_up.wait(10):
            raise ConnectionError("no connection to the broker for events; retrying")
        info = self._events.publish(topic, body, qos=1)
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            # relay_once then leaves the event unmarked and tries again.
            raise TimeoutError(f"broker did not acknowledge event on {topic} within 10 s")

    def _relay_loop(self) -> None:
        def stop() -> bool:
            return self._closing or self._dead.is_set()

        events.relay_forever(self.platform.db, self._publish_event, stop)

    # --- life cycle -------------------------------------------------------------------------------
    def start(self, wait_subscribed_s: float | None = 10.0) -> MqttIngester:
        """Connect (retrying in the background) and start writing. With wait_subscribed_s,
        block until subscribed or raise: messages published before that are not ours."""
        if not self.settings.mqtt_host:
            raise ValueError("ONECITY_MQTT_HOST is not set; point it at the broker")
        self._client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self._client.loop_start()
        self._writer.start()
        if self.relay_events:
            self._events.connect_async(self.settings.mqtt_host, self.settings.mqtt_port)
            self._events.loop_start()
            self._relay = threading.Thread(target=self._relay_loop, name="mqtt-relay", daemon=True)
            self._relay.start()
        if wait_subscribed_s is not None and not self.subscribed.wait(wait_subscribed_s):
            self.kill()
            raise TimeoutError(
                f"not subscribed to {TOPIC} on {self.settings.mqtt_host}:"
                f"{self.settings.mqtt_port} within {wait_subscribed_s} s; is the broker up?"
            )
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Clean shutdown: write and ack what we hold, then disconnect (session kept)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            self._room.notify_all()
        self._writer.join(timeout_s)
        if self._writer.is_alive():
            log.error(
                "the writer did not finish in %s s; its messages stay unacknowledged", timeout_s
            )
            self._dead.set()
        self._stop_relay()
        self._client.disconnect()  # after the PUBACKs already queued on this connection
        self._client.loop_stop()

    def _stop_relay(self) -> None:
        if self._relay is not None:
            self._relay.join(5.0)
            self._events.disconnect()
            self._events.loop_stop()

    def kill(self) -> None:
        """A crash (tests use it; start() too when it cannot subscribe): drop the connection
        without acks, DISCONNECT or a flush."""
        with self._ack_lock:
            self._dead.set()
            self._conn += 1
        with self._cond:
            self._closing = True
            self._inbox.clear()
            self._cond.notify_all()
            self._room.notify_all()
        self._client.loop_stop()
        sock = self._client.socket()
        if sock is not None:
            sock.close()
        self._stop_relay()


def run_ingester(settings: Settings) -> None:
    """`onecity ingest`: ingest, relay events and check liveness until SIGINT or SIGTERM."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    if not settings.mqtt_host:
        raise SystemExit("ONECITY_MQTT_HOST is not set: point it at the broker (e.g. 127.0.0.1)")
    if settings.mqtt_qos == 0:
        log.warning("ONECITY_MQTT_QOS=0: the broker will not redeliver, so messages can be lost")
    platform = start_platform(settings)
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("got %s; finishing the current batch", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    ing = MqttIngester(platform).start(wait_subscribed_s=None)
    liveness = liveness_loop(platform)
    liveness.start()
    try:
        last, t_last = 0, time.monotonic()
        # Short waits: the signal may land on another thread, and the main thread only runs
        # the handler when it wakes.
        while not stopping.wait(0.5):
            s, now = ing.stats, time.monotonic()
            if now - t_last >= 30:
                log.info(
                    "stored %d (%.0f msg/s), duplicates %d, rejected %d, unknown %d",
                    s.stored,
                    (s.stored - last) / (now - t_last),
                    s.duplicates,
                    s.rejected,
                    s.unknown,
                )
                last, t_last = s.stored, now
    finally:
        liveness.stop()
        ing.stop()
        platform.db.dispose()
        log.info("stopped: %s", ing.stats)
