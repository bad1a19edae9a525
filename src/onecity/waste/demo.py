"""The iTrash part of `make demo`: stations at the real iTrash sites of Taipei's smart-city
project registry (projects 125, 154 and 264), their citizens' simulated EasyCards, and a
simulated kiosk per station uploading to the demo server over HTTP, as a real one would."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Table, func, select

from onecity.core import clock
from onecity.core.auth.secrets import new_device_key, split_device_key, token_hash
from onecity.core.db import bulk_insert
from onecity.core.devices.broker_auth import mqtt_password_hash
from onecity.core.errors import AppError
from onecity.core.models import Device, DeviceCredential, Reading, User
from onecity.core.platform import Platform
from onecity.waste import demo_fleet
from onecity.waste.jobs.models import WasteJob
from onecity.waste.kiosk.sim import KioskConfig, SimulatedKiosk, wallet_cards
from onecity.waste.ledger.models import WasteCard
from onecity.waste.ledger.schemas import CardIssueIn
from onecity.waste.planning.forecast import offset_hours
from onecity.waste.rules.stations import STATION_TYPE
from onecity.waste.services import WasteServices
from onecity.waste.simulation.station_config import COMPARTMENTS, FAULTS, INCIDENTS, SimConfig
from onecity.waste.simulation.stations import StationSim

log = logging.getLogger(__name__)

PROJECTS = ("125", "154", "264")  # the iTrash projects in it_tpmo_poc_location.geojson
CARDS_PER_STATION = 40
CARD_BALANCE = 5000  # enough for days of simulated visits (no top-ups in the demo yet)
DEMO_CITIZEN = "citizen"


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    lon: float
    lat: float
    meta: dict[str, Any]


def sites() -> list[Site]:
    """One station per iTrash location of the project registry (shipped in demo_data)."""
    raw = (resources.files("onecity.demo_data") / "it_tpmo_poc_location.geojson").read_text("utf-8")
    out: list[Site] = []
    counts: dict[str, int] = {}
    for f in json.loads(raw)["features"]:
        props = f["properties"]
        project = str(props.get("id"))
        if project not in PROJECTS:
            continue
        counts[project] = counts.get(project, 0) + 1
        lon, lat = f["geometry"]["coordinates"][:2]
        out.append(
            Site(
                id=f"IT{project}-{counts[project]}",
                name=f"iTrash {props.get('locname') or props.get('address')}",
                lon=float(lon),
                lat=float(lat),
                meta={
                    "project": project,
                    "project_name": props.get("name"),
                    "address": props.get("address"),
                    "place": props.get("locname"),
                    "source": "臺北智慧城市專案辦公室 it_tpmo_poc_location (data.taipei)",
                },
            )
        )
    return out


def seed(p: Platform, keys_file: Path) -> dict[str, str]:
    """Stations, their device keys (kept in keys_file), their citizens' cards, and one card
    registered to the demo citizen. Safe to run at every start."""
    keys: dict[str, str] = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    with p.db.session() as s:
        for site in sites():
            if s.get(Device, site.id) is None:
                s.add(
                    Device(
                        id=site.id,
                        name=site.name,
                        type=STATION_TYPE,
                        department_code="epb",
                        lon=site.lon,
                        lat=site.lat,
                        district=p.city.place(site.lon, site.lat).district,
                        meta=site.meta,
                        heartbeat_s=120,
                    )
                )
                s.flush()
            kept = keys.get(site.id)
            split = split_device_key(kept) if kept else None
            if split is None or s.get(DeviceCredential, split[0]) is None:
                key_id, secret, full = new_device_key()
                s.add(
                    DeviceCredential(
                        key_id=key_id,
                        device_id=site.id,
                        secret_hash=token_hash(secret),
                        mqtt_hash=mqtt_password_hash(full),
                        label="demo kiosk",
                    )
                )
                keys[site.id] = full
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps(keys, indent=1))
    demo_fleet.seed_trucks(p)
    svc = p.services(WasteServices).ledger
    cards = [
        CardIssueIn(card_id=c, balance=b, counter=n)
        for site in sites()
        for c, b, n in wallet_cards(site.id, CARDS_PER_STATION, CARD_BALANCE)
    ]
    svc.issue(cards, actor="demo")
    with p.db.session() as s:
        citizen = s.execute(select(User.id).where(User.username == DEMO_CITIZEN)).scalar()
        first = s.get(WasteCard, cards[0].card_id)
        if citizen is not None and first is not None and first.owner_user_id is None:
            first.owner_user_id = citizen
    return keys


def start_kiosks(
    server: str, keys: dict[str, str], var: Path, stop: threading.Event, rate: float = 3.0
) -> list[threading.Thread]:
    """A simulated kiosk per station, each in its own thread with its own journal and wallet
    under var/kiosks/, talking to `server` over HTTP."""
    folder = var / "kiosks"
    folder.mkdir(parents=True, exist_ok=True)
    threads = []
    for n, site in enumerate(sites()):
        cfg = KioskConfig(
            station=site.id,
            server=server,
            key=keys[site.id],
            journal=folder / f"{site.id}.sqlite",
            wallet=folder / f"{site.id}-wallet.sqlite",
            cards=CARDS_PER_STATION,
            card_balance=CARD_BALANCE,
            rate=rate,
            batch_minutes=60,
            seed=n,
        )

        def run(cfg: KioskConfig = cfg) -> None:
            time.sleep(2)  # let the server bind first
            try:
                SimulatedKiosk(cfg, quiet=True).run(stop)
            except Exception:
                log.exception("demo kiosk %s stopped", cfg.station)

        t = threading.Thread(target=run, name=f"kiosk-{site.id}", daemon=True)
        t.start()
        threads.append(t)
    return threads


# Station telemetry in the demo: the simulator at ten times a typical station's visits, so a
# person watching sees compartments fill within the hour and a full one raise a crew job.
DEMO_SIM = SimConfig(visits_per_day=1500.0)
# Three days of each station's past, sampled every 15 minutes, so the demo's forecasts have
# history to learn from (they fall back to a flat rate with less than two days).
HISTORY = timedelta(days=3)
HISTORY_EVERY = timedelta(minutes=15)
_READINGS = cast(Table, Reading.__table__)
HISTORY_EMPTY_AT = 0.9  # the past's crews empty a compartment about this full
TELEMETRY_EVERY_S = 10.0
HAND_OVER_EVERY = 6  # telemetry ticks: once a minute
CREW_ARRIVES_S = 20.0  # after a crew accepts a job, it is at the station this much later


def start_station_telemetry(
    p: Platform, server: str, keys: dict[str, str], stop: threading.Event
) -> threading.Thread:
    """Each demo station's telemetry from the simulator, posted every 10 s with its device key.
    When a crew accepts a job, the simulated crew arrives: it empties the compartment or
    repairs the fault, and the telemetry (not the close button) shows the result."""

    def run() -> None:
        time.sleep(2)  # let the server bind first
        now = clock.now()
        # the stations' usage follows the city's local hours (its profile's time zone)
        local = offset_hours(ZoneInfo(p.city.timezone), now)
        config = replace(DEMO_SIM, utc_offset_hours=local)
        sims = {
            site.id: StationSim(site.id, seed=n, config=config, start=now - HISTORY)
            for n, site in enumerate(sites())
        }
        handled: set[int] = set()
        with httpx.Client(base_url=server, timeout=30) as client:
            # The stations' past: the forecasts and so the collection plans learn from it.
            try:
                _history(p, sims, now)
                _plan_days(p)
                demo_fleet.hand_over(p)
            except Exception:
                log.exception("demo station history and plans")
            ticks = 0
            while not stop.wait(TELEMETRY_EVERY_S):
                ticks += 1
                try:
                    _crews_at_work(p, sims, handled)
                    _report(client, sims, keys)
                    if ticks % HAND_OVER_EVERY == 0:
                        demo_fleet.hand_over(p)  # the crew account changes trucks with the shift
                except Exception:  # the demo keeps going; the log says what went wrong
                    log.exception("demo station telemetry")

    t = threading.Thread(target=run, name="station-telemetry", daemon=True)
    t.start()
    return t


def _report(
    client: httpx.Client,
    sims: dict[str, StationSim],
    keys: dict[str, str],
    now: datetime | None = None,
) -> None:
    now = now or clock.now()
    for sid, sim in sims.items():
        samples = sim.advance(now)
        if not samples:
            continue
        messages = [
            {
                # Milliseconds since the epoch: unique per station across demo restarts.
                "seq": int(x.observed_at.timestamp() * 1000),
                "ts": x.observed_at.isoformat(),
                "values": x.values,
            }
            for x in samples
        ]
        for i in range(0, len(messages), 500):
            r = client.post(
                "/api/v1/telemetry",
                headers={"X-Device-Key": keys[sid]},
                json={"messages": messages[i : i + 500]},
            )
            if r.status_code != 200:
                log.warning("demo station %s telemetry refused: %s", sid, r.text[:200])


def _history(p: Platform, sims: dict[str, StationSim], now: datetime) -> None:
    """The simulated past, one sample per 15 minutes with crews emptying what got full,
    imported straight into the readings as a city imports an old system's history: it
    teaches the forecasts and raises no alerts or jobs for long-gone conditions. A station
    that has readings already (the demo restarted) gets only what is older than its first,
    so no moment is recorded twice."""
    with p.db.read() as s:
        oldest = dict(
            s.execute(
                select(Reading.device_id, func.min(Reading.ts_ms))
                .where(Reading.device_id.in_(list(sims)))
                .group_by(Reading.device_id)
            ).all()
        )
    rows = []
    for sid, sim in sims.items():
        before = oldest.get(sid) or int(now.timestamp() * 1000) + 1
        t = now - HISTORY
        while t < now:
            t = min(t + HISTORY_EVERY, now)
            samples = sim.advance(t)
            if not samples:
                continue
            last = samples[-1]
            ms = int(last.observed_at.timestamp() * 1000)
            if ms < before:
                rows += [
                    {"device_id": sid, "seq": ms, "key": k, "ts_ms": ms, "value": float(v)}
                    for k, v in last.values.items()
                ]
            for c in COMPARTMENTS:
                if last.values.get(f"{c}.fill", 0.0) >= HISTORY_EMPTY_AT:
                    sim.empty(c, t)
            for fault in FAULTS:
                if sim.active.get(fault):
                    sim.repair(fault, t)
    with p.db.session() as s:
        conn = s.connection()
        for i in range(0, len(rows), 5000):
            bulk_insert(conn, _READINGS, rows[i : i + 5000])


def _plan_days(p: Platform) -> None:
    """Today's and tomorrow's collection plans, from the history just posted."""

    planner = p.services(WasteServices).planner
    today = planner.today()
    for day in (today, today + timedelta(days=1)):
        try:
            planner.plan_day(day, "demo", source="demo")
        except AppError as e:
            log.warning("demo plan for %s: %s", day, e)


def _crews_at_work(p: Platform, sims: dict[str, StationSim], handled: set[int]) -> None:
    """Accepted jobs whose crew has had time to arrive: empty or repair at the station."""
    now = clock.now()
    with p.db.read() as s:
        jobs = s.execute(
            select(WasteJob).where(
                WasteJob.status != "open",
                WasteJob.accepted_at.is_not(None),
                WasteJob.station_id.in_(list(sims)),
            )
        ).scalars()
        due = [
            (j.id, j.station_id, j.kind, j.compartment, j.detail)
            for j in jobs
            if j.id not in handled
            and j.accepted_at is not None
            and (now - j.accepted_at).total_seconds() >= CREW_ARRIVES_S
        ]
    for job_id, sid, kind, compartment, detail in due:
        handled.add(job_id)
        sim = sims[sid]
        if kind in ("full", "full_soon") and compartment:
            sim.empty(compartment, now)
        elif kind == "fire":
            sim.repair("fire", now)
        elif kind == "temperature_high":
            sim.repair("cooling", now)
        elif kind == "fault" and detail in INCIDENTS:
            sim.repair(detail, now)
        elif kind == "offline":
            sim.repair("network", now)
