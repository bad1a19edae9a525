"""The reports' figures from the rows read: tonnage, money, availability, crew response times
and hours full, per period and station. Pure; the definitions are in `stats`' docstring."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from onecity.core.models import Device
from onecity.waste.models import FEE_REVENUE
from onecity.waste.monitoring.readings import AlertKind
from onecity.waste.reporting.figures import (
    ITEM_GRAMS,
    MATERIALS,
    OUT_OF_ORDER,
    REPAIR_KINDS,
    SERVICE_KINDS,
    PeriodOf,
    Rows,
    Span,
    covered,
    hours,
    job_end,
    kg,
    merge,
    midnight,
    ratio,
    response_stats,
)


def tonnage_row() -> dict[str, float]:
    row = {"garbage_g": 0.0, "garbage_drops": 0.0, "collected_kg": 0.0}
    row.update({f"{m}_items": 0.0 for m in MATERIALS})
    return row


def tonnage_out(key: Mapping[str, Any], a: Mapping[str, float]) -> dict[str, Any]:
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
    by: dict[tuple[str, str], dict[str, float]] = defaultdict(tonnage_row)
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
    for sid, kg_out, at in rows.emptied:
        by[(day(at), sid)]["collected_kg"] += kg_out
    weighed = {key for key, a in by.items() if a["collected_kg"] > 0}
    for job in rows.jobs:  # a crew's figure where the scales saw no emptying that day
        if job.closed_at is not None and lo <= job.closed_at < hi and job.collected_kg:
            key = (day(job.closed_at), job.station_id)
            if key not in weighed:
                by[key]["collected_kg"] += job.collected_kg
    districts: dict[tuple[str, str], dict[str, float]] = defaultdict(tonnage_row)
    totals: dict[str, dict[str, float]] = defaultdict(tonnage_row)
    for (per, sid), a in by.items():
        dev = info.get(sid)
        for target in (districts[(per, (dev.district if dev else None) or "")], totals[per]):
            for k, v in a.items():
                target[k] += v
    return {
        "by_station": [
            tonnage_out({"period": p, "station_id": s}, a) for (p, s), a in sorted(by.items())
        ],
        "by_district": [
            tonnage_out({"period": p, "district": d or None}, a)
            for (p, d), a in sorted(districts.items())
        ],
        "by_period": [tonnage_out({"period": p}, a) for p, a in sorted(totals.items())],
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
            plo = max(midnight(first, tz), lo)
            phi = min(midnight(last + timedelta(days=1), tz), hi)
            span = max(phi - plo, timedelta(0))
            pdown = covered(w, plo, phi) if span else timedelta(0)
            per.append(
                {
                    "period": key,
                    "availability": ratio((span - pdown).total_seconds(), span.total_seconds()),
                }
            )
        out.append(
            {
                "station_id": dev.id,
                "observed_h": hours(observed),
                "out_of_order_h": hours(down),
                "uptime": ratio((observed - down).total_seconds(), observed.total_seconds()),
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
