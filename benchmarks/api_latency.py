"""API latency at a fixed request rate: p50/p99 for the device read and list endpoints.

Run: python benchmarks/api_latency.py --quick
Seeds N devices (with telemetry, so the device read includes latest values and accounts) in a
fresh PostgreSQL database, serves the real app with uvicorn, and sends requests on a fixed
schedule (open loop: a slow response does not slow the sender, so queueing shows in p99).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_json, print_table, served, temp_pg_database
from onecity.bootstrap import migrate, seed_reference
from onecity.core.auth.secrets import hash_password
from onecity.core.devices.ingest import Msg
from onecity.core.models import Device, User
from onecity.core.modules import start_platform
from onecity.settings import Settings


def seed(url: str, devices: int) -> list[str]:
    migrate(url)
    p = start_platform(Settings(environment="test", database_url=url))
    seed_reference(p)
    rng = random.Random(7)
    ids = [f"dev-{i:06d}" for i in range(devices)]
    with p.db.session() as s:
        s.add(
            User(
                username="bench",
                password_hash=hash_password("bench-password"),
                role="admin",
                department_code="doit",
            )
        )
        s.add_all(
            Device(
                id=i,
                name=i,
                type="litter_bin",
                department_code="epb",
                lon=121.45 + rng.random() * 0.2,
                lat=24.97 + rng.random() * 0.22,
            )
            for i in ids
        )
    now = int(time.time() * 1000)
    msgs = [
        Msg(i, q, now - (20 - q) * 60_000, (("fill", rng.random()), ("temperature", 25.0)))
        for i in ids
        for q in range(1, 21)
    ]
    for k in range(0, len(msgs), 5000):
        p.ingester.write(msgs[k : k + 5000])
    p.db.dispose()
    return ids


async def run_load(
    base: str, token: str, ids: list[str], rate: float, seconds: float
) -> dict[str, list[float]]:
    lat: dict[str, list[float]] = {"read": [], "list": []}
    errors = 0
    rng = random.Random(1)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=10, headers={"Authorization": f"Bearer {token}"}
    ) as c:

        async def one(kind: str) -> None:
            nonlocal errors
            if kind == "read":
                path = f"/api/v1/devices/{rng.choice(ids)}"
            else:
                w, s = 121.45 + rng.random() * 0.15, 24.97 + rng.random() * 0.17
                path = f"/api/v1/devices?bbox={w},{s},{w + 0.05},{s + 0.05}&limit=200"
            t0 = time.perf_counter()
            r = await c.get(path)
            lat[kind].append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                errors += 1

        tasks = []
        t_start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            due = t_start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one("read" if i % 2 == 0 else "list")))
        await asyncio.gather(*tasks)
    if errors:
        raise SystemExit(f"{errors} requests failed")
    return lat


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1] if len(xs) > 1 else 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    devices = 20_000 if args.quick else 100_000
    rate, seconds = (50.0, 10.0) if args.quick else (100.0, 30.0)
    with temp_pg_database() as url:
        ids = seed(url, devices)
        # One API process: on this 2-core machine PostgreSQL and the load generator need the
        # other core (uvicorn with --workers 2 measured slower here, not faster).
        with served(url) as base:
            tok = httpx.post(
                f"{base}/api/v1/auth/login",
                json={"username": "bench", "password": "bench-password"},
            ).json()
            asyncio.run(run_load(base, tok["token"], ids, rate / 4, 2))  # warm-up
            lat = asyncio.run(run_load(base, tok["token"], ids, rate, seconds))
    fig = {
        "devices": devices,
        "rate_per_s": rate,
        "device_read_p50_ms": round(pct(lat["read"], 50), 2),
        "device_read_p99_ms": round(pct(lat["read"], 99), 2),
        "device_list_p50_ms": round(pct(lat["list"], 50), 2),
        "device_list_p99_ms": round(pct(lat["list"], 99), 2),
    }
    print_table(
        f"API latency, PostgreSQL, one API process, {devices} devices, {rate:g} req/s for "
        f"{seconds:g} s (open loop; half device reads, half 200-device bbox pages)",
        [(k, str(v)) for k, v in fig.items()],
    )
    print_json(fig)


if __name__ == "__main__":
    main()
