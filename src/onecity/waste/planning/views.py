"""Stored collection plans as the API shows them (the read side of plan_service)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core.db import Database
from onecity.core.errors import NotFound
from onecity.core.geo import geojson_point
from onecity.core.models import Device
from onecity.waste.planning import schemas as sc
from onecity.waste.planning.models import WastePlan, WastePlanStop, WasteTruck


def plan_out(db: Database, plan_id: int) -> sc.PlanOut:
    """A stored plan version as the API shows it: routes per truck, then what was left out."""
    with db.read() as s:
        row = s.get(WastePlan, plan_id)
        if row is None:
            raise NotFound(f"no plan {plan_id}")
        stops = list(
            s.scalars(
                select(WastePlanStop)
                .where(WastePlanStop.plan_id == plan_id)
                .order_by(WastePlanStop.truck_id, WastePlanStop.seq, WastePlanStop.id)
            )
        )
        outs = stops_out(s, stops)
        trucks = {t.id: t for t in s.scalars(select(WasteTruck))}
        routes = []
        for tid in sorted({o.truck_id for o in outs if o.truck_id}):
            mine = [o for o in outs if o.truck_id == tid]
            t = trucks[tid]
            routes.append(
                sc.RouteOut(
                    truck_id=tid,
                    truck_name=t.name,
                    crew=t.crew,
                    depot=geojson_point(t.depot_lon, t.depot_lat),
                    capacity_kg=t.capacity_kg,
                    capacity_m3=t.capacity_m3,
                    shift_start=t.shift_start,
                    shift_end=t.shift_end,
                    leaves_at=_at(row, tid, 0) or mine[0].arrive_at,
                    back_at=_at(row, tid, 1) or mine[-1].depart_at,
                    distance_km=float((row.summary or {}).get("route_km", {}).get(tid, 0.0)),
                    load_kg=max((o.load_kg or 0.0) for o in mine),
                    stops=mine,
                )
            )
        return sc.PlanOut(
            id=row.id,
            day=row.day,
            version=row.version,
            status=row.status,
            reason=row.reason,
            created_at=row.created_at,
            created_by=row.created_by,
            solve_s=row.solve_s,
            distance_km=round(row.distance_m / 1000, 2),
            travel=row.travel,
            routes=routes,
            left_out=[o for o in outs if o.truck_id is None],
            summary=row.summary or {},
        )


def stops_out(s: Session, rows: list[WastePlanStop]) -> list[sc.PlanStopOut]:
    ids = {r.station_id for r in rows}
    devs = {d.id: d for d in s.scalars(select(Device).where(Device.id.in_(ids)))}
    out = []
    for r in rows:
        d = devs.get(r.station_id)
        out.append(
            sc.PlanStopOut(
                id=r.id,
                station_id=r.station_id,
                station_name=d.name if d else r.station_id,
                location=geojson_point(d.lon, d.lat) if d and d.lon is not None else None,
                truck_id=r.truck_id,
                seq=r.seq,
                status=r.status,
                kind=r.kind,
                required=r.required,
                reason=r.reason,
                kg=round(r.kg, 1),
                m3=round(r.m3, 3),
                arrive_at=r.arrive_at,
                start_at=r.start_at,
                depart_at=r.depart_at,
                load_kg=r.load_kg,
                load_m3=r.load_m3,
                served_at=r.served_at,
                job_id=r.job_id,
            )
        )
    return out


def _at(row: WastePlan, truck: str, end: int) -> datetime | None:
    times = (row.summary or {}).get("route_s", {}).get(truck)
    return row.origin + timedelta(seconds=times[end]) if times else None
