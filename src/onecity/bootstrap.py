"""Migrations, reference data from the city profile, and the demo city."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core.auth.permissions import Role
from onecity.core.auth.secrets import (
    hash_password,
    new_device_key,
    split_device_key,
    token_hash,
)
from onecity.core.devices.broker_auth import mqtt_password_hash
from onecity.core.models import AlertRule, Department, Device, DeviceCredential, User
from onecity.core.platform import Platform

ROOT = Path(__file__).resolve().parents[2]


def migrate(url: str) -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


def seed_reference(p: Platform) -> None:
    """Departments come from the city profile; re-running updates names, adds new ones."""
    with p.db.session() as s:
        for d in p.city.departments:
            row = s.get(Department, d.code)
            if row is None:
                s.add(Department(code=d.code, name_zh=d.zh, name_en=d.en))
            else:
                row.name_zh, row.name_en = d.zh, d.en


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    department: str | None


DEMO_PASSWORD = "onecity-demo"  # noqa: S105 - printed on purpose: it is the demo
DEMO_USERS = [
    DemoLogin("admin", DEMO_PASSWORD, Role.ADMIN, "doit"),
    DemoLogin("epb.operator", DEMO_PASSWORD, Role.OPERATOR, "epb"),
    DemoLogin("epb.crew", DEMO_PASSWORD, Role.CREW, "epb"),
    DemoLogin("police.officer", DEMO_PASSWORD, Role.OFFICER, "police"),
    DemoLogin("police.supervisor", DEMO_PASSWORD, Role.SUPERVISOR, "police"),
    DemoLogin("fire.dispatcher", DEMO_PASSWORD, Role.DISPATCHER, "fire"),
    DemoLogin("pwd.operator", DEMO_PASSWORD, Role.OPERATOR, "pwd"),
    DemoLogin("pwd.contractor", DEMO_PASSWORD, Role.CONTRACTOR, "pwd"),
    # Utilities' staff: they file their own permits and answer locate requests.
    DemoLogin("twc.staff", DEMO_PASSWORD, Role.CONTRACTOR, "pwd"),
    DemoLogin("taipower.staff", DEMO_PASSWORD, Role.CONTRACTOR, "pwd"),
    DemoLogin("cht.staff", DEMO_PASSWORD, Role.CONTRACTOR, "pwd"),
    DemoLogin("gas.staff", DEMO_PASSWORD, Role.CONTRACTOR, "pwd"),
    DemoLogin("sewer.staff", DEMO_PASSWORD, Role.CONTRACTOR, "pwd"),
    DemoLogin("edu.guard", DEMO_PASSWORD, Role.SCHOOL_GUARD, "edu"),
    DemoLogin("citizen", DEMO_PASSWORD, Role.CITIZEN, None),
]


def _in_bounds(p: Platform, lon: float, lat: float) -> bool:
    w, s, e, n = p.city.bounds
    return w <= lon <= e and s <= lat <= n


def _spread(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Every k-th row, so a small demo still covers the whole city (the source files are
    ordered by district)."""
    if n <= 0:
        return []
    step = max(1, len(rows) // n)
    return rows[::step][:n]


def demo_devices(p: Platform, youbike: int, bins: int) -> list[dict[str, object]]:
    base = resources.files("onecity.demo_data")
    out: list[dict[str, object]] = []
    stations = json.loads((base / "youbike_immediate_20241207.json").read_text("utf-8"))
    for st in _spread(stations, youbike):
        lon, lat = float(st["longitude"]), float(st["latitude"])
        if not _in_bounds(p, lon, lat):
            continue
        out.append(
            {
                "id": f"ybk-{st['sno']}",
                "name": st["sna"].replace("YouBike2.0_", ""),
                "type": "bike_dock",
                "department": "doit",
                "lon": lon,
                "lat": lat,
                "meta": {"docks": int(st["total"]), "address": st["ar"]},
            }
        )
    litter = json.loads((base / "taipei_pedestrian_bins.json").read_text("utf-8"))
    for b in _spread(litter, bins):
        lon, lat = float(b["longitude"]), float(b["latitude"])
        if not _in_bounds(p, lon, lat):
            continue
        out.append(
            {
                "id": b["id"],
                "name": b["address"],
                "type": "litter_bin",
                "department": "epb",
                "lon": lon,
                "lat": lat,
                "meta": {"address": b["address"]},
            }
        )
    return out


def seed_demo(p: Platform, keys_file: Path, youbike: int = 150, bins: int = 150) -> None:
    """Demo users, devices at real Taipei places with keys (written to keys_file), rules."""
    seed_reference(p)
    keys: dict[str, str] = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    with p.db.session() as s:
        _demo_users(s)
        for d in demo_devices(p, youbike, bins):
            _demo_device(s, p, d, keys)
        if s.execute(select(AlertRule.id)).first() is None:
            s.add_all(_demo_rules())
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps(keys, indent=0))


def _demo_users(s: Session) -> None:
    for u in DEMO_USERS:
        if s.execute(select(User.id).where(User.username == u.username)).first() is None:
            s.add(
                User(
                    username=u.username,
                    display_name=u.username,
                    password_hash=hash_password(u.password),
                    role=u.role,
                    department_code=u.department,
                )
            )


def _demo_device(s: Session, p: Platform, d: dict[str, object], keys: dict[str, str]) -> None:
    """The device unless it is there, and a key for it unless keys_file has one the database
    knows (after a fresh database with an old keys file, new keys are issued)."""
    if s.get(Device, str(d["id"])) is None:
        lon, lat = float(d["lon"]), float(d["lat"])  # type: ignore[arg-type]
        s.add(
            Device(
                id=d["id"],
                name=d["name"],
                type=d["type"],
                department_code=d["department"],
                lon=lon,
                lat=lat,
                district=p.city.place(lon, lat).district,
                meta=d["meta"],
                heartbeat_s=30,
            )
        )
    kept = keys.get(str(d["id"]))
    split = split_device_key(kept) if kept else None
    if split is not None and s.get(DeviceCredential, split[0]) is not None:
        return
    s.flush()
    key_id, secret, full = new_device_key()
    s.add(
        DeviceCredential(
            key_id=key_id,
            device_id=str(d["id"]),
            secret_hash=token_hash(secret),
            mqtt_hash=mqtt_password_hash(full),
            label="demo",
        )
    )
    keys[str(d["id"])] = full


def _demo_rules() -> list[AlertRule]:
    return [
        AlertRule(
            name="清潔箱將滿",
            names={"zh-TW": "清潔箱將滿", "en": "Bin nearly full"},
            device_type="litter_bin",
            key="fill",
            direction="above",
            raise_at=0.8,
            clear_at=0.5,
            severity="warning",
        ),
        AlertRule(
            name="清潔箱高溫",
            names={"zh-TW": "清潔箱高溫", "en": "Bin fire risk"},
            device_type="litter_bin",
            key="temperature",
            direction="above",
            raise_at=60,
            clear_at=45,
            severity="critical",
        ),
        AlertRule(
            name="車柱無車",
            names={"zh-TW": "車柱無車", "en": "Dock empty"},
            device_type="bike_dock",
            key="bikes",
            direction="below",
            raise_at=0,
            clear_at=2,
            severity="info",
        ),
    ]
