"""Simulated devices that behave like the real ones: they number their messages, batch
over HTTP with their own keys (or publish over MQTT), and retry until acknowledged."""

from __future__ import annotations

import json
import math
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


@dataclass
class SimDevice:
    id: str
    type: str
    key: str
    seq: int = 0
    state: dict[str, float] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)

    def measure(self, now: float, rng: random.Random) -> dict[str, Any]:
        self.seq += 1
        hour = time.localtime(now).tm_hour
        busy = 0.4 + 0.6 * math.sin(math.pi * max(0, hour - 6) / 16) ** 2
        if self.type == "litter_bin":
            fill = self.state.get("fill", rng.uniform(0, 0.6))
            fill = min(1.0, fill + rng.uniform(0, 0.03) * busy)
            if fill > 0.95 and rng.random() < 0.05:
                fill = rng.uniform(0, 0.05)  # emptied by a crew
            temp = self.state.get("temperature", 26.0)
            temp = 26 + (temp - 26) * 0.8 + rng.gauss(0, 0.5)
            if rng.random() < 0.0005:
                temp = rng.uniform(62, 80)  # something smouldering inside
            self.state.update(fill=fill, temperature=temp)
            values = {
                "fill": round(fill, 3),
                "temperature": round(temp, 1),
                "battery": round(max(0.05, 1 - self.seq * 1e-5), 3),
            }
        else:
            docks = self.state.setdefault("docks", float(rng.randint(10, 40)))
            bikes = self.state.get("bikes", float(rng.randint(0, int(docks))))
            bikes = float(min(docks, max(0, bikes + rng.choice((-2, -1, 0, 0, 1, 2)))))
            self.state["bikes"] = bikes
            values = {"bikes": bikes, "free_docks": docks - bikes}
        return {"seq": self.seq, "ts": int(now * 1000), "values": values}


class Simulator:
    def __init__(
        self,
        devices: list[SimDevice],
        *,
        server: str = "",
        mqtt: str = "",
        mqtt_tls_ca: Path | None = None,
        seq_file: Path | None = None,
        seed: int | None = None,
    ) -> None:
        self.devices = devices
        self.server = server.rstrip("/")
        self.mqtt = mqtt
        self.mqtt_tls_ca = mqtt_tls_ca
        self.seq_file = seq_file
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.sent = 0
        self.failed = 0
        self.rejected = 0
        self.last_error = ""
        if seq_file and seq_file.exists():
            saved = json.loads(seq_file.read_text())
            for d in devices:
                d.seq = int(saved.get(d.id, 0))

    def save(self) -> None:
        if self.seq_file:
            self.seq_file.parent.mkdir(parents=True, exist_ok=True)
            self.seq_file.write_text(json.dumps({d.id: d.seq for d in self.devices}))

    def run(self, rate: float, duration_s: float | None = None) -> None:
        """Send `rate` messages per second in total, spread over the devices."""
        client = httpx.Client(timeout=10) if self.server else None
        # Over MQTT each device logs in with its own key, as devices in the field do.
        mq: dict[str, Any] | None = {} if self.mqtt else None
        interval = 1.0
        per_tick = max(1, round(rate * interval))
        t_end = time.monotonic() + duration_s if duration_s else math.inf
        i = 0
        try:
            while not self.stopping.is_set() and time.monotonic() < t_end:
                t0 = time.monotonic()
                now = time.time()
                for _ in range(per_tick):
                    d = self.devices[i % len(self.devices)]
                    i += 1
                    d.pending.append(d.measure(now, self.rng))
                for d in self.devices:
                    if d.pending:
                        self._flush(d, client, mq)
                self.save()
                self.stopping.wait(max(0.0, interval - (time.monotonic() - t0)))
        finally:
            if client:
                client.close()
            for c in (mq or {}).values():
                c.loop_stop()
                c.disconnect()
            self.save()

    def _flush(self, d: SimDevice, client: httpx.Client | None, mq: dict[str, Any] | None) -> None:
        if mq is not None:
            if d.id not in mq:
                mq[d.id] = _mqtt_client(self.mqtt, d.key, self.mqtt_tls_ca)
            for m in d.pending:
                mq[d.id].publish(f"onecity/devices/{d.id}/telemetry", json.dumps(m), qos=1)
            self.sent += len(d.pending)
            d.pending.clear()
            return
        assert client is not None
        try:
            r = client.post(
                f"{self.server}/api/v1/telemetry",
                json={"messages": d.pending},
                headers={"X-Device-Key": d.key},
            )
        except httpx.HTTPError:
            self.failed += 1
            return  # kept in pending: the next tick retries with the same numbers
        if r.status_code < 400:
            self.sent += len(d.pending)
            d.pending.clear()
        elif r.status_code < 500:
            # The server refused the batch (e.g. a revoked key): retrying cannot help, and
            # silently counting it as sent would hide that no data arrives.
            self.rejected += len(d.pending)
            self.last_error = f"{d.id}: {r.status_code} {r.text[:200]}"
            d.pending.clear()
        else:
            self.failed += 1


def _mqtt_client(hostport: str, key: str, tls_ca: Path | None) -> Any:
    """A device's connection to the broker's device listener: its user name is the key id,
    its password the whole key (see core/devices/broker_auth.py)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    host, _, port = hostport.partition(":")
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"onecity-sim-{time.time_ns()}")
    c.username_pw_set(key.split("_")[1] if key.startswith("ock_") else key, key)
    if tls_ca is not None:
        c.tls_set(ca_certs=str(tls_ca))
    c.connect(host, int(port or 8883))
    c.loop_start()
    return c


def load_devices(keys_file: Path, types: dict[str, str], count: int | None) -> list[SimDevice]:
    keys: dict[str, str] = json.loads(keys_file.read_text())
    ids = sorted(keys)[: count or None]
    # Without a type map (the CLI has no database at hand) the demo's id prefixes tell.
    return [
        SimDevice(
            id=i,
            type=types.get(i) or ("bike_dock" if i.startswith("ybk-") else "litter_bin"),
            key=keys[i],
        )
        for i in ids
    ]
