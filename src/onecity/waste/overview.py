"""iTrash's cards on the city overview (core.overview): stations reporting and out of order,
how full they are, today's garbage and recycling, and (for the department's staff) the crews'
open jobs. Small read functions over the module's tables and the reports service; nothing here
writes. Public cards show what a passer-by could see at the stations or the city publishes
anyway: no card, crew or person."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from onecity.core.auth.permissions import Perm, Principal
from onecity.core.db import utcnow
from onecity.core.models import Device
from onecity.core.overview import (
    Card,
    CardData,
    Chart,
    Column,
    Figure,
    History,
    Series,
    Viewer,
)
from onecity.core.platform import Platform
from onecity.waste.jobs.models import WasteJob
from onecity.waste.jobs.status import JobStatus
from onecity.waste.monitoring.codec import from_json
from onecity.waste.monitoring.models import WasteStationState
from onecity.waste.monitoring.readings import AlertKind
from onecity.waste.monitoring.rules import DEFAULT_CONFIG, StationState
from onecity.waste.monitoring.telemetry import COMPARTMENTS
from onecity.waste.reporting.figures import Range
from onecity.waste.rules.stations import STATION_TYPE
from onecity.waste.services import WasteServices

# Stations report every minute; a card resting on reports older than this is stale.
REPORT_MAX_AGE_S = 300
CHART_STATIONS = 12  # the fullest stations the fill chart shows (the history has them all)
TONNAGE_DAYS = 14
HISTORY_DAYS = 30
BROKEN = frozenset({AlertKind.FAULT, AlertKind.FIRE})
STATION_EVENTS = ("device.online", "device.offline", "waste.job")


@dataclass(frozen=True)
class StationNow:
    """A station as the overview shows it."""

    id: str
    name: str
    district: str | None
    lon: float | None
    lat: float | None
    connectivity: str
    last_seen_at: datetime | None
    fills: dict[str, float]  # compartment -> its last reported fill, 0..1
    out_of_order: bool  # an open fault or fire alert

    @property
    def fill(self) -> float | None:
        return max(self.fills.values()) if self.fills else None

    @property
    def state(self) -> str:
        if self.connectivity == "offline":
            return "offline"
        if self.out_of_order:
            return "out_of_order"
        if self.fill is not None and self.fill >= DEFAULT_CONFIG.full_at:
            return "full"
        return "open" if self.connectivity == "online" else "unknown"


def stations_now(p: Platform) -> list[StationNow]:
    """Every station that is not retired, with its last fills and open alerts."""
    with p.db.read() as s:
        devs = list(
            s.execute(
                select(Device)
                .where(Device.type == STATION_TYPE, Device.status != "retired")
                .order_by(Device.name, Device.id)
            ).scalars()
        )
        states = {
            r.station_id: from_json(r.state) for r in s.execute(select(WasteStationState)).scalars()
        }
    return [_station(d, states.get(d.id) or StationState(d.id)) for d in devs]


def _station(d: Device, st: StationState) -> StationNow:
    return StationNow(
        id=d.id,
        name=d.name,
        district=d.district,
        lon=d.lon,
        lat=d.lat,
        connectivity=d.connectivity,
        last_seen_at=d.last_seen_at,
        fills={c: cs.last.fill for c, cs in st.compartments.items()},
        out_of_order=any(k.kind in BROKEN for k in st.alerts),
    )


def _newest(stations: Iterable[StationNow]) -> datetime | None:
    seen = [s.last_seen_at for s in stations if s.last_seen_at is not None]
    return max(seen) if seen else None


# --- stations --------------------------------------------------------------------------------
def read_stations(p: Platform, who: Viewer) -> CardData:
    st = stations_now(p)
    return CardData(
        figures=[
            Figure("online", "overview.waste.stations.online", _count(st, "online")),
            Figure("out_of_order", "overview.waste.stations.out_of_order", _broken(st)),
            Figure("offline", "overview.waste.stations.offline", _count(st, "offline")),
            Figure("total", "overview.waste.stations.total", len(st)),
        ],
        as_of=_newest(st),
    )


def _count(st: Sequence[StationNow], connectivity: str) -> int:
    return sum(1 for s in st if s.connectivity == connectivity)


def _broken(st: Sequence[StationNow]) -> int:
    return sum(1 for s in st if s.out_of_order and s.connectivity != "offline")


def stations_geojson(p: Platform, who: Viewer) -> dict[str, Any]:
    """The stations as points: name, district, state and fill, what the station shows."""
    features = [
        {
            "type": "Feature",
            "id": s.id,
            "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
            "properties": {
                "id": s.id,
                "name": s.name,
                "district": s.district,
                "state": s.state,
                "fill": s.fill,
                "last_seen_at": s.last_seen_at.isoformat() if s.last_seen_at else None,
            },
        }
        for s in stations_now(p)
        if s.lon is not None and s.lat is not None
    ]
    return {"type": "FeatureCollection", "generated_at": utcnow().isoformat(), "features": features}


# --- fill ------------------------------------------------------------------------------------
def read_fill(p: Platform, who: Viewer) -> CardData:
    st = stations_now(p)
    filled = sorted((s for s in st if s.fill is not None), key=lambda s: -(s.fill or 0))
    mean = sum(s.fill or 0 for s in filled) / len(filled) if filled else None
    full = sum(1 for s in filled if (s.fill or 0) >= DEFAULT_CONFIG.full_at)
    return CardData(
        figures=[
            Figure("mean_fill", "overview.waste.fill.mean", mean, "percent"),
            Figure("full", "overview.waste.fill.full", full),
        ],
        as_of=_newest(st),
        chart=Chart(
            "bar",
            "name",
            "percent",
            [
                Series(
                    "fill",
                    "overview.waste.fill.series",
                    [(s.name, s.fill) for s in filled[:CHART_STATIONS]],
                )
            ],
        ),
    )


def fill_history(p: Platform, who: Viewer) -> History:
    """Every station's last reported fill per compartment."""
    return History(
        columns=[
            Column("station", "overview.col.station", "name"),
            Column("district", "overview.col.district", "name"),
            *(Column(c, f"overview.waste.compartment.{c}", "percent") for c in COMPARTMENTS),
            Column("last_seen_at", "overview.col.as_of", "time"),
        ],
        rows=[
            [
                s.name,
                s.district,
                *(s.fills.get(c) for c in COMPARTMENTS),
                s.last_seen_at.isoformat() if s.last_seen_at else None,
            ]
            for s in stations_now(p)
        ],
    )


# --- tonnage ---------------------------------------------------------------------------------
def _days(p: Platform, days: int) -> list[dict[str, Any]]:
    """Daily garbage kg and estimated recycling kg for the last `days` days, today included."""
    reports = p.services(WasteServices).reports
    today = utcnow().astimezone(reports.tz).date()
    data = reports.build(Range(today - timedelta(days=days - 1), today, "day"))
    got = {row["period"]: row for row in data["tonnage"]["by_period"]}
    return [
        {
            "day": day,
            "garbage_kg": got[day]["garbage_kg"] if day in got else 0.0,
            "recycling_kg": got[day]["recyclables_kg_est"] if day in got else 0.0,
            "collected_kg": got[day]["collected_kg"] if day in got else 0.0,
        }
        for day in data["periods"]
    ]


def read_tonnage(p: Platform, who: Viewer) -> CardData:
    days = _days(p, TONNAGE_DAYS)
    today = days[-1]
    return CardData(
        figures=[
            Figure("garbage_kg", "overview.waste.tonnage.garbage", today["garbage_kg"], "kg"),
            Figure("recycling_kg", "overview.waste.tonnage.recycling", today["recycling_kg"], "kg"),
            Figure("collected_kg", "overview.waste.tonnage.collected", today["collected_kg"], "kg"),
        ],
        as_of=utcnow(),
        chart=Chart(
            "line",
            "day",
            "kg",
            [
                Series(
                    "garbage_kg",
                    "overview.waste.tonnage.garbage_series",
                    [(d["day"], d["garbage_kg"]) for d in days],
                ),
                Series(
                    "recycling_kg",
                    "overview.waste.tonnage.recycling_series",
                    [(d["day"], d["recycling_kg"]) for d in days],
                ),
            ],
        ),
    )


def tonnage_history(p: Platform, who: Viewer) -> History:
    return History(
        columns=[
            Column("day", "overview.col.day", "day"),
            Column("garbage_kg", "overview.waste.tonnage.garbage_series", "kg"),
            Column("recycling_kg", "overview.waste.tonnage.recycling_series", "kg"),
            Column("collected_kg", "overview.waste.tonnage.collected", "kg"),
        ],
        rows=[
            [d["day"], d["garbage_kg"], d["recycling_kg"], d["collected_kg"]]
            for d in _days(p, HISTORY_DAYS)
        ],
    )


# --- crews' jobs (staff) ---------------------------------------------------------------------
def read_jobs(p: Platform, who: Viewer) -> CardData:
    j = WasteJob
    with p.db.read() as s:
        rows = list(
            s.execute(
                select(j.kind, func.count(), func.min(j.priority))
                .where(j.status != JobStatus.CLOSED.value)
                .group_by(j.kind)
            ).tuples()
        )
        urgent = s.execute(
            select(func.count()).where(j.status != JobStatus.CLOSED.value, j.priority <= 2)
        ).scalar_one()
        accepted = s.execute(
            select(func.count()).where(j.status == JobStatus.ACCEPTED.value)
        ).scalar_one()
    by_kind = {str(k): int(n) for k, n, _ in rows}
    order = [k.value for k in AlertKind]
    return CardData(
        figures=[
            Figure("open", "overview.waste.jobs.open", sum(by_kind.values())),
            Figure("urgent", "overview.waste.jobs.urgent", int(urgent)),
            Figure("accepted", "overview.waste.jobs.accepted", int(accepted)),
        ],
        as_of=utcnow(),
        chart=Chart(
            "bar",
            "key",
            "count",
            [
                Series(
                    "open",
                    "overview.waste.jobs.open",
                    [(f"waste.jobs.kind.{k}", by_kind[k]) for k in order if k in by_kind],
                )
            ],
        ),
    )


def sees_records(who: Principal, p: Platform) -> bool:
    """The crews' jobs are the records of the department that runs the stations."""
    return who.sees_department(p.services(WasteServices).ledger.department)


_SOURCE_LINK = "/waste/stations"
CARDS = (
    Card(
        id="waste.stations",
        system="waste",
        title="overview.waste.stations.title",
        read=read_stations,
        source="overview.waste.source.stations",
        link=_SOURCE_LINK,
        live="overview.live.reports",
        public=True,
        max_age_s=REPORT_MAX_AGE_S,
        events=STATION_EVENTS,
        geometry=stations_geojson,
    ),
    Card(
        id="waste.fill",
        system="waste",
        title="overview.waste.fill.title",
        read=read_fill,
        source="overview.waste.source.stations",
        link=_SOURCE_LINK,
        live="overview.live.reports",
        public=True,
        max_age_s=REPORT_MAX_AGE_S,
        events=STATION_EVENTS,
        history=fill_history,
        geometry=stations_geojson,
    ),
    Card(
        id="waste.tonnage",
        system="waste",
        title="overview.waste.tonnage.title",
        read=read_tonnage,
        source="overview.waste.source.ledger",
        link=_SOURCE_LINK,
        live="overview.live.records",
        public=True,
        events=("waste.transactions", "waste.job"),
        history=tonnage_history,
    ),
    Card(
        id="waste.jobs",
        system="waste",
        title="overview.waste.jobs.title",
        read=read_jobs,
        source="overview.waste.source.jobs",
        link="/waste/jobs",
        live="overview.live.records",
        permission=Perm.WASTE_READ.value,
        check=sees_records,
        events=("waste.job",),
    ),
)
