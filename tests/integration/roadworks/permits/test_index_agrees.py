"""The database's spatial index (SQLite's R*Tree kept by triggers, PostgreSQL's GiST over
boxes) loses nothing: for random applications among a few hundred random permits, the check
through the index finds exactly the conflicts, dig bans and pipe owners that the same rules
find looking at every row."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from shapely.geometry import LineString, box
from shapely.geometry.base import BaseGeometry

from onecity.core.platform import Platform
from onecity.core.workdays import WorkCalendar
from onecity.roadworks.config import RoadworksConfig
from onecity.roadworks.permits import checks
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.pipes.models import PipeRow
from onecity.roadworks.registry.models import DigBanRow, RoadOrg
from onecity.roadworks.rules import footprint, pipes
from onecity.roadworks.rules import permit as r

DAY0 = date(2027, 3, 1)
STATUSES = ("applied", "granted", "in_progress", "closed", "refused", "withdrawn")


def _shape(rng: random.Random, x0: float, y0: float) -> BaseGeometry:
    x, y = x0 + rng.uniform(0, 600), y0 + rng.uniform(0, 600)
    if rng.random() < 0.5:
        return box(x, y, x + rng.uniform(1, 60), y + rng.uniform(1, 4))
    return LineString([(x, y), (x + rng.uniform(-40, 40), y + rng.uniform(1, 40))])


def _fill(p: Platform, rng: random.Random) -> tuple[float, float]:
    city = p.city
    x0, y0 = city.to_projected(121.5400, 25.0300)
    with p.db.session() as s:
        for code in ("twc", "taipower", "cht"):
            s.add(
                RoadOrg(code=code, name_zh=code, name_en=code, kind="utility", utility_kind="water")
            )
        s.flush()
        for i in range(300):
            g = _shape(rng, x0, y0)
            area = g if g.geom_type == "Polygon" else g.buffer(0.5, cap_style="flat")
            start = DAY0 + timedelta(days=rng.randint(-150, 150))
            end = start + timedelta(days=rng.randint(0, 40))
            bx = area.bounds
            s.add(
                Permit(
                    ref=f"RW-2027-{i:06d}",
                    department_code="pwd",
                    applicant_code="twc",
                    purpose="water",
                    description="random",
                    road=None,
                    road_class="wide",
                    width_m=1.0,
                    area_m2=area.area,
                    depth_m=rng.uniform(0.5, 3.0),
                    geometry=footprint.to_wgs84(city, area),
                    district=None,
                    start_date=start,
                    end_date=end,
                    status=rng.choice(STATUSES),
                    category="standard",
                    filed_at=datetime(2027, 1, 1, tzinfo=UTC),
                    decide_by=DAY0,
                    fee_total=0,
                    fee_version="2026",
                    created_by="test",
                    minx=bx[0],
                    miny=bx[1],
                    maxx=bx[2],
                    maxy=bx[3],
                    start_day=start.toordinal(),
                    end_day=end.toordinal(),
                )
            )
        for i in range(600):
            line = _shape(rng, x0, y0)
            if line.geom_type != "LineString":
                line = LineString(list(line.exterior.coords)[:2])
            bx = line.bounds
            s.add(
                PipeRow(
                    owner_code=rng.choice(("twc", "taipower", "cht")),
                    kind="water",
                    diameter_mm=200,
                    accuracy_m=rng.choice((0.3, 1.0)),
                    depth_start_m=rng.uniform(0.5, 4),
                    depth_end_m=rng.uniform(0.5, 4),
                    geometry=footprint.to_wgs84(city, line),
                    synthetic=True,
                    minx=bx[0],
                    miny=bx[1],
                    maxx=bx[2],
                    maxy=bx[3],
                    material="",
                    survey="",
                    retired_at=datetime(2027, 1, 1, tzinfo=UTC) if i % 10 == 0 else None,
                )
            )
        for i in range(20):
            g = _shape(rng, x0, y0)
            bx = g.bounds
            s.add(
                DigBanRow(
                    road=f"road {i}",
                    geometry=footprint.to_wgs84(city, g),
                    paved_on=DAY0 - timedelta(days=rng.randint(0, 2500)),
                    years=5,
                    note="",
                    minx=bx[0],
                    miny=bx[1],
                    maxx=bx[2],
                    maxy=bx[3],
                )
            )
    return x0, y0


def test_index_finds_what_a_full_scan_finds(platform: Platform) -> None:
    rng = random.Random(7)
    x0, y0 = _fill(platform, rng)
    city = platform.city
    cal = WorkCalendar(holidays=frozenset())
    cfg = RoadworksConfig(calendar=cal)
    with platform.db.read() as s:
        every = s.query(Permit).all()
        all_works = [checks.works_of(p, footprint.to_metres(city, p.geometry)) for p in every]
        all_pipes = [
            checks.pipe_of(row, footprint.to_metres(city, row.geometry))
            for row in s.query(PipeRow).filter(PipeRow.retired_at.is_(None)).all()
        ]
        all_bans = [
            r.DigBan(
                road=b.road,
                geom=footprint.to_metres(city, b.geometry),
                paved_on=b.paved_on,
                years=b.years,
            )
            for b in s.query(DigBanRow).all()
        ]
        seen = {"conflicts": 0, "bans": 0, "owners": 0}
        for _ in range(80):
            geom = _shape(rng, x0, y0)
            area = geom if geom.geom_type == "Polygon" else geom.buffer(0.5, cap_style="flat")
            fp = footprint.Footprint(wgs84={}, metres=area, area_m2=area.area, district=None)
            start = DAY0 + timedelta(days=rng.randint(-150, 150))
            app = r.Works(
                ref="NEW",
                geom=area,
                start=start,
                end=start + timedelta(days=rng.randint(0, 30)),
                depth_m=rng.uniform(0.5, 3.5),
                purpose="water",
                applicant="twc",
                road=None,
                status="applied",
            )
            got = checks.check(
                s,
                city,
                app=app,
                fp=fp,
                road_class="wide",
                width_m=1.0,
                filed_at=datetime(2027, 1, 1, tzinfo=UTC),
                today=DAY0,
                cal=cal,
                cfg=cfg.rules,
                locate=cfg.locate,
            )
            by_index = {
                (f.code, f.data.get("other"))
                for f in got.assessment.findings
                if f.code in ("clash", "repeat_dig")
            }
            by_scan = {
                (f.code, f.data.get("other")) for f in r.find_conflicts(app, all_works, cfg.rules)
            }
            assert by_index == by_scan
            ban_codes = sum(f.code == "dig_ban" for f in got.assessment.findings)
            assert ban_codes == len(r.check_dig_bans(app, all_bans, cfg.rules))
            owners = {m.owner for m in got.matches}
            assert owners == set(
                pipes.owners(pipes.matches(area, app.depth_m, all_pipes, cfg.locate))
            )
            seen["conflicts"] += len(by_scan)
            seen["bans"] += ban_codes
            seen["owners"] += len(owners)
    # The random city is dense enough that the comparison is not of empty sets.
    assert seen["conflicts"] > 20 and seen["bans"] > 3 and seen["owners"] > 20, seen
