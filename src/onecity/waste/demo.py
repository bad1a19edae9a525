"""The iTrash part of `make demo`: stations at the real iTrash sites of Taipei's smart-city
project registry (projects 125, 154 and 264), their citizens' simulated EasyCards, and a
simulated kiosk per station uploading to the demo server over HTTP, as a real one would."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select

from onecity.core.auth.secrets import new_device_key, split_device_key, token_hash
from onecity.core.models import Device, DeviceCredential, User
from onecity.core.platform import Platform
from onecity.waste.kiosk.sim import KioskConfig, SimulatedKiosk, wallet_cards
from onecity.waste.models import WasteCard
from onecity.waste.schemas import CardIssueIn
from onecity.waste.service import STATION_TYPE, WasteService

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
                        label="demo kiosk",
                    )
                )
                keys[site.id] = full
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps(keys, indent=1))
    svc = WasteService(p.db, p.city)
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
