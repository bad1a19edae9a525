"""The road works part of the demo city: one real day of Taipei's road works (112 permits,
demo_import.py maps them), a SYNTHETIC pipeline network under 大安區 (pipe_gen), a dig ban, two
embargoes, the default fee table, the demo logins as members of their organisations, and one
scenario ready to try: a granted water main renewal on a street with pipes, which a contractor
filing on the same stretch clashes with. Safe to run at every start: what is there is kept.

The permits are written straight into the tables in one transaction, not through the permit
rules: the real ones were granted already, and 112 rule checks would only slow the start."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from shapely.geometry import LineString, Point, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from onecity.core.db import bulk_insert
from onecity.core.models import Department
from onecity.core.platform import Platform
from onecity.roadworks.demo import bans as demo_bans
from onecity.roadworks.demo import pipe_gen
from onecity.roadworks.demo import todaywork as demo_import
from onecity.roadworks.permits import checks
from onecity.roadworks.permits.models import Permit, PermitStep
from onecity.roadworks.pipes.models import PipeRow
from onecity.roadworks.registry.models import RoadOrg, RoadOrgMember
from onecity.roadworks.registry.service import seed_reference
from onecity.roadworks.rules import fees, footprint
from onecity.roadworks.rules import permit as r
from onecity.roadworks.rules.status import PermitStatus

IMPORTER = "import:traffic_todaywork_view"
SCENARIO = "demo:scenario"
DEPARTMENT = "pwd"
PIPE_DISTRICT = "大安區"
PIPE_SEED = 2026
TRENCH_M = (float(demo_import.FOOTPRINT_M[0]), float(demo_import.FOOTPRINT_M[1]))
# Logins of the demo (bootstrap.DEMO_USERS) and the organisations they act for.
# Every pipe owner of the synthetic network has one, so every locate request can be answered.
MEMBERS = {
    "twc.staff": "twc",
    "taipower.staff": "taipower",
    "cht.staff": "cht",
    "gas.staff": "gas",
    "sewer.staff": "sewer",
}
CONTRACTOR_LOGIN = ("pwd.contractor", "大陸工程股份有限公司")
# The scenario: a water main renewal near 復興南路一段 (大安區), on the synthetic street grid.
SCENARIO_NEAR = (121.5435, 25.0330)


@dataclass
class DemoSummary:
    permits: int = 0
    orgs: int = 0
    pipes: int = 0
    scenario: dict[str, Any] = field(default_factory=dict)


def seed(p: Platform, today: date | None = None) -> DemoSummary:
    """Load the demo's road works (once); return what is on the books and the scenario."""
    day = today or datetime.now(ZoneInfo(p.city.timezone)).date()
    with p.db.read() as s:
        if s.get(Department, DEPARTMENT) is None:
            raise ValueError(
                f"department '{DEPARTMENT}' is not on the books: run `onecity db upgrade` "
                "first (it loads the city profile's departments)"
            )
    seed_reference(p)
    works = demo_import.load(day, district_at=lambda lon, lat: p.city.place(lon, lat).district)
    with p.db.session() as s:
        _orgs(s, works)
        _members(s)
        if not s.scalar(select(func.count()).where(Permit.created_by == IMPORTER)):
            _permits(s, p, works)
        if not s.scalar(select(func.count()).where(PipeRow.synthetic.is_(True))):
            _pipes(s, p)
        scenario = s.scalars(select(Permit).where(Permit.created_by == SCENARIO)).first()
        if scenario is None:
            scenario = _scenario(s, p, day)
        demo_bans.dig_ban(s, p, day)
        demo_bans.embargoes(s, p, day)
        out = DemoSummary(
            permits=int(s.scalar(select(func.count()).select_from(Permit)) or 0),
            orgs=int(s.scalar(select(func.count()).select_from(RoadOrg)) or 0),
            pipes=int(s.scalar(select(func.count()).select_from(PipeRow)) or 0),
        )
        out.scenario = _describe(scenario)
        return out


def _orgs(s: Session, works: list[demo_import.Work]) -> None:
    wanted: dict[str, demo_import.Org] = {o.code: o for _, o in demo_import.FAMILIES}
    for w in works:
        wanted.setdefault(w.applicant.code, w.applicant)
        if w.contractor is not None:
            wanted.setdefault(w.contractor.code, w.contractor)
    have = set(s.scalars(select(RoadOrg.code)))
    for o in wanted.values():
        if o.code not in have:
            s.add(
                RoadOrg(
                    code=o.code,
                    name_zh=o.name_zh,
                    name_en=o.name_en,
                    kind=o.kind,
                    utility_kind=o.utility_kind,
                )
            )
    s.flush()


def _members(s: Session) -> None:
    links = dict(MEMBERS)
    links[CONTRACTOR_LOGIN[0]] = demo_import.contractor_org(CONTRACTOR_LOGIN[1]).code
    for user, org in links.items():
        if s.get(RoadOrgMember, (org, user)) is None:
            s.add(RoadOrgMember(org_code=org, username=user))
    s.flush()


def trench(p: Platform, lon: float, lat: float, bearing_deg: float) -> BaseGeometry:
    """A 12 m by 2 m trench centred on a point, along a bearing (degrees from north), in metres."""
    x, y = p.city.to_projected(lon, lat)
    half = TRENCH_M[0] / 2
    dx, dy = math.sin(math.radians(bearing_deg)) * half, math.cos(math.radians(bearing_deg)) * half
    line = LineString([(x - dx, y - dy), (x + dx, y + dy)])
    return line.buffer(TRENCH_M[1] / 2, cap_style="flat")


def _permits(s: Session, p: Platform, works: list[demo_import.Work]) -> None:
    rng = random.Random(PIPE_SEED)
    tz = ZoneInfo(p.city.timezone)
    for w in works:
        geom = trench(p, w.lon, w.lat, rng.uniform(0.0, 180.0))
        filed = datetime.combine(demo_import.filed_on(w), time(9, 0), tzinfo=tz)
        row = _permit_row(p, w, geom, filed)
        s.add(row)
        s.flush()
        row.ref = f"RW-{filed.year}-{row.id:06d}"
        s.add(
            PermitStep(
                permit_id=row.id,
                at=filed,
                actor=IMPORTER,
                step="imported",
                from_status=None,
                to_status=w.status.value,
                note="",
                detail={
                    "source": w.source,
                    "index": w.index,
                    "snapshot": demo_import.SNAPSHOT.isoformat(),
                    "notes": [n["code"] for n in w.notes],
                },
            )
        )


def _permit_row(p: Platform, w: demo_import.Work, geom: BaseGeometry, filed: datetime) -> Permit:
    x0, y0, x1, y1 = (float(v) for v in geom.bounds)
    days = max(1, (w.end - w.start).days + 1)
    area = round(float(geom.area), 2)
    quote = fees.quote(
        checks.DEFAULT_FEES, road_class="wide", days=days, area_m2=area, width_m=TRENCH_M[1]
    )
    works = r.Works(
        ref="import",
        geom=geom,
        start=w.start,
        end=w.end,
        depth_m=w.depth_m,
        purpose=w.purpose,
        applicant=w.applicant.code,
        road=None,
        emergency=w.emergency,
    )
    npurp = str(w.source.get("npurp", ""))
    return Permit(
        ref=f"import-{w.index}",
        department_code=DEPARTMENT,
        applicant_code=w.applicant.code,
        contractor_code=w.contractor.code if w.contractor else None,
        purpose=w.purpose,
        description=f"{npurp} · {w.source.get('app_name', '')}"[:200],
        road=None,
        road_class="wide",  # the source does not say; the fee is illustrative
        width_m=TRENCH_M[1],
        area_m2=area,
        depth_m=w.depth_m,
        geometry=footprint.to_wgs84(p.city, geom),
        district=w.district,
        start_date=w.start,
        end_date=w.end,
        night=w.night,
        emergency=w.emergency,
        residential=False,
        hours=w.hours,
        traffic_plan="",
        status=w.status.value,
        category=r.category(works, r.RuleConfig()),
        filed_at=filed,
        decide_by=filed.date() + timedelta(days=7),
        fee_total=quote.total,
        fee_version=quote.version,
        fee_lines=[{"item": k, "amount": v} for k, v in quote.lines()],
        # The import's notes: how the record was read, and what looks wrong in it (withheld
        # from the public map, listed there as withheld; see todaywork.NOTE_TEXT).
        findings=list(w.notes),
        created_by=IMPORTER,
        updated_at=filed,
        minx=x0,
        miny=y0,
        maxx=x1,
        maxy=y1,
        start_day=w.start.toordinal(),
        end_day=w.end.toordinal(),
    )


def district_metres(p: Platform, name: str) -> BaseGeometry:
    b = p.city.districts
    return footprint.to_metres(p.city, dict(mapping(b.geoms[b.names.index(name)])))


def _pipes(s: Session, p: Platform) -> None:
    """The SYNTHETIC network under one district (pipe_gen.SYNTHETIC_NOTE), owners mapped to
    the demo utilities (pipe_gen's owner codes are the demo's)."""
    owners = {o.code for _, o in demo_import.FAMILIES}
    network = pipe_gen.generate(district_metres(p, PIPE_DISTRICT), seed=PIPE_SEED, block_m=150)
    lines = checks.unproject_all(p.city, [pp.line for pp in network])
    rows = []
    for pp, wgs in zip(network, lines, strict=True):
        assert pp.owner in owners, pp.owner
        x0, y0, x1, y1 = (float(v) for v in pp.line.bounds)
        coords = [[round(float(x), 7), round(float(y), 7)] for x, y in wgs.coords]
        rows.append(
            {
                "owner_code": pp.owner,
                "kind": pp.kind,
                "diameter_mm": pp.diameter_mm,
                "material": pp.material,
                "year_laid": pp.year_laid,
                "survey": pp.survey,
                "accuracy_m": pp.accuracy_m,
                "depth_start_m": pp.depth_start_m,
                "depth_end_m": pp.depth_end_m,
                "geometry": {"type": "LineString", "coordinates": coords},
                "synthetic": True,
                "retired_at": None,
                "replaced_by": None,
                "source_permit_id": None,
                "minx": x0,
                "miny": y0,
                "maxx": x1,
                "maxy": y1,
            }
        )
    table = cast(Table, PipeRow.__table__)
    for i in range(0, len(rows), 2000):
        bulk_insert(s.connection(), table, rows[i : i + 2000])


def _scenario(s: Session, p: Platform, today: date) -> Permit:
    """A granted water main renewal along the twc main nearest SCENARIO_NEAR."""
    geom = _along_main(s, p)
    start = today + timedelta(days=21)
    w = demo_import.Work(
        index=-1,
        lon=SCENARIO_NEAR[0],
        lat=SCENARIO_NEAR[1],
        applicant=demo_import.FAMILIES[0][1],
        contractor=demo_import.contractor_org("國盛電氣工程有限公司"),
        purpose="water",
        district=PIPE_DISTRICT,
        hours="日間 9:30–16:00",
        night=False,
        start=start,
        end=start + timedelta(days=9),
        status=PermitStatus.GRANTED,
        source={"npurp": "市政建設(自來水-計畫性汰管) demo scenario"},
    )
    tz = ZoneInfo(p.city.timezone)
    filed = datetime.combine(today - timedelta(days=10), time(10, 0), tzinfo=tz)
    row = _permit_row(p, w, geom, filed)
    row.created_by, row.road = SCENARIO, "復興南路一段"
    row.description = "自來水管汰換（示範情境，合成街道）"
    row.findings = []
    row.area_m2, row.width_m = round(float(geom.area), 2), 2.0
    s.add(row)
    s.flush()
    row.ref = f"RW-{filed.year}-{row.id:06d}"
    steps = (("applied", None, PermitStatus.APPLIED), ("granted", "applied", PermitStatus.GRANTED))
    for step, before, after in steps:
        s.add(
            PermitStep(
                permit_id=row.id,
                at=filed,
                actor=SCENARIO,
                step=step,
                from_status=before,
                to_status=after.value,
                note="",
                detail={},
            )
        )
    s.flush()
    return row


def _along_main(s: Session, p: Platform) -> BaseGeometry:
    """A 30 m by 2 m trench along the twc main nearest SCENARIO_NEAR."""
    x, y = p.city.to_projected(*SCENARIO_NEAR)
    here = Point(x, y)
    mains = s.scalars(
        select(PipeRow).where(
            PipeRow.owner_code == "twc",
            PipeRow.retired_at.is_(None),
            PipeRow.minx <= x + 300,
            PipeRow.maxx >= x - 300,
            PipeRow.miny <= y + 300,
            PipeRow.maxy >= y - 300,
        )
    ).all()
    lines = [footprint.to_metres(p.city, m.geometry) for m in mains]
    best = min(lines, key=lambda g: g.distance(here))
    along = best.project(here)
    piece = substring(best, max(0.0, along - 15), min(best.length, along + 15))
    return piece.buffer(1.0, cap_style="flat")


def _describe(permit: Permit) -> dict[str, Any]:
    line = shape(permit.geometry).centroid
    return {
        "ref": permit.ref,
        "road": permit.road,
        "lon": round(line.x, 6),
        "lat": round(line.y, 6),
        "start_date": permit.start_date.isoformat(),
        "end_date": permit.end_date.isoformat(),
        "geometry": permit.geometry,
    }
