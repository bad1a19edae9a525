"""iTrash reports: tonnage, money, station availability, crew response times and hours full,
over a date range grouped by day, ISO week or month in the city's time zone.

The grouping is done here in Python (not with the database's date functions) so SQLite and
PostgreSQL give the same figures. The pure helpers (ranges, periods, interval merging,
quantiles) are in `figures`; `Reports` reads the rows in one read transaction and `aggregate`
turns them into figures.

Definitions (docs/waste.md, "Reports and open data"):
- garbage kg: the sum of the garbage deposits' weighed grams;
- recyclables: items counted per material, with an *estimated* weight of ITEM_GRAMS each;
- collected kg: what the station's scales saw taken out at each emptying (`emptyings`), by
  the day of the emptying; at a station whose scales saw none that day, what crews entered
  when closing jobs, by the day the job was closed;
- fees / rebates: the ledger's garbage_fee_revenue and recycling_rebate_expense postings;
- out of order: an offline, fault or fire job from raised_at to the earlier of
  condition_cleared_at and closed_at (now while neither), windows merged per station;
- time to service (full, full_soon) and to repair (fault, offline, fire): raised to closed;
- hours full: a `full` job's raised_at to condition_cleared_at or closed_at (now while open)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database, utcnow
from onecity.core.errors import Forbidden
from onecity.core.models import Device
from onecity.waste.jobs.models import WasteJob
from onecity.waste.models import FEE_REVENUE, REBATE_EXPENSE, WastePosting, WasteTxn
from onecity.waste.monitoring.finder import ACCEPTS
from onecity.waste.monitoring.models import WasteOverflow
from onecity.waste.monitoring.targets import DEFAULT_TARGETS
from onecity.waste.reporting.aggregate import (
    availability,
    hours_full,
    money,
    response,
    tonnage,
    tonnage_out,
    tonnage_row,
)
from onecity.waste.reporting.emptyings import emptyings
from onecity.waste.reporting.figures import (
    AVAILABILITY_TARGET,
    ITEM_GRAMS,
    Range,
    Rows,
    hours,
    period_key,
    period_spans,
)
from onecity.waste.rules.stations import STATION_TYPE


class Reports:
    """Read-only: one read transaction per report, nothing written."""

    def __init__(self, db: Database, tz: ZoneInfo, department: str) -> None:
        self.db = db
        self.tz = tz
        self.department = department

    def check(self, who: Principal) -> None:
        require(who, Perm.WASTE_READ)
        if not who.sees_department(self.department):
            raise Forbidden(
                f"iTrash records belong to department '{self.department}'", code="forbidden"
            )

    def _rows(self, lo: datetime, hi: datetime) -> Rows:
        t, j, p = WasteTxn, WasteJob, WastePosting
        with self.db.read() as s:
            stations = list(
                s.execute(
                    select(Device).where(Device.type == STATION_TYPE).order_by(Device.id)
                ).scalars()
            )
            txns = list(
                s.execute(
                    select(t.terminal_id, t.kind, t.grams, t.items, t.occurred_at).where(
                        t.occurred_at >= lo, t.occurred_at < hi, t.kind != "topup"
                    )
                ).tuples()
            )
            money = list(
                s.execute(
                    select(t.terminal_id, p.amount, p.account, t.occurred_at)
                    .join(t, t.id == p.txn_id)
                    .where(
                        p.account.in_((FEE_REVENUE, REBATE_EXPENSE)),
                        t.occurred_at >= lo,
                        t.occurred_at < hi,
                    )
                ).tuples()
            )
            jobs = list(
                s.execute(
                    select(j)
                    .where(j.raised_at < hi, (j.closed_at.is_(None)) | (j.closed_at >= lo))
                    .order_by(j.id)
                ).scalars()
            )
            o = WasteOverflow
            overflows = list(
                s.execute(
                    select(o)
                    .where(o.started_at < hi, (o.ended_at.is_(None)) | (o.ended_at >= lo))
                    .order_by(o.id)
                ).scalars()
            )
            emptied = emptyings(s, [d.id for d in stations], lo, hi)
            s.expunge_all()
        return Rows(stations, txns, money, jobs, overflows, emptied)

    def summary(self, who: Principal, r: Range) -> dict[str, Any]:
        self.check(who)
        return self.build(r)

    def build(self, r: Range, now: datetime | None = None) -> dict[str, Any]:
        now = now or utcnow()
        lo, hi = r.bounds(self.tz)
        rows = self._rows(lo, hi)
        spans = period_spans(r)

        def day(at: datetime) -> str:
            return period_key(at.astimezone(self.tz).date(), r.period)

        info = {d.id: d for d in rows.stations}
        return {
            "from": r.first.isoformat(),
            "to": r.last.isoformat(),
            "period": r.period,
            "timezone": self.tz.key,
            "generated_at": now.isoformat(),
            "periods": [k for k, _, _ in spans],
            "item_grams": dict(ITEM_GRAMS),
            "availability_target": AVAILABILITY_TARGET,
            "targets_h": {k.value: hours(v) for k, v in DEFAULT_TARGETS.items()},
            "stations": [
                {"id": d.id, "name": d.name, "district": d.district, "lon": d.lon, "lat": d.lat}
                for d in rows.stations
            ],
            "tonnage": tonnage(rows, day, info, lo, hi),
            "money": money(rows, day),
            "availability": availability(rows, spans, self.tz, lo, min(hi, now)),
            "response": response(rows, lo, hi),
            "hours_full": hours_full(rows, lo, min(hi, now), now),
        }


# --- open data -------------------------------------------------------------------------------
LICENSE = "Open Government Data License, version 1.0 (Taiwan)"
LICENSE_URL = "https://data.gov.tw/license"
ATTRIBUTION = (
    "Taipei City Department of Environmental Protection / 臺北市政府環境保護局, via OneCity"
)


def last_full_month(today: date) -> Range:
    last = today.replace(day=1) - timedelta(days=1)
    return Range(last.replace(day=1), last, "month")


def open_stations(rep: Reports, today: date, now: datetime | None = None) -> dict[str, Any]:
    """Every station as a GeoJSON Feature with last full month's tonnage and availability.
    Only what the city publishes anyway: no cards, no people, no crew notes."""
    now = now or utcnow()
    r = last_full_month(today)
    data = rep.build(r, now)
    month = data["periods"][0]
    ton = {x["station_id"]: x for x in data["tonnage"]["by_station"]}
    up = {x["station_id"]: x for x in data["availability"]}
    features = []
    for st in data["stations"]:
        dev = st["id"]
        t = ton.get(dev) or tonnage_out({}, tonnage_row())
        geo = None
        lon, lat = st.get("lon"), st.get("lat")
        if lon is not None and lat is not None:
            geo = {"type": "Point", "coordinates": [lon, lat]}
        features.append(
            {
                "type": "Feature",
                "id": dev,
                "geometry": geo,
                "properties": {
                    "id": dev,
                    "name": st["name"],
                    "district": st["district"],
                    "accepts": list(ACCEPTS.values()),  # every station takes all three
                    "month": month,
                    "garbage_kg": t["garbage_kg"],
                    "pet_items": t["pet_items"],
                    "aluminium_items": t["aluminium_items"],
                    "recyclables_kg_est": t["recyclables_kg_est"],
                    "collected_kg": t["collected_kg"],
                    "availability": up[dev]["uptime"] if dev in up else None,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "license": LICENSE,
        "license_url": LICENSE_URL,
        "attribution": ATTRIBUTION,
        "generated_at": now.isoformat(),
        "period": {"from": data["from"], "to": data["to"], "timezone": data["timezone"]},
        "item_grams": data["item_grams"],
        "features": features,
    }


def open_tonnage(rep: Reports, today: date, days: int = 90) -> dict[str, Any]:
    """Daily tonnage per station over the last `days` complete days (today left out)."""
    return rep.build(Range(today - timedelta(days=days), today - timedelta(days=1), "day"))
