"""What an application body sets on a permit row, filed or amended: its fields, the checks'
findings (naming the permit once it has a number), fee and answer date, and the trench width
when the applicant gave none."""

from __future__ import annotations

from typing import Any

from onecity.roadworks.permits import checks
from onecity.roadworks.permits import schemas as sc
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.rules import footprint

# What the rules call an application before it has a number; a filed one's reasons use its ref.
THIS_APPLICATION = "(this application)"


def fill(p: Permit, body: sc.PermitIn, fp: footprint.Footprint, got: checks.Checked) -> None:
    """Set what an application body and its checks say on a permit row (filed or amended)."""
    x0, y0, x1, y1 = fp.box
    p.applicant_code = body.applicant
    p.contractor_code = body.contractor
    p.purpose = body.purpose
    p.description = body.description
    p.road = body.road
    p.road_class = body.road_class
    p.width_m = body.width_m or width_of(fp)
    p.area_m2 = fp.area_m2
    p.depth_m = body.depth_m
    p.geometry = fp.wgs84
    p.district = fp.district
    p.start_date, p.end_date = body.start_date, body.end_date
    p.start_day, p.end_day = body.start_date.toordinal(), body.end_date.toordinal()
    p.night, p.emergency, p.residential = body.night, body.emergency, body.residential
    p.hours, p.traffic_plan = body.hours, body.traffic_plan
    p.category = got.assessment.category
    p.decide_by = got.decide_by
    p.fee_total, p.fee_version = got.quote.total, got.quote.version
    p.fee_lines = [{"item": k, "amount": v} for k, v in got.quote.lines()]
    p.findings = checks.finding_dicts(got.assessment)
    if p.ref.startswith("RW-"):
        p.findings = named(p.findings, p.ref)
    p.minx, p.miny, p.maxx, p.maxy = x0, y0, x1, y1


def named(findings: list[dict[str, Any]], ref: str) -> list[dict[str, Any]]:
    """Findings whose reasons say the permit's number instead of "(this application)"."""
    return [
        {**f, "reason": {k: v.replace(THIS_APPLICATION, ref) for k, v in f["reason"].items()}}
        for f in findings
    ]


def width_of(fp: footprint.Footprint) -> float:
    """A polygon's trench width: area over half the perimeter of its minimum rotated box
    (its short side), which is what the restoration band goes by."""
    box = fp.metres.minimum_rotated_rectangle
    xs, ys = box.exterior.coords.xy
    sides = sorted(((xs[i + 1] - xs[i]) ** 2 + (ys[i + 1] - ys[i]) ** 2) ** 0.5 for i in range(2))
    return round(max(0.1, float(sides[0])), 2)
