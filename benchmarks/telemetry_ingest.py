"""Telemetry ingest throughput, end to end, against the database's own limit.

Run: .venv/bin/python benchmarks/telemetry_ingest.py --quick     (under a minute)

Measures, in one run on this machine:
  * HTTP batches into PostgreSQL: the real app under uvicorn, concurrent device clients each
    posting batches of 200 messages x 5 values with their own device keys;
  * MQTT QoS 1 into PostgreSQL: messages pre-loaded into our own Mosquitto (the project's
    config) for the ingester's persistent session, then `onecity ingest` started; timed from
    the first to the last stored message;
  * HTTP batches into SQLite;
  * the raw COPY rate of the same rows into the same PostgreSQL table (the ceiling);
and afterwards counts, in the database, messages lost and readings stored twice (must be 0).
The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psycopg
from sqlalchemy import func, select

# The repository root, for tests.mqtt_broker: the benchmark runs Mosquitto as the tests do.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.mqtt_broker import BENCH_PORT, Broker

from _common import print_json, print_table, served, temp_pg_database
from onecity.bootstrap import migrate, seed_reference
from onecity.core.auth.secrets import new_device_key, token_hash
from onecity.core.devices.mqtt import MqttIngester
from onecity.core.models import DeliveryAccount, Device, DeviceCredential, Reading
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.settings import Settings

KEYS = ("fill", "temperature", "battery", "humidity", "tilt")
BATCH = 200


def platform(url: str, **over: object) -> Platform:
    s = Settings(environment="test", database_url=url, **over)  # type: ignore[arg-type]
    return start_platform(s)


def register(p: Platform, prefix: str, n: int, keys: bool = False) -> dict[str, str]:
    ids = [f"{prefix}-{i:04d}" for i in range(n)]
    out: dict[str, str] = {}
    with p.db.session() as s:
        # A type that declares no value ranges: the synthetic values (0-99.9 for every key)
        # are no litter bin's (its fill is 0-1), and would be refused as impossible.
        s.add_all(Device(id=i, name=i, type="bench_sensor", department_code="epb") for i in ids)
        s.flush()
        for i in ids:
            if keys:
                key_id, secret, full = new_device_key()
                s.add(DeviceCredential(key_id=key_id, device_id=i, secret_hash=token_hash(secret)))
                out[i] = full
            else:
                out[i] = ""
    return out


def message(seq: int, now_ms: int) -> dict[str, object]:
    return {
        "seq": seq,
        "ts": now_ms - 60_000 + seq % 50_000,
        "values": {k: round((seq * (j + 3)) % 1000 / 10, 1) for j, k in enumerate(KEYS)},
    }


def check(p: Platform, prefix: str, expected_msgs: int) -> tuple[int, int]:
    """(lost, duplicated) for the devices named prefix-*, from the database itself."""
    with p.db.read() as s:
        where = Reading.device_id.like(f"{prefix}-%")
        rows = s.execute(select(func.count()).select_from(Reading).where(where)).scalar_one()
        msgs = s.execute(
            select(func.count()).select_from(
                select(Reading.device_id, Reading.seq).where(where).distinct().subquery()
            )
        ).scalar_one()
        received = s.execute(
            select(func.coalesce(func.sum(DeliveryAccount.received), 0)).where(
                DeliveryAccount.device_id.like(f"{prefix}-%")
            )
        ).scalar_one()
    lost = expected_msgs - msgs
    # Rows beyond one per (device, seq, key), or messages counted as new twice.
    duplicated = max(0, rows - msgs * len(KEYS)) + max(0, int(received) - msgs)
    return lost, duplicated


def settle(url: str) -> None:
    """Start each measurement from the same state: no dirty pages or pending vacuum left by
    the previous one (they would be charged to whichever run happens to trigger them)."""
    with psycopg.connect(
        url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute("VACUUM ANALYZE readings")
        conn.execute("CHECKPOINT")


# --- HTTP -----------------------------------------------------------------------------------
def http_run(
    url: str, prefix: str, n_msgs: int, devices: int, clients: int, workers: int
) -> tuple[float, int, int]:
    p = platform(url)
    keys = register(p, prefix, devices, keys=True)
    now = int(time.time() * 1000)
    per_dev = n_msgs // devices
    jobs: list[list[tuple[str, bytes]]] = [[] for _ in range(clients)]
    for d, (_dev, key) in enumerate(sorted(keys.items())):
        for start in range(1, per_dev + 1, BATCH):
            body = {"messages": [message(q, now) for q in range(start, start + BATCH)]}
            jobs[d % clients].append((key, json.dumps(body).encode()))
    errors: list[str] = []
    with served(url, workers=workers) as base:

        def client(mine: list[tuple[str, bytes]]) -> None:
            with httpx.Client(base_url=base, timeout=60) as c:
                for key, body in mine:
                    r = c.post(
                        "/api/v1/telemetry",
                        content=body,
                        headers={"X-Device-Key": key, "Content-Type": "application/json"},
                    )
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")

        threads = [threading.Thread(target=client, args=(j,)) for j in jobs]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"HTTP errors ({len(errors)}), first: {errors[0]}")
    lost, dup = check(p, prefix, per_dev * devices)
    p.db.dispose()
    return per_dev * devices * len(KEYS) / elapsed, lost, dup


# --- MQTT -----------------------------------------------------------------------------------
def preload(broker: Broker, ids: list[str], per_dev: int, publishers: int) -> float:
    """Publish every message at QoS 1 and wait for the broker's PUBACKs; return msg/s."""
    now = int(time.time() * 1000)

    def publish(mine: list[str]) -> None:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex}")
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.connect(broker.host, broker.port)
        c.loop_start()
        infos = [
            c.publish(
                f"onecity/devices/{dev}/telemetry", json.dumps(message(seq, now)).encode(), qos=1
            )
            for seq in range(1, per_dev + 1)
            for dev in mine
        ]
        for info in infos:
            info.wait_for_publish(120)
        c.disconnect()
        c.loop_stop()

    threads = [
        threading.Thread(target=publish, args=(ids[i::publishers],)) for i in range(publishers)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(ids) * per_dev / (time.perf_counter() - t0)


def mqtt_run(url: str, broker: Broker, n_msgs: int, devices: int) -> dict[str, float]:
    p = platform(url, mqtt_host=broker.host, mqtt_port=broker.port, mqtt_client_id="onecity-bench")
    ids = sorted(register(p, "mq", devices))
    per_dev = n_msgs // devices
    n = per_dev * devices
    # Create the persistent session, then let the broker hold everything for it.
    MqttIngester(p, relay_events=False).start().stop()
    pub_rate = preload(broker, ids, per_dev, publishers=4)
    env = {
        **os.environ,
        "ONECITY_ENVIRONMENT": "test",
        "ONECITY_DATABASE_URL": url,
        "ONECITY_MQTT_HOST": broker.host,
        "ONECITY_MQTT_PORT": str(broker.port),
        "ONECITY_MQTT_CLIENT_ID": "onecity-bench",
    }
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    with log.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from onecity.cli import app; app()", "ingest"],
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
        )

    def stored() -> int:
        with p.db.read() as s:
            return int(
                s.execute(
                    select(func.coalesce(func.sum(DeliveryAccount.received), 0)).where(
                        DeliveryAccount.device_id.like("mq-%")
                    )
                ).scalar_one()
            )

    first: tuple[float, int] | None = None
    deadline = time.monotonic() + 600
    while (got := stored()) < n:
        if first is None and got > 0:
            first = (time.perf_counter(), got)
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"MQTT ingest stuck at {got} of {n}:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)
    t_end = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    if proc.wait(60) != 0:
        raise SystemExit(f"ingester exited badly:\n{log.read_text()[-3000:]}")
    t0, c0 = first or (t_end, 0)
    msgs_per_s = (n - c0) / max(t_end - t0, 1e-9)
    lost, dup = check(p, "mq", n)
    p.db.dispose()
    return {
        "msgs": msgs_per_s,
        "readings": msgs_per_s * len(KEYS),
        "publish": pub_rate,
        "lost": lost,
        "dup": dup,
    }


# --- the ceiling ----------------------------------------------------------------------------
def copy_run(url: str, n_rows: int) -> float:
    now = int(time.time() * 1000)
    per_msg = len(KEYS)
    rows = [
        (f"copy-{m % 100:04d}", m // 100 + 1, k, now, float(m % 97))
        for m in range(n_rows // per_msg)
        for k in KEYS
    ]
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        t0 = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY readings (device_id, seq, key, ts_ms, value) FROM STDIN (FORMAT BINARY)"
            ) as cp,
        ):
            cp.set_types(["text", "int8", "text", "int8", "float8"])
            for r in rows:
                cp.write_row(r)
        conn.commit()
        return len(rows) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs, under a minute")
    ap.add_argument(
        "--http-workers",
        type=int,
        default=1,
        help="uvicorn workers (on 2 CPUs one leaves the other to PostgreSQL)",
    )
    ap.add_argument("--clients", type=int, default=8, help="concurrent HTTP device clients")
    args = ap.parse_args()
    http_n, mqtt_n, sqlite_n, copy_n = (
        (20_000, 40_000, 10_000, 100_000) if args.quick else (100_000, 200_000, 40_000, 500_000)
    )
    with temp_pg_database() as pg, tempfile.TemporaryDirectory() as tmp:
        migrate(pg)
        seed_reference(platform(pg))
        lite = f"sqlite:///{tmp}/bench.db"
        migrate(lite)
        seed_reference(platform(lite))

        settle(pg)
        http_pg, lost1, dup1 = http_run(pg, "http", http_n, 100, args.clients, args.http_workers)
        settle(pg)
        with Broker(Path(tmp) / "mosquitto", BENCH_PORT) as broker:
            mq = mqtt_run(pg, broker, mqtt_n, 100)
        http_lite, lost2, dup2 = http_run(lite, "lite", sqlite_n, 50, 4, 1)
        settle(pg)
        raw = copy_run(pg, copy_n)

    lost = lost1 + lost2 + int(mq["lost"])
    dup = dup1 + dup2 + int(mq["dup"])
    print_table(
        f"Telemetry ingest ({'quick' if args.quick else 'full'}; {os.cpu_count()} CPUs; "
        f"HTTP: {args.http_workers} uvicorn worker(s), {args.clients} clients, "
        f"{BATCH} msgs x {len(KEYS)} values per batch)",
        [
            ("HTTP -> PostgreSQL, readings/s", f"{http_pg:,.0f}"),
            ("MQTT QoS 1 -> PostgreSQL, readings/s", f"{mq['readings']:,.0f}"),
            ("MQTT QoS 1 -> PostgreSQL, messages/s", f"{mq['msgs']:,.0f}"),
            ("(publishing into Mosquitto, messages/s)", f"{mq['publish']:,.0f}"),
            ("HTTP -> SQLite, readings/s", f"{http_lite:,.0f}"),
            ("raw COPY into readings, rows/s", f"{raw:,.0f}"),
            ("lost messages", str(lost)),
            ("duplicated readings", str(dup)),
        ],
    )
    print_json(
        {
            "http_pg_readings_per_s": round(http_pg),
            "mqtt_pg_readings_per_s": round(mq["readings"]),
            "mqtt_pg_msgs_per_s": round(mq["msgs"]),
            "http_sqlite_readings_per_s": round(http_lite),
            "raw_pg_copy_rows_per_s": round(raw),
            "lost": lost,
            "duplicated": dup,
        }
    )
    if lost or dup:
        sys.exit(1)


if __name__ == "__main__":
    main()
