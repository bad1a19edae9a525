"""iTrash station alerts: from a station's telemetry to the job on the crew's open page.

Run: .venv/bin/python benchmarks/station_alerts.py --quick     (about a minute)

In one run on this machine, against PostgreSQL and our own Mosquitto (the project's config):
  * 2,000 stations report every 10 s over MQTT (200 messages/s, QoS 1), ingested by a real
    `onecity ingest` process with the waste module's telemetry hook;
  * a real API process serves the crew's live event stream (the SSE stream the crew page
    listens to), read by a crew member's session;
  * every 0.25 s another station's garbage compartment reaches 85 %: the time from publishing
    that message to the `waste.job` "raised" event arriving on the crew's stream is
    `alert_to_crew_p50_ms` / `alert_to_crew_p99_ms`; a probe that never arrives is `missed`;
  * `station_reports_per_s` is the rate stored during that steady load, and
    `station_reports_max_per_s` the rate when a backlog of station messages is ingested as
    fast as the ingester can (the headroom above the steady load).
The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.mqtt_broker import BENCH_PORT, Broker, Publisher

from _common import print_json, print_table, served, temp_pg_database
from onecity.bootstrap import migrate, seed_reference
from onecity.core.auth.secrets import hash_password
from onecity.core.devices.mqtt import MqttIngester
from onecity.core.models import DeliveryAccount, Device, User
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.settings import Settings

STATIONS = 2000
EVERY_S = 10.0
PROBE_EVERY_S = 0.25
PASSWORD = "bench-password"  # noqa: S105 (a throw-away database's user)
CLIENT_ID = "onecity-bench-stations"


def setup(url: str, broker: Broker) -> Platform:
    migrate(url)
    p = start_platform(
        Settings(  # type: ignore[call-arg]
            environment="test",
            database_url=url,
            modules="waste",
            mqtt_host=broker.host,
            mqtt_port=broker.port,
            mqtt_client_id=CLIENT_ID,
        )
    )
    seed_reference(p)
    rng = random.Random(7)
    with p.db.session() as s:
        for i in range(STATIONS):
            sid = f"ST{i:04d}"
            s.add(
                Device(
                    id=sid,
                    name=f"iTrash {sid}",
                    type="waste_station",
                    department_code="epb",
                    lon=121.50 + rng.random() * 0.12,
                    lat=25.00 + rng.random() * 0.10,
                )
            )
        s.add(
            User(
                username="bench.crew",
                display_name="bench crew",
                password_hash=hash_password(PASSWORD),
                role="crew",
                department_code="epb",
            )
        )
    # The ingester's persistent session exists before anything is published.
    MqttIngester(p, relay_events=False).start().stop()
    return p


def stored(p: Platform) -> int:
    with p.db.read() as s:
        return int(
            s.execute(select(func.coalesce(func.sum(DeliveryAccount.received), 0))).scalar_one()
        )


class CrewStream:
    """A crew member's live stream: when each station's `full` job was first raised."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.raised: dict[str, float] = {}
        self.ready = threading.Event()
        self.client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))  # stays open
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with self.client.stream(
                "GET", f"{self.base}/api/v1/events/stream", headers=headers
            ) as r:
                event = ""
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                        if event == "hello":
                            self.ready.set()
                    elif line.startswith("data: ") and event == "waste.job":
                        body = json.loads(line[6:])["payload"]
                        if body["action"] == "raised" and body["kind"] == "full":
                            self.raised.setdefault(body["station_id"], time.time())
        except httpx.HTTPError:
            return  # closed by stop()

    def stop(self) -> None:
        self.client.close()
        self.t.join(5)


def message(seq: int, values: dict[str, float]) -> bytes:
    return json.dumps({"seq": seq, "ts": int(time.time() * 1000), "values": values}).encode()


def steady(broker: Broker, seconds: float) -> tuple[dict[str, float], int]:
    """Every station every EVERY_S at a low fill; every PROBE_EVERY_S one more station at 85 %.
    Returns (probe send time by station, messages published)."""
    pub = Publisher(broker)
    seqs = [0] * STATIONS
    probes: dict[str, float] = {}
    rng = random.Random(11)
    per_s = STATIONS / EVERY_S
    start = time.perf_counter()
    sent, next_probe, probe_i = 0, start, 0
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) * per_s)
        while sent < due:
            i = sent % STATIONS
            seqs[i] += 1
            fill = 0.3 + rng.random() * 0.02
            values = {"garbage.fill": fill, "garbage.temp_c": 6.5, "heartbeat": 1.0}
            pub.send(f"ST{i:04d}", message(seqs[i], values))
            sent += 1
        if now >= next_probe:
            # Probes walk the stations from the end, so each is a fresh crossing of 80 %.
            i = STATIONS - 1 - probe_i
            probe_i += 1
            seqs[i] += 1
            sid = f"ST{i:04d}"
            probes[sid] = time.time()
            pub.send(sid, message(seqs[i], {"garbage.fill": 0.85, "garbage.temp_c": 6.5}))
            next_probe += PROBE_EVERY_S
        time.sleep(0.002)
    pub.close()
    return probes, sent + len(probes)


def blast(broker: Broker, n: int) -> None:
    """A backlog of station messages for stations that are not probes (seq far above)."""
    pubs = [Publisher(broker) for _ in range(4)]
    for k in range(n):
        i = k % (STATIONS // 2)
        values = {"garbage.fill": 0.31, "recycling_pet.fill": 0.2, "heartbeat": 1.0}
        pubs[k % 4].send(f"ST{i:04d}", message(1_000_000 + k, values))
    for pub in pubs:
        pub.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def run(url: str, broker: Broker, seconds: float, backlog: int) -> dict[str, float]:
    p = setup(url, broker)
    env = {
        **os.environ,
        "ONECITY_ENVIRONMENT": "test",
        "ONECITY_DATABASE_URL": url,
        "ONECITY_MODULES": "waste",
        "ONECITY_MQTT_HOST": broker.host,
        "ONECITY_MQTT_PORT": str(broker.port),
        "ONECITY_MQTT_CLIENT_ID": CLIENT_ID,
    }
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    with log.open("wb") as f:
        ingest = subprocess.Popen(
            [sys.executable, "-c", "from onecity.cli import app; app()", "ingest"],
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    try:
        with served(url, ONECITY_MODULES="waste") as base:
            r = httpx.post(
                f"{base}/api/v1/auth/login",
                json={"username": "bench.crew", "password": PASSWORD},
                timeout=10,
            )
            r.raise_for_status()
            crew = CrewStream(base, r.json()["token"])
            if not crew.ready.wait(10):
                raise SystemExit("the crew's event stream did not open")
            c0, t0 = stored(p), time.perf_counter()
            probes, published = steady(broker, seconds)
            # Let the tail of the steady load land, then read what was stored meanwhile.
            deadline = time.monotonic() + 30
            while stored(p) < c0 + published and time.monotonic() < deadline:
                time.sleep(0.05)
            steady_rate = (stored(p) - c0) / (time.perf_counter() - t0)
            deadline = time.monotonic() + 10
            while len(set(probes) & set(crew.raised)) < len(probes) and time.monotonic() < deadline:
                time.sleep(0.05)
            latencies = [(crew.raised[s] - t) * 1000 for s, t in probes.items() if s in crew.raised]
            missed = len(probes) - len(latencies)

            c1 = stored(p)
            blast(broker, backlog)
            t1 = time.perf_counter()
            deadline = time.monotonic() + 300
            first: tuple[float, int] | None = None
            while (got := stored(p)) < c1 + backlog:
                if first is None and got > c1:
                    first = (time.perf_counter(), got)
                if time.monotonic() > deadline or ingest.poll() is not None:
                    tail = log.read_text()[-3000:]
                    raise SystemExit(f"ingest stuck at {got - c1} of {backlog}:\n{tail}")
                time.sleep(0.02)
            t_end = time.perf_counter()
            tf, cf = first or (t1, c1)
            max_rate = (c1 + backlog - cf) / max(t_end - tf, 1e-9)
            crew.stop()
    finally:
        ingest.send_signal(signal.SIGTERM)
        try:
            ingest.wait(30)
        except subprocess.TimeoutExpired:
            ingest.kill()
        p.db.dispose()
    return {
        "stations": STATIONS,
        "report_every_s": EVERY_S,
        "probes": len(probes),
        "missed": missed,
        "alert_to_crew_p50_ms": round(pct(latencies, 50), 1),
        "alert_to_crew_p99_ms": round(pct(latencies, 99), 1),
        "alert_to_crew_max_ms": round(max(latencies, default=math.nan), 1),
        "offered_reports_per_s": round(STATIONS / EVERY_S, 1),
        "station_reports_per_s": round(steady_rate, 1),
        "station_reports_max_per_s": round(max_rate, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    seconds = 30.0 if args.quick else 120.0
    backlog = 10_000 if args.quick else 50_000
    with (
        tempfile.TemporaryDirectory() as tmp,
        temp_pg_database() as url,
        Broker(Path(tmp) / "mosquitto", BENCH_PORT) as broker,
    ):
        figures: dict[str, Any] = run(url, broker, seconds, backlog)
    print_table(
        f"iTrash station alerts ({'quick' if args.quick else 'full'}; {os.cpu_count()} CPUs; "
        f"{seconds:.0f} s of steady load, backlog {backlog})",
        [(k, str(v)) for k, v in figures.items()],
    )
    print_json(figures)


if __name__ == "__main__":
    main()
