"""One application against everything on the books: the spatial index finds the permits,
bans and pipes near the footprint, the pure rules (rules.py, pipes.py) decide. Runs inside the
caller's session, so the dry-run check and the filing see the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core.geo import CityProfile
from onecity.core.workdays import WorkCalendar
from onecity.roadworks.permits import spatial
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.pipes.models import PipeRow
from onecity.roadworks.registry.models import EmbargoRow, FeeSchedule
from onecity.roadworks.rules import assessment as assess
from onecity.roadworks.rules import fees
from onecity.roadworks.rules import permit as r
from onecity.roadworks.rules import pipes as pipe_rules
from onecity.roadworks.rules.footprint import Footprint

# Pipe records may state an accuracy of up to this; the index looks this much further out.
MAX_PIPE_ACCURACY_M = 5.0
DEFAULT_FEES = fees.FeeTable(version="2026", valid_from=date(2026, 1, 1))


@dataclass(frozen=True)
class Checked:
    assessment: r.Assessment
    quote: fees.FeeQuote
    decide_by: date
    matches: list[pipe_rules.Match]
    candidates: dict[str, Permit]


def _transform_all(geoms: list[BaseGeometry], many: Any) -> list[BaseGeometry]:
    """`geoms` with every coordinate passed through `many(xs, ys)`, in one call for all."""
    if not geoms:
        return []

    def each(xy: Any) -> Any:
        return np.column_stack(many(xy[:, 0], xy[:, 1]))

    return list(shapely.transform(np.array(geoms, dtype=object), each))


def project_all(city: CityProfile, geoms: list[BaseGeometry]) -> list[BaseGeometry]:
    """WGS84 geometries in projected metres, with one transformer call for all of them."""
    return _transform_all(geoms, city.to_projected_many)


def unproject_all(city: CityProfile, geoms: list[BaseGeometry]) -> list[BaseGeometry]:
    """Geometries in projected metres back in WGS84 degrees, in one transformer call."""
    return _transform_all(geoms, city.from_projected_many)


def works_of(p: Permit, geom: BaseGeometry) -> r.Works:
    return r.Works(
        ref=p.ref,
        geom=geom,
        start=p.start_date,
        end=p.end_date,
        depth_m=p.depth_m,
        purpose=p.purpose,
        applicant=p.applicant_code,
        road=p.road,
        night=p.night,
        emergency=p.emergency,
        residential=p.residential,
        status=p.status,
    )


def joint_plan(s: Session, p: Permit) -> tuple[r.JointDig | None, list[Permit]]:
    """The joint dig of a filed permit with the works its findings clash with, by the same
    rule as the check before filing (r.propose_joint_dig), and the rows of its members. The
    order needs no geometry; each works stands in with its box."""
    named = [
        f["data"]["other"]
        for f in p.findings
        if f["code"] in ("clash", "repeat_dig") and f.get("data", {}).get("other")
    ]
    rows = [o for o in s.scalars(select(Permit).where(Permit.ref.in_(named))) if o.id != p.id]
    plan = r.propose_joint_dig(_boxed(p), [_boxed(o) for o in rows])
    members = [p, *rows]
    return plan, [m for m in members if plan is not None and m.ref in plan.members]


def _boxed(p: Permit) -> r.Works:
    return works_of(p, box(p.minx, p.miny, p.maxx, p.maxy))


def fee_tables(s: Session) -> list[fees.FeeTable]:
    rows = s.scalars(select(FeeSchedule)).all()
    if not rows:
        return [DEFAULT_FEES]
    return [
        fees.FeeTable(
            version=t.version,
            valid_from=t.valid_from,
            base=t.base,
            daily=dict(t.daily),
            restoration=tuple(
                (float("inf") if w is None else float(w), int(rate)) for w, rate in t.restoration
            ),
        )
        for t in rows
    ]


def embargoes(s: Session, city: CityProfile, start: date, end: date) -> list[r.Embargo]:
    rows = s.scalars(
        select(EmbargoRow).where(EmbargoRow.start_date <= end, EmbargoRow.end_date >= start)
    ).all()
    areas = project_all(city, [shape(e.geometry) for e in rows if e.geometry])
    it = iter(areas)
    return [
        r.Embargo(
            name={"zh-TW": e.name_zh, "en": e.name_en},
            kind=e.kind,
            start=e.start_date,
            end=e.end_date,
            area=next(it) if e.geometry else None,
        )
        for e in rows
    ]


def dig_bans(s: Session, city: CityProfile, box: spatial.Box, road: str | None) -> list[r.DigBan]:
    rows = spatial.dig_bans_near(s, box, road)
    shapes = project_all(city, [shape(b.geometry) for b in rows if b.geometry])
    it = iter(shapes)
    return [
        r.DigBan(
            road=b.road,
            geom=next(it) if b.geometry else None,
            paved_on=b.paved_on,
            years=b.years,
            note=b.note,
        )
        for b in rows
    ]


def pipe_of(row: PipeRow, line: Any) -> pipe_rules.Pipe:
    """A stored pipe as the locate rules see it, its line already in projected metres."""
    return pipe_rules.Pipe(
        id=row.id,
        owner=row.owner_code,
        kind=row.kind,
        line=line,
        depth_start_m=row.depth_start_m,
        depth_end_m=row.depth_end_m,
        diameter_mm=row.diameter_mm,
        accuracy_m=row.accuracy_m,
        material=row.material,
        year_laid=row.year_laid,
        survey=row.survey,
    )


def pipes_near(s: Session, city: CityProfile, box: spatial.Box) -> list[pipe_rules.Pipe]:
    rows: list[PipeRow] = spatial.pipes(s, spatial.pipe_ids_near(s, box))
    lines = project_all(city, [shape(p.geometry) for p in rows])
    return [pipe_of(p, line) for p, line in zip(rows, lines, strict=True)]


def check(
    s: Session,
    city: CityProfile,
    *,
    app: r.Works,
    fp: Footprint,
    road_class: str,
    width_m: float,
    filed_at: datetime,
    today: date,
    cal: WorkCalendar,
    cfg: r.RuleConfig,
    locate: pipe_rules.LocateRule,
    exclude_id: int | None = None,
) -> Checked:
    """Everything the rules say about `app`, with its fee and the pipes its dig could hit."""
    near = spatial.grow(fp.box, cfg.near_m)
    gap = timedelta(days=cfg.repeat_gap_days)
    ids = spatial.permit_ids_near(
        s, near, (app.start - gap).toordinal(), (app.end + gap).toordinal()
    )
    rows = [p for p in spatial.permits(s, ids) if p.id != exclude_id]
    shapes = project_all(city, [shape(p.geometry) for p in rows])
    candidates = {p.ref: p for p in rows}
    others = [works_of(p, g) for p, g in zip(rows, shapes, strict=True)]
    assessment = assess.check_all(
        app,
        candidates=others,
        bans=dig_bans(s, city, near, app.road),
        embargoes=embargoes(s, city, app.start, app.end),
        filed_at=filed_at,
        cal=cal,
        cfg=cfg,
    )
    table = fees.pick_table(fee_tables(s), today)
    days = max(1, (app.end - app.start).days + 1)
    quote = fees.quote(table, road_class=road_class, days=days, area_m2=fp.area_m2, width_m=width_m)
    reach = spatial.grow(fp.box, locate.buffer_m + MAX_PIPE_ACCURACY_M)
    found = pipe_rules.matches(fp.metres, app.depth_m, pipes_near(s, city, reach), locate)
    return Checked(
        assessment=assessment,
        quote=quote,
        decide_by=assess.decide_by(filed_at, assessment.category, cal, cfg),
        matches=found,
        candidates=candidates,
    )


def finding_dicts(assessment: r.Assessment) -> list[dict[str, Any]]:
    return [
        {"code": f.code, "severity": f.severity, "reason": f.reason, "data": _plain(f.data)}
        for f in assessment.findings
    ]


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Finding data as JSON: dates as ISO strings."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, date):
            out[k] = v.isoformat()
        elif isinstance(v, list | tuple):
            out[k] = [x.isoformat() if isinstance(x, date) else x for x in v]
        else:
            out[k] = v
    return out
