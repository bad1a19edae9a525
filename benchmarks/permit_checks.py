"""Permit checks: how long RPIC's check of one application takes with a city's books loaded.

Run: .venv/bin/python benchmarks/permit_checks.py --quick     (about 1-2 minutes on 2 cores)

For SQLite (a temporary file) and PostgreSQL (a throw-away database), each migrated by
`onecity.bootstrap.migrate`:
  * the books (benchmarks/permit_load.py, synthetic, NOT REAL DATA): 200,000 pipe segments
    from `pipe_gen.generate_count` over Taipei's districts, 100,000 permits along the same
    streets (80 %) or anywhere in the city (trenches 5-60 m x 0.5-3 m, pits 1-4 m; three
    years of dates around today; statuses that fit their dates), 300 dig bans (one in ten
    by road name only) and twelve no-dig periods (one in a district's outline), written by
    `bulk_insert` in batches of 5,000 (SQLite's R*Trees filled by the migration's triggers;
    PostgreSQL analysed afterwards, as autovacuum would);
  * applications placed like the permits, starting 2-26 weeks from today, each checked by
    `PermitService.check` as an admin: the call behind POST /api/v1/roadworks/permits/check
    (footprint parsing, the spatial index for permits, bans and pipes, the pure rules, the
    locate matches and the fee), minus HTTP and JSON. `check_p99_ms_*` is its 99th
    percentile wall time, one call at a time, after ten untimed calls;
  * what the index handed the rules, counted outside the timing with the same boxes
    `checks.check` uses: permits near (in space and days) and pipes near, per application.
The client, the database and anything else on the machine share its cores, so the table shows
the load average after the timed calls: a p99 measured on a busy machine is the machine's.
The last line printed is one JSON object with the headline figures (target: p99 <= 50 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import permit_load as load
from _common import print_json, print_table, temp_pg_database
from onecity.bootstrap import migrate, seed_reference
from onecity.core.auth.permissions import Principal, Role
from onecity.core.geo import CityProfile
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.roadworks.permits import checks, spatial
from onecity.roadworks.permits import schemas as sc
from onecity.roadworks.rules import footprint
from onecity.roadworks.services import RoadworksServices
from onecity.settings import Settings

PERMITS, PIPES, BANS = 100_000, 200_000, 300
WARM_UP = 10
TARGET_MS = 50.0
ADMIN = Principal(user_id=1, username="bench", role=Role.ADMIN, department="pwd")


@dataclass
class Run:
    """One database's figures."""

    name: str
    load_s: dict[str, float]
    size_mb: float
    load_avg: float  # the machine's 1-minute load average after the timed calls
    times_ms: list[float]
    cpu_ms: list[float]  # this process's CPU time per call: what contention does not inflate
    permits_near: list[int]
    pipes_near: list[int]
    conflicts: int  # applications with a clash or repeat-dig finding
    banned: int
    locates: int  # applications with at least one pipe owner to notify

    def pct(self, q: float) -> float:
        return float(np.percentile(self.times_ms, q))


def applications(city: load.City, n: int, seed: int) -> list[sc.PermitIn]:
    """Bodies as a client would send them: trenches as a line and a width, pits as a polygon."""
    rng = np.random.default_rng(seed)
    centre, direction, length, width = load.works_shapes(city, n, rng)
    half = direction * (length / 2)[:, None]
    lines = load._wgs84(city.profile, np.stack([centre - half, centre + half], axis=1)).tolist()
    rings = load._wgs84(city.profile, load.rectangles(centre, direction, length, width)).tolist()
    today = date.today()
    owners = list(load.UTILITIES)
    out = []
    for i in range(n):
        owner = owners[int(rng.integers(0, len(owners)))]
        _zh, _en, purpose, (d0, d1) = load.UTILITIES[owner]
        start = today + timedelta(days=int(rng.integers(14, 182)))
        trench = length[i] >= 5.0
        geometry: dict[str, Any] = (
            {"type": "LineString", "coordinates": lines[i]}
            if trench
            else {"type": "Polygon", "coordinates": [rings[i]]}
        )
        if not inside(city, geometry):
            continue  # a works shape drawn across the city's edge: the API would refuse it
        out.append(
            sc.PermitIn(
                applicant=owner,
                contractor=load.CONTRACTORS[int(rng.integers(0, len(load.CONTRACTORS)))],
                purpose=purpose,
                description="benchmark application",
                road=load.ROADS[int(rng.integers(0, len(load.ROADS)))],
                road_class=load.ROAD_CLASSES[int(rng.integers(0, 3))],
                geometry=geometry,
                width_m=round(float(width[i]), 2) if trench else None,
                depth_m=round(float(rng.uniform(d0, d1)), 2),
                start_date=start,
                end_date=start + timedelta(days=int(min(rng.geometric(1 / 8), 60)) - 1),
                night=bool(rng.random() < 0.1),
            )
        )
    return out


def inside(city: load.City, geometry: dict[str, Any]) -> bool:
    """Whether every vertex lies in the city's box and district polygons (what the API asks)."""
    coords = (
        geometry["coordinates"] if geometry["type"] == "LineString" else geometry["coordinates"][0]
    )
    return all(city.profile.place(lon, lat).district is not None for lon, lat in coords)


def near_counts(p: Platform, body: sc.PermitIn) -> tuple[int, int]:
    """Permits and pipes the index hands `checks.check` for this body (its own boxes)."""
    svc = p.services(RoadworksServices).permits
    fp = footprint.parse(p.city, body.geometry, crs=body.crs, width_m=body.width_m)
    cfg, rule = svc.config.rules, svc.config.locate
    gap = timedelta(days=cfg.repeat_gap_days)
    with p.db.read() as s:
        permits = spatial.permit_ids_near(
            s,
            spatial.grow(fp.box, cfg.near_m),
            (body.start_date - gap).toordinal(),
            (body.end_date + gap).toordinal(),
        )
        reach = spatial.grow(fp.box, rule.buffer_m + checks.MAX_PIPE_ACCURACY_M)
        pipes = spatial.pipe_ids_near(s, reach)
    return len(permits), len(pipes)


def size_mb(p: Platform, path: Path | None) -> float:
    if path is not None:
        return sum(f.stat().st_size for f in path.parent.glob(path.name + "*")) / 1e6
    with p.db.read() as s:
        return (
            float(s.execute(text("SELECT pg_database_size(current_database())")).scalar_one()) / 1e6
        )


def run(name: str, url: str, books: load.Books, apps: list[sc.PermitIn], path: Path | None) -> Run:
    migrate(url)
    p = start_platform(Settings(environment="test", database_url=url, modules="roadworks"))
    try:
        seed_reference(p)
        took = load.load(p.db.engine, books)
        began = time.monotonic()
        # Outside any transaction: the checkpoint and ANALYZE refuse to run inside one.
        raw = p.db.engine.raw_connection()
        try:
            if p.db.dialect == "sqlite":
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]
                raw.cursor().execute("ANALYZE")
        finally:
            raw.close()
        took["checkpoint" if p.db.dialect == "sqlite" else "analyze"] = time.monotonic() - began
        svc = p.services(RoadworksServices).permits
        for body in apps[:WARM_UP]:
            svc.check(ADMIN, body)
        times, cpu, outs = [], [], []
        for body in apps:
            began_cpu, began_wall = time.process_time(), time.perf_counter()
            out = svc.check(ADMIN, body)
            times.append((time.perf_counter() - began_wall) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            outs.append(out)
        counts = [near_counts(p, body) for body in apps]
        codes = [{f.code for f in o.findings} for o in outs]
        return Run(
            name=name,
            load_s=took,
            size_mb=size_mb(p, path),
            load_avg=os.getloadavg()[0],
            times_ms=times,
            cpu_ms=cpu,
            permits_near=[c[0] for c in counts],
            pipes_near=[c[1] for c in counts],
            conflicts=sum(1 for c in codes if c & {"clash", "repeat_dig"}),
            banned=sum(1 for c in codes if "dig_ban" in c),
            locates=sum(1 for o in outs if o.locate_owners),
        )
    finally:
        p.db.dispose()


def rows_of(r: Run, n: int) -> list[tuple[str, str]]:
    load_s = sum(r.load_s.values())
    parts = ", ".join(f"{k} {v:.1f}" for k, v in r.load_s.items())
    return [
        ("load (s)", f"{load_s:.1f}  ({parts})"),
        ("database size", f"{r.size_mb:,.0f} MB"),
        (f"checks timed ({WARM_UP} warm-up calls first)", f"{n}"),
        (f"load average ({os.cpu_count()} cores)", f"{r.load_avg:.1f}"),
        (
            "p50 / p95 / p99 / max (ms)",
            f"{r.pct(50):.1f} / {r.pct(95):.1f} / {r.pct(99):.1f} / {max(r.times_ms):.1f}",
        ),
        ("mean (ms)", f"{statistics.fmean(r.times_ms):.1f}"),
        (
            "client CPU per check, p50 / p99 (ms)",
            f"{np.percentile(r.cpu_ms, 50):.1f} / {np.percentile(r.cpu_ms, 99):.1f}",
        ),
        (
            "permits near, mean / max",
            f"{statistics.fmean(r.permits_near):.1f} / {max(r.permits_near)}",
        ),
        ("pipes near, mean / max", f"{statistics.fmean(r.pipes_near):.1f} / {max(r.pipes_near)}"),
        ("with a conflict / dig ban / locate", f"{r.conflicts} / {r.banned} / {r.locates}"),
        (f"p99 <= {TARGET_MS:g} ms", "yes" if r.pct(99) <= TARGET_MS else "NO"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="300 checks per database, not 2,000")
    args = ap.parse_args()
    n = 300 if args.quick else 2_000
    began = time.monotonic()
    city, books = load.make(CityProfile.load("taipei"), PERMITS, PIPES, BANS, seed=0)
    apps = applications(city, n + WARM_UP, seed=1)
    n = len(apps) - WARM_UP  # shapes drawn across the city edge are left out
    print_table(
        "synthetic books (NOT REAL DATA)",
        [
            (
                "pipes / permits / dig bans / no-dig periods",
                f"{len(books.pipes):,} / {len(books.permits):,} / {len(books.bans)} / "
                f"{len(books.embargoes)}",
            ),
            ("made in (s)", ", ".join(f"{k} {v:.1f}" for k, v in books.made_s.items())),
        ],
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="onecity-bench-") as tmp:
        path = Path(tmp) / "permits.db"
        runs.append(run("sqlite", f"sqlite:///{path}", books, apps, path))
    print_table(f"SQLite: PermitService.check, {n} applications", rows_of(runs[0], n))
    with temp_pg_database() as url:
        runs.append(run("pg", url, books, apps, None))
    print_table(f"PostgreSQL: PermitService.check, {n} applications", rows_of(runs[1], n))
    figures: dict[str, object] = {}
    for r in runs:
        figures[f"check_p99_ms_{r.name}"] = round(r.pct(99), 1)
        figures[f"check_p50_ms_{r.name}"] = round(r.pct(50), 1)
        figures[f"check_cpu_p50_ms_{r.name}"] = round(float(np.percentile(r.cpu_ms, 50)), 1)
        figures[f"permits_near_mean_{r.name}"] = round(statistics.fmean(r.permits_near), 1)
        figures[f"pipes_near_mean_{r.name}"] = round(statistics.fmean(r.pipes_near), 1)
    figures.update(permits=len(books.permits), pipes=len(books.pipes), checks=n)
    figures["run_s"] = round(time.monotonic() - began)
    print_json(figures)


if __name__ == "__main__":
    main()
