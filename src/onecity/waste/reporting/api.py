"""Reports for the department (`/reports`, staff with waste:read) and the public open data
(`/open-data`, no login): parse -> stats -> JSON, CSV or GeoJSON. Figures: waste/stats.py."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from onecity.core import clock
from onecity.core.dates import CityDate
from onecity.core.db import utcnow
from onecity.core.deps import CurrentUser, PlatformDep
from onecity.waste.reporting import figures, stats
from onecity.waste.services import WasteServices

router = APIRouter(prefix="/api/v1/waste", tags=["waste reports"])

BOM = "\ufeff"  # Excel reads a CSV as UTF-8 (zh-TW names) only with it
LINK = f'<{stats.LICENSE_URL}>; rel="license"'
From = Annotated[CityDate | None, Query(alias="from", description="first day, YYYY-MM-DD")]
To = Annotated[CityDate | None, Query(alias="to", description="last day (included), YYYY-MM-DD")]
Per = Annotated[str | None, Query(description="day, week (ISO, Monday first) or month")]


def _today(rep: stats.Reports) -> Any:
    return clock.today(rep.tz)


def _csv(rows: Iterable[Iterable[Any]], comments: Iterable[str] = ()) -> str:
    buf = io.StringIO()
    buf.write(BOM)
    for line in comments:
        buf.write(f"# {line}\r\n")
    w = csv.writer(buf)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


# --- reports (staff) -------------------------------------------------------------------------
@router.get("/reports/summary")
def summary(
    who: CurrentUser,
    p: PlatformDep,
    first: From = None,
    last: To = None,
    period: Per = None,
) -> dict[str, Any]:
    """Tonnage, fees and rebates, availability, time to service/repair and hours full over
    a range of at most 366 days, grouped by day, week or month in the city's time zone."""
    rep = p.services(WasteServices).reports
    r = figures.parse_range(first, last, period)
    return rep.summary(who, r)


CSV_HEADER: tuple[str, ...] = (
    *("section", "period", "station_id", "station_name", "district", "compartment"),
    *("metric", "value", "unit"),
)
TONNAGE_METRICS = (
    ("garbage_kg", "kg"),
    ("garbage_drops", "count"),
    ("pet_items", "count"),
    ("aluminium_items", "count"),
    ("recyclables_kg_est", "kg"),
    ("collected_kg", "kg"),
)


def summary_rows(data: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """The summary as one long table: one figure per row, ready for a pivot table."""
    names = {s["id"]: (s["name"], s["district"]) for s in data["stations"]}

    def at(sid: str | None) -> tuple[Any, Any, Any]:
        name, district = names.get(sid or "", (None, None))
        return sid, name, district

    yield CSV_HEADER
    for x in data["tonnage"]["by_station"]:
        for m, unit in TONNAGE_METRICS:
            yield ("tonnage", x["period"], *at(x["station_id"]), None, m, x[m], unit)
    for x in data["tonnage"]["by_district"]:
        for m, unit in TONNAGE_METRICS:
            yield ("tonnage_district", x["period"], None, None, x["district"], None, m, x[m], unit)
    for x in data["money"]["by_station"]:
        for m in ("fees_ntd", "rebates_ntd", "net_ntd"):
            yield ("money", x["period"], *at(x["station_id"]), None, m, x[m], "NT$")
    for a in data["availability"]:
        sid = a["station_id"]
        yield ("availability", "all", *at(sid), None, "uptime", a["uptime"], "share")
        yield ("availability", "all", *at(sid), None, "out_of_order_h", a["out_of_order_h"], "h")
        for x in a["by_period"]:
            yield (
                "availability",
                x["period"],
                *at(sid),
                None,
                "availability",
                x["availability"],
                "share",
            )
    for name in ("service", "repair"):
        block = data["response"][name]
        groups = [(None, block["overall"])] + [(s["station_id"], s) for s in block["by_station"]]
        for sid, st in groups:
            for m, unit in (
                ("closed", "count"),
                ("open", "count"),
                ("median_h", "h"),
                ("p90_h", "h"),
                ("within_target", "share"),
            ):
                yield (f"time_to_{name}", "all", *at(sid), None, m, st[m], unit)
    for x in data["hours_full"]:
        for metric in ("hours_full", "overflow_hours"):
            yield (
                "hours_full",
                "all",
                *at(x["station_id"]),
                x["compartment"],
                metric,
                x[metric],
                "h",
            )


@router.get("/reports/summary.csv", response_class=Response)
def summary_csv(
    who: CurrentUser,
    p: PlatformDep,
    first: From = None,
    last: To = None,
    period: Per = None,
) -> Response:
    """The summary as CSV (UTF-8 with BOM), one figure per row."""
    rep = p.services(WasteServices).reports
    r = figures.parse_range(first, last, period)
    data = rep.summary(who, r)
    name = f"itrash-report-{r.first}-{r.last}-{r.period}.csv"
    return Response(
        _csv(summary_rows(data)), media_type="text/csv; charset=utf-8", headers=_attachment(name)
    )


# --- open data (public) ----------------------------------------------------------------------
def _licence_lines(generated: str) -> list[str]:
    return [
        f"License: {stats.LICENSE} {stats.LICENSE_URL}",
        f"Attribution: {stats.ATTRIBUTION}",
        f"Generated: {generated}",
    ]


@router.get("/open-data/stations.geojson", tags=["waste open data"], response_class=Response)
def open_stations(p: PlatformDep) -> Response:
    """Every iTrash station (GeoJSON, WGS84) with last full month's tonnage and availability,
    under the Open Government Data License 1.0. No login, no personal data."""
    rep = p.services(WasteServices).reports
    body = stats.open_stations(rep, _today(rep))
    return Response(
        json.dumps(body, ensure_ascii=False),
        media_type="application/geo+json",
        headers={"Link": LINK},
    )


OPEN_FIGURES = tuple(m for m, _ in TONNAGE_METRICS if m != "garbage_drops")
OPEN_COLUMNS: tuple[str, ...] = ("date", "station_id", "station_name", "district", *OPEN_FIGURES)


@router.get("/open-data/tonnage.csv", tags=["waste open data"], response_class=Response)
def open_tonnage(p: PlatformDep) -> Response:
    """Daily tonnage per station over the last 90 complete days (CSV, UTF-8 with BOM; the
    licence in `#` comment lines on top and in the Link header). No login."""
    rep = p.services(WasteServices).reports
    data = stats.open_tonnage(rep, _today(rep))
    names = {s["id"]: s for s in data["stations"]}
    rows: list[tuple[Any, ...]] = [OPEN_COLUMNS]
    for x in data["tonnage"]["by_station"]:
        st = names.get(x["station_id"], {})
        rows.append(
            (
                x["period"],
                x["station_id"],
                st.get("name"),
                st.get("district"),
                *(x[m] for m in OPEN_FIGURES),
            )
        )
    return Response(
        _csv(rows, _licence_lines(utcnow().isoformat())),
        media_type="text/csv; charset=utf-8",
        headers={"Link": LINK, **_attachment("itrash-tonnage-90d.csv")},
    )
