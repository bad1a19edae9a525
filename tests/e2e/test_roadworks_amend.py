"""An application sent back for changes, amended in a real browser: Taipei Water files through
the API, the RPIC operator asks for changes with a note, Taipei Water's staff read the note on
the permit page, follow "Amend and resubmit" to the form filled in as filed (its outline drawn),
move the dig, check it (without a clash against its own filed outline), are told what the API
refuses, and resubmit under the same number. Screenshots (1280 and 390 wide) go to
/tmp/rw_shots4/."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.integration.roadworks.helpers import LAT, LON, application, square

from .conftest import expect_text, log_in, watched_page
from .roadworks_helpers import OPERATOR, RoadCity, context, roadworks_server, screenshots

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/rw_shots4")
shoot = partial(screenshots, SHOTS)
NOTE = "開挖範圍壓到公車停靠區，請往西移至少 10 公尺"
# The filed outline: square() at (LON, LAT), 0.0001° wide and a third of that tall. The form
# fits the map to it at zoom 20, so the map's centre is the outline's centre.
FILED = square()
MIDDLE = (LAT + 0.0001 / 6, LON + 0.00005)
ZOOM = 20


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoadCity]:
    with roadworks_server(tmp_path_factory, "e2e-roadworks-amend") as rc:
        yield rc


def pixel(lat: float, lon: float) -> tuple[float, float]:
    """Web Mercator pixel coordinates at ZOOM (Leaflet's default CRS)."""
    scale = 256 * 2**ZOOM
    s = math.sin(math.radians(lat))
    return (lon + 180) / 360 * scale, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * scale


def click_at(pg: Any, lat: float, lon: float) -> None:
    box = pg.locator("#apply-map").bounding_box()
    cx, cy = pixel(*MIDDLE)
    x, y = pixel(lat, lon)
    pg.mouse.click(box["x"] + box["width"] / 2 + x - cx, box["y"] + box["height"] / 2 + y - cy)
    pg.wait_for_timeout(350)  # two clicks in a row would be a double click


def test_sent_back_amended_and_resubmitted(chromium: Any, city: RoadCity) -> None:
    plan = "單線管制，派員指揮交通"
    filed = city.call("twc.staff", "/permits", application(geometry=FILED, traffic_plan=plan))
    ref = filed["ref"]
    asked = city.call(OPERATOR, f"/permits/{ref}/decision", {"decision": "changes", "note": NOTE})
    assert asked["status"] == "changes_requested"

    # --- the applicant's staff read RPIC's note on the permit ---------------------------------
    ctx = context(chromium, width=1280)
    pg, problems = watched_page(ctx, city.live)
    log_in(pg, city.url, "twc.staff", f"/roadworks/permits/{ref}")
    expect_text(pg, "#permit-status", "退請修正")
    expect_text(pg, "#amend-note", re.escape(NOTE))
    expect_text(pg, "#amend-by", OPERATOR)
    assert pg.is_visible("#amend-link")
    shoot(pg, "permit-changes")
    pg.click("#amend-link")

    # --- the form as filed, RPIC's note on top -------------------------------------------------
    pg.wait_for_url(re.compile(r"/roadworks/apply\?amend=" + re.escape(ref) + "$"))
    expect_text(pg, "#amend-banner", re.escape(f"修正 {ref}：") + ".*" + re.escape(NOTE))
    expect_text(pg, "#apply-h", re.escape(ref))
    assert pg.input_value("#a-description") == filed["description"]
    assert pg.input_value("#a-traffic") == plan
    assert pg.input_value("#a-road") == filed["road"]
    assert pg.input_value("#a-start") == filed["start_date"]
    assert pg.input_value("#a-end") == filed["end_date"]
    assert pg.input_value("#a-contractor") == "builder"
    assert pg.input_value("#a-depth") == "1.5"
    assert pg.input_value("#a-applicant") == "twc" and pg.is_disabled("#a-applicant")
    expect_text(pg, "#apply-file", "重新送件")
    # The filed outline is the drawing, finished, and stays on the map as "as filed".
    assert pg.get_attribute("#apply-map", "data-points") == "4"
    assert pg.get_attribute("#apply-map", "data-finished") == "true"
    assert pg.is_visible("#legend-filed")
    # Checked as filed, the dry run finds the permit's own outline on the books; the page
    # does not show that as a clash.
    raw = city.call("twc.staff", "/permits/check", application(geometry=FILED))
    assert any(f["data"].get("other") == ref for f in raw["findings"])
    pg.click("#apply-check")
    expect_text(pg, "#check-verdict", "無不予許可事由")
    assert ref not in pg.inner_text("#check-result")

    # --- move the dig west, check it ----------------------------------------------------------
    pg.click("#draw-clear")
    expect_text(pg, "#draw-state", "尚未")
    corners = [(0.0, -0.00016), (0.0, -0.00004), (0.00003, -0.00004), (0.00003, -0.00016)]
    for dy, dx in corners:
        click_at(pg, LAT + dy, LON + dx)
    pg.click("#draw-finish")
    assert pg.get_attribute("#apply-map", "data-finished") == "true"
    pg.fill("#a-description", "汰換幹管（移出公車停靠區）")
    pg.click("#apply-check")
    expect_text(pg, "#check-verdict", ".+")
    # Its own filed outline is on the books, but is not something it clashes with.
    assert ref not in pg.inner_text("#check-result")
    assert pg.locator('#check-findings li[data-code="clash"]').count() == 0
    shoot(pg, "amend-checked")

    # --- what the API refuses is said on the page, and nothing changes -----------------------
    pg.fill("#a-end", "2020-01-01")
    pg.click("#apply-file")
    expect_text(pg, "#apply-error", "未受理.*end before they start")
    assert city.call("twc.staff", f"/permits/{ref}", {}, "GET")["status"] == "changes_requested"
    pg.fill("#a-end", filed["end_date"])

    # --- resubmitted under the same number ----------------------------------------------------
    pg.click("#apply-file")
    pg.wait_for_url(re.compile(re.escape(ref) + r"\?resubmitted=1$"))
    expect_text(pg, "#permit-status", "申請中")
    expect_text(pg, "#action-msg", re.escape(ref) + ".*重新送件")
    expect_text(pg, '#steps li[data-step="resubmitted"]', "修正後重新送件.*twc.staff")
    assert pg.is_hidden("#amend")
    shoot(pg, "permit-resubmitted")
    ctx.close()
    assert problems == []

    now = city.call("twc.staff", f"/permits/{ref}", {}, "GET")
    assert now["description"] == "汰換幹管（移出公車停靠區）"
    assert now["traffic_plan"] == plan  # kept through the amendment
    lons = [x for x, _y in now["geometry"]["coordinates"][0]]
    assert max(lons) < LON  # drawn west of where it was filed
