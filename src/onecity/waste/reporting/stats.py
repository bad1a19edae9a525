"""iTrash reports: tonnage, money, station availability, crew response times and hours full,
over a date range grouped by day, ISO week or month in the city's time zone.

The grouping is done here in Python (not with the database's date functions) so SQLite and
PostgreSQL give the same figures. The pure helpers (ranges, periods, interval merging,
quantiles) come first; `Reports` reads the rows in one read transaction and aggregates them.

Definitions (docs/waste.md, "Reports and open data"):
- garbage kg: the sum of the garbage deposits' weighed grams;
- recyclables: items counted per material, with an *estimated* weight of ITEM_GRAMS each;
- collected kg: what crews entered when closing jobs, by the day the job was closed;
- fees / rebates: the ledger's garbage_fee_revenue and recycling_rebate_expense postings;
- out of order: an offline, fault or fire job from raised_at to the earlier of
  condition_cleared_at and closed_at (now while neither), windows merged per station;
- time to service (full, full_soon) and to repair (fault, offline, fire): raised to closed;
- hours full: a `full` job's raised_at to condition_cleared_at or closed_at (now while open)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.dates import DateRange
from onecity.core.db import Database, utcnow
from onecity.core.errors import Forbidden, Invalid
from onecity.core.models import Device
from onecity.waste.jobs.models import WasteJob
from onecity.waste.models import FEE_REVENUE, REBATE_EXPENSE, WastePosting, WasteTxn
from onecity.waste.monitoring.finder import ACCEPTS
from onecity.waste.monitoring.models import WasteOverflow
from onecity.waste.monitoring.rules import DEFAULT_TARGETS, AlertKind
from onecity.waste.rules.stations import STATION_TYPE

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
MAX_DAYS = 366
# Estimated weight of one accepted item (empty, crushed): a 600 ml PET bottle ~25 g, a 330 ml
# aluminium can ~15 g. The stations count items, they do not weigh them.
ITEM_GRAMS: Mapping[str, int] = {"pet": 25, "aluminium": 15}
MATERIALS = tuple(ITEM_GRAMS)
AVAILABILITY_TARGET = 0.98  # the share of time a station should take waste (our own goal)
SERVICE_KINDS = (AlertKind.FULL, AlertKind.FULL_SOON)
REPAIR_KINDS = (AlertKind.FAULT, AlertKind.OFFLINE, AlertKind.FIRE)
OUT_OF_ORDER = frozenset(k.value for k in REPAIR_KINDS)
Span = tuple[datetime, datetime]
PeriodOf = Callable[[datetime], str]


# --- pure helpers ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Range:
    """Whole days `first`..`last` (both included) in the city's zone, grouped by `period`."""

    first: date
    last: date
    period: Period

    def bounds(self, tz: ZoneInfo) -> Span:
        """The range as UTC instants: midnight of `first` to midnight after `last`."""
        return _midnight(self.first, tz), _midnight(self.last + timedelta(days=1), tz)


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def parse_range(first: date | None, last: date | None, period: str | None) -> Range:
    """Check a report's query; a bad one is Invalid naming the field (422, never a 500)."""
    days = DateRange.of(first, last, max_days=MAX_DAYS)
    p = period or "day"
    if p not in PERIODS:
        raise Invalid(f"'period' must be one of {', '.join(PERIODS)}", field="period")
    return Range(days.first, days.last, p)


def period_key(d: date, period: Period) -> str:
    """day 2026-11-26, ISO week 2026-W48, month 2026-11."""
    if period == "day":
        return d.isoformat()
    if period == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    return f"{d.year}-{d.month:02d}"


def period_spans(r: Range) -> list[tuple[str, date, date]]:
    """Each period's key with its first and last day, clipped to the range, in order."""
    out: list[tuple[str, date, date]] = []
    d = r.first
    while d <= r.last:
        key = period_key(d, r.period)
        end = d
        while end < r.last and period_key(end + timedelta(days=1), r.period) == key:
            end += timedelta(days=1)
        out.append((key, d, end))
        d = end + timedelta(days=1)
    return out


def merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching windows as one: an hour is counted once however many jobs."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def covered(spans: Iterable[Span], lo: datetime, hi: datetime) -> timedelta:
    """How much of [lo, hi) the merged windows cover."""
    total = timedelta(0)
    for start, end in merge(spans):
        total += max(min(end, hi) - max(start, lo), timedelta(0))
    return total


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (Excel PERCENTILE.INC, numpy's default)."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def kg(grams: float) -> float:
    return round(grams / 1000, 3)


def hours(t: timedelta) -> float:
    return round(t.total_seconds() / 3600, 3)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def job_end(job: WasteJob, now: datetime) -> datetime:
    """When a job's condition ended: the earlier of cleared and closed; now while neither."""
    ends = [t for t in (job.condition_cleared_at, job.closed_at) if t is not None]
    return min(ends) if ends else now


def response_stats(durations: Sequence[tuple[str, timedelta]], still_open: int) -> dict[str, Any]:
    """Median, p90 (hours) and the share within the kind's target, of closed jobs."""
    hs = [d.total_seconds() / 3600 for _, d in durations]
    within = sum(1 for kind, d in durations if d <= DEFAULT_TARGETS[AlertKind(kind)])
    med, p90 = quantile(hs, 0.5), quantile(hs, 0.9)
    return {
        "closed": len(hs),
        "open": still_open,
        "median_h": None if med is None else round(med, 3),
        "p90_h": None if p90 is None else round(p90, 3),
        "within_target": _ratio(within, len(hs)),
    }


# --- reading ---------------------------------------------------------------------------------
@dataclass
class Rows:
    stations: list[Device]
    txns: list[tuple[str, str, int | None, list[Any], datetime]]
    money: list[tuple[str, int, str, datetime]]
    jobs: list[WasteJob]
    overflows: list[WasteOverflow]


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
            s.expunge_all()
        return Rows(stations, txns, money, jobs, overflows)

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


# --- aggregation -----------------------------------------------------------------------------
def _tonnage_row() -> dict[str, float]:
    row = {"garbage_g": 0.0, "garbage_drops": 0.0, "collected_kg": 0.0}
    row.update({f"{m}_items": 0.0 for m in MATERIALS})
    return row


def _tonnage_out(key: Mapping[str, Any], a: Mapping[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = dict(key)
    out["garbage_kg"] = kg(a["garbage_g"])
    out["garbage_drops"] = int(a["garbage_drops"])
    est = 0.0
    for m in MATERIALS:
        out[f"{m}_items"] = int(a[f"{m}_items"])
        out[f"{m}_kg_est"] = kg(a[f"{m}_items"] * ITEM_GRAMS[m])
        est += a[f"{m}_items"] * ITEM_GRAMS[m]
    out["recyclables_kg_est"] = kg(est)
    out["collected_kg"] = round(a["collected_kg"], 3)
    return out


def tonnage(
    rows: Rows, day: PeriodOf, info: Mapping[str, Device], lo: datetime, hi: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Per (period, station), per (period, district) and per period."""
    by: dict[tuple[str, str], dict[str, float]] = defaultdict(_tonnage_row)
    for sid, kind, grams, items, at in rows.txns:
        a = by[(day(at), sid)]
        if kind == "garbage" and grams:
            a["garbage_g"] += grams
            a["garbage_drops"] += 1
        elif kind == "recycle":
            for item in items or []:
                m = item.get("material") if isinstance(item, dict) else None
                if m in ITEM_GRAMS:
                    a[f"{m}_items"] += 1
    for job in rows.jobs:
        if job.closed_at is not None and lo <= job.closed_at < hi and job.collected_kg:
            by[(day(job.closed_at), job.station_id)]["collected_kg"] += job.collected_kg
    districts: dict[tuple[str, str], dict[str, float]] = defaultdict(_tonnage_row)
    totals: dict[str, dict[str, float]] = defaultdict(_tonnage_row)
    for (per, sid), a in by.items():
        dev = info.get(sid)
        for target in (districts[(per, (dev.district if dev else None) or "")], totals[per]):
            for k, v in a.items():
                target[k] += v
    return {
        "by_station": [
            _tonnage_out({"period": p, "station_id": s}, a) for (p, s), a in sorted(by.items())
        ],
        "by_district": [
            _tonnage_out({"period": p, "district": d or None}, a)
            for (p, d), a in sorted(districts.items())
        ],
        "by_period": [_tonnage_out({"period": p}, a) for p, a in sorted(totals.items())],
    }


def money(rows: Rows, day: PeriodOf) -> dict[str, list[dict[str, Any]]]:
    """Fees the cards paid and rebates they got, whole NT$, per (period, station) and period."""
    by: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for sid, amount, account, at in rows.money:
        # The revenue account is credited (+) by a fee, the expense account debited (-).
        by[(day(at), sid)][0 if account == FEE_REVENUE else 1] += (
            amount if account == FEE_REVENUE else -amount
        )
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (per, _), (fee, reb) in by.items():
        totals[per][0] += fee
        totals[per][1] += reb

    def out(key: dict[str, Any], fee: int, reb: int) -> dict[str, Any]:
        return {**key, "fees_ntd": fee, "rebates_ntd": reb, "net_ntd": fee - reb}

    return {
        "by_station": [out({"period": p, "station_id": s}, *v) for (p, s), v in sorted(by.items())],
        "by_period": [out({"period": p}, *v) for p, v in sorted(totals.items())],
    }


def availability(
    rows: Rows, spans: Sequence[tuple[str, date, date]], tz: ZoneInfo, lo: datetime, hi: datetime
) -> list[dict[str, Any]]:
    """Per station: the share of the observed time (the range up to now) it was not out of
    order, over the whole range (its uptime) and per period."""
    now_end = hi
    windows: dict[str, list[Span]] = defaultdict(list)
    for job in rows.jobs:
        if job.kind in OUT_OF_ORDER:
            windows[job.station_id].append((job.raised_at, job_end(job, now_end)))
    out = []
    for dev in rows.stations:
        w = merge(windows.get(dev.id, []))
        observed = max(hi - lo, timedelta(0))
        down = covered(w, lo, hi)
        per = []
        for key, first, last in spans:
            plo = max(_midnight(first, tz), lo)
            phi = min(_midnight(last + timedelta(days=1), tz), hi)
            span = max(phi - plo, timedelta(0))
            pdown = covered(w, plo, phi) if span else timedelta(0)
            per.append(
                {
                    "period": key,
                    "availability": _ratio((span - pdown).total_seconds(), span.total_seconds()),
                }
            )
        out.append(
            {
                "station_id": dev.id,
                "observed_h": hours(observed),
                "out_of_order_h": hours(down),
                "uptime": _ratio((observed - down).total_seconds(), observed.total_seconds()),
                "by_period": per,
            }
        )
    return out


def response(rows: Rows, lo: datetime, hi: datetime) -> dict[str, Any]:
    """Time to service and to repair of the jobs raised in the range, overall and per station."""
    out: dict[str, Any] = {}
    for name, kinds in (("service", SERVICE_KINDS), ("repair", REPAIR_KINDS)):
        wanted = {k.value for k in kinds}
        closed: dict[str, list[tuple[str, timedelta]]] = defaultdict(list)
        still: dict[str, int] = defaultdict(int)
        for job in rows.jobs:
            if job.kind not in wanted or not lo <= job.raised_at < hi:
                continue
            if job.closed_at is None:
                still[job.station_id] += 1
            else:
                closed[job.station_id].append((job.kind, job.closed_at - job.raised_at))
        every = [d for ds in closed.values() for d in ds]
        out[name] = {
            "kinds": sorted(wanted),
            "overall": response_stats(every, sum(still.values())),
            "by_station": [
                {"station_id": sid, **response_stats(closed.get(sid, []), still.get(sid, 0))}
                for sid in sorted(set(closed) | set(still))
            ],
        }
    return out


def hours_full(rows: Rows, lo: datetime, hi: datetime, now: datetime) -> list[dict[str, Any]]:
    """Per compartment: hours with a `full` job open before it was emptied (a crew is due),
    and overflow hours, when its telemetry said it was full to the top (citizens turned away)."""
    windows: dict[tuple[str, str], list[Span]] = defaultdict(list)
    over: dict[tuple[str, str], list[Span]] = defaultdict(list)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for job in rows.jobs:
        if job.kind != AlertKind.FULL.value:
            continue
        key = (job.station_id, job.compartment or "")
        windows[key].append((job.raised_at, job_end(job, now)))
        counts[key] += 1
    for ov in rows.overflows:
        over[(ov.station_id, ov.compartment)].append((ov.started_at, ov.ended_at or now))
    return [
        {
            "station_id": sid,
            "compartment": comp or None,
            "jobs": counts[(sid, comp)],
            "hours_full": hours(covered(windows[(sid, comp)], lo, hi)),
            "overflow_hours": hours(covered(over[(sid, comp)], lo, hi)),
        }
        for sid, comp in sorted(set(windows) | set(over))
    ]


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
        t = ton.get(dev) or _tonnage_out({}, _tonnage_row())
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
