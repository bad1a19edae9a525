"""The demo's dig ban (a road resurfaced last year) and embargoes (the next Lunar New Year,
the university entrance exam around its exam centre), added once."""

from __future__ import annotations

from datetime import date

from shapely.geometry import LineString, Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onecity.core.platform import Platform
from onecity.roadworks.registry.models import DigBanRow, EmbargoRow
from onecity.roadworks.rules import footprint

# Lunar New Year periods (the official ones are announced each year; these are approximate).
LUNAR_NEW_YEAR = ((date(2027, 2, 5), date(2027, 2, 10)), (date(2028, 1, 25), date(2028, 1, 31)))
# The General Scholastic Ability Test (學測), around 國立臺灣大學's exam centre; approximate.
EXAM_DAYS = ((date(2027, 1, 20), date(2027, 1, 22)), (date(2028, 1, 19), date(2028, 1, 21)))
EXAM_CENTRE = (121.5397, 25.0174)


def dig_ban(s: Session, p: Platform, today: date) -> None:
    road = "敦化南路二段"
    if s.scalar(select(DigBanRow.id).where(DigBanRow.road == road)) is not None:
        return
    # The road's line, approximately; 30 m wide.
    line = LineString([(121.5489, 25.0335), (121.5491, 25.0262)])
    xs, ys = p.city.to_projected_many(*line.xy)
    area = LineString(list(zip(xs, ys, strict=True))).buffer(15.0, cap_style="flat")
    x0, y0, x1, y1 = (float(v) for v in area.bounds)
    s.add(
        DigBanRow(
            road=road,
            geometry=footprint.to_wgs84(p.city, area),
            paved_on=date(today.year - 1, 8, 15),
            years=5,
            note="示範資料：去年重新鋪面（路線為概略）",
            minx=x0,
            miny=y0,
            maxx=x1,
            maxy=y1,
        )
    )


def _next(periods: tuple[tuple[date, date], ...], today: date) -> tuple[date, date]:
    """The first period not over yet (the last one when all are)."""
    return next(((a, b) for a, b in periods if b >= today), periods[-1])


def embargoes(s: Session, p: Platform, today: date) -> None:
    if s.scalar(select(func.count()).select_from(EmbargoRow)):
        return
    ny = _next(LUNAR_NEW_YEAR, today)
    s.add(
        EmbargoRow(
            name_zh="春節禁挖期",
            name_en="Lunar New Year: no digging",
            kind="holiday",
            start_date=ny[0],
            end_date=ny[1],
            geometry=None,
        )
    )
    exam = _next(EXAM_DAYS, today)
    x, y = p.city.to_projected(*EXAM_CENTRE)
    area = Point(x, y).buffer(400.0, quad_segs=8)
    s.add(
        EmbargoRow(
            name_zh="學測試場周邊禁挖（臺大）",
            name_en="University entrance exam: no digging around the NTU exam centre",
            kind="exam",
            start_date=exam[0],
            end_date=exam[1],
            geometry=footprint.to_wgs84(p.city, area),
        )
    )
