"""The road works permit story in a real browser against a real server with the roadworks module
enabled: Taipower's staff draw their dig over Taipei Water's granted works, press Check and read
the clash naming that permit, and file; the RPIC operator grants it as a joint dig (deepest
first); the contractor cannot start while Taipei Water has not answered its locate request,
Taipei Water answers "Clear" on its queue, and the works start.

Organisations, users, a water main under the street and the existing permit are set up through
the API and the integration tests' helpers, like RPIC would register them. Screenshots of every
page (1280 and 390 wide) go to /tmp/rw_shots/."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from onecity.core.db import utcnow
from onecity.roadworks.services import RoadworksServices
from tests.integration.roadworks.helpers import LAT, LON, application, lay_pipe

from .conftest import expect_text, log_in, watched_page
from .roadworks_helpers import API, RoadCity, context, roadworks_server, screenshots

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/rw_shots")
shoot = partial(screenshots, SHOTS)
ZOOM = 20


@dataclass
class City(RoadCity):
    existing: dict[str, Any]  # Taipei Water's granted works


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    with roadworks_server(tmp_path_factory, "e2e-roadworks") as rc:
        op = rc.heads["rpic.op"]
        lay_pipe(rc.platform, "twc", "water", 0.00005, 1.2)  # a water main under the street
        # Taipei Water files; RPIC grants (nobody decides their own filing).
        filed = httpx.post(
            f"{rc.url}{API}/permits",
            json=application(contractor=None),
            headers=rc.heads["twc.staff"],
            timeout=10,
        )
        assert filed.status_code == 201, filed.text
        ref = filed.json()["ref"]
        granted = httpx.post(
            f"{rc.url}{API}/permits/{ref}/decision",
            json={"decision": "grant"},
            headers=op,
            timeout=10,
        )
        assert granted.status_code == 200 and granted.json()["status"] == "granted", granted.text
        yield City(rc.live, rc.heads, granted.json())


def pixel(lat: float, lon: float) -> tuple[float, float]:
    """Web Mercator pixel coordinates at ZOOM (what Leaflet uses for its default CRS)."""
    scale = 256 * 2**ZOOM
    x = (lon + 180) / 360 * scale
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * scale
    return x, y


def click_at(pg: Any, lat: float, lon: float) -> None:
    """Click the map where (lat, lon) is; the map was opened centred on (LAT, LON)."""
    box = pg.locator("#apply-map").bounding_box()
    cx, cy = pixel(LAT, LON)
    x, y = pixel(lat, lon)
    pg.mouse.click(box["x"] + box["width"] / 2 + x - cx, box["y"] + box["height"] / 2 + y - cy)
    pg.wait_for_timeout(350)  # two clicks in a row would be a double click


def test_clash_found_granted_as_joint_dig_and_started(chromium: Any, city: City) -> None:
    existing = city.existing["ref"]
    start = date.fromisoformat(city.existing["start_date"])
    end = date.fromisoformat(city.existing["end_date"])

    # --- Taipower's staff draw their dig over Taipei Water's works and check it --------------
    ctx = context(chromium, width=1280)
    pg, problems = watched_page(ctx, city.live)
    log_in(pg, city.url, "tp.staff", f"/roadworks/apply?at={LAT},{LON}&z={ZOOM}")
    expect_text(pg, "#a-applicant", "台灣電力公司")
    pg.select_option("#a-contractor", "builder")
    assert pg.input_value("#a-purpose") == "power"  # from the applicant's utility kind
    pg.fill("#a-description", "汰換 11.4kV 饋線")
    pg.fill("#a-road", "復興南路一段")
    pg.fill("#a-depth", "2.0")
    pg.fill("#a-start", start.isoformat())
    pg.fill("#a-end", end.isoformat())
    # Taipei Water's works are on the road that day: the map shows them before anything is drawn.
    pg.wait_for_function("() => document.getElementById('apply-map').dataset.booked === '1'")
    # Check before anything is drawn: the page says what is missing, nothing is sent.
    pg.click("#apply-check")
    expect_text(pg, "#apply-error", "地圖上畫出挖掘範圍")
    corners = [(0.0, 0.00002), (0.0, 0.00014), (0.00003, 0.00014), (0.00003, 0.00002)]
    for dy, dx in corners:
        click_at(pg, LAT + dy, LON + dx)
    expect_text(pg, "#draw-state", "4")
    pg.click("#draw-finish")
    assert pg.get_attribute("#apply-map", "data-finished") == "true"
    pg.click("#apply-check")
    clash = pg.locator('#check-findings li[data-code="clash"]')
    expect_text(pg, '#check-findings li[data-code="clash"]', re.escape(existing) + ".*同期施工")
    assert "sev-block" in (clash.get_attribute("class") or "")
    expect_text(pg, "#check-summary", "臺北自來水事業處")  # its main is under the dig
    expect_text(pg, "#check-joint-body", re.escape(existing))
    expect_text(pg, "#check-fee-total", r"NT\$\d")
    shoot(pg, "apply")

    pg.click("#apply-file")
    pg.wait_for_url(re.compile(r"/roadworks/permits/RW-\d{4}-\d{6}\?filed=1$"))
    ref = re.search(r"RW-\d{4}-\d{6}", pg.url).group(0)  # type: ignore[union-attr]
    expect_text(pg, "#permit-status", "申請中")
    expect_text(pg, "#action-msg", re.escape(ref))
    assert pg.is_visible("#action-msg")
    expect_text(pg, "#findings", re.escape(existing))
    expect_text(pg, "#locates", "待回覆")
    assert pg.locator("#act-joint").count() == 0  # deciding is RPIC's
    shoot(pg, "permit-applied")
    ctx.close()
    assert problems == []

    # --- the RPIC operator reads the register (in English) and grants a joint dig ------------
    ctx = context(chromium, width=1280)
    pg, problems = watched_page(ctx, city.live)
    log_in(pg, city.url, "rpic.op", "/roadworks/permits")
    pg.click("#lang-en")
    pg.wait_for_url(re.compile(r"/roadworks/permits$"))
    row = f'#permits tr[data-ref="{ref}"]'
    expect_text(pg, row, r"Applied.*clashes: 1")
    expect_text(pg, f'#permits tr[data-ref="{existing}"]', "Granted")
    shoot(pg, "register")
    pg.select_option("#f-status", "granted")
    expect_text(pg, "#permits-count", r"\(1\)")
    pg.select_option("#f-status", "")
    pg.click(f"{row} a")
    pg.wait_for_url(re.compile(re.escape(ref) + "$"))
    expect_text(
        pg, '#findings li[data-code="clash"]', re.escape(existing) + ".*dig the same stretch"
    )
    pg.wait_for_function("() => document.getElementById('permit-map').dataset.shapes === '2'")
    assert pg.locator("#act-grant").count() == 0  # a clash is granted jointly or not at all
    # Refusing needs a reason: the page says so and nothing changes.
    pg.click("#act-refuse")
    expect_text(pg, "#action-error", "Write a note first")
    expect_text(pg, "#permit-status", "Applied")
    shoot(pg, "permit-rpic")
    pg.click("#act-joint")
    expect_text(pg, "#permit-status", "Granted")
    expect_text(pg, "#action-msg", "granted as a joint dig")
    assert pg.is_visible("#action-msg")
    # Taipower digs 2.0 m deep, Taipei Water 1.5 m: the deeper dig goes first.
    expect_text(pg, "#dig-order", re.escape(ref) + r".*" + re.escape(existing))
    expect_text(pg, "#permit-joint", r"#1")
    expect_text(pg, "#steps", "Granted")
    expect_text(pg, '#findings li[data-code="clash"]', "^Dug jointly")
    shoot(pg, "permit-granted")
    ctx.close()
    assert problems == []

    # --- the day of the works: the contractor may not start before the owners answer -------
    svc = city.platform.services(RoadworksServices).permits
    svc.clock = lambda: utcnow() + timedelta(days=(start - date.today()).days)
    ctx = context(chromium, width=1280)
    pg, problems = watched_page(ctx, city.live)
    log_in(pg, city.url, "builder.staff", f"/roadworks/permits/{ref}")
    expect_text(pg, "#permit-status", "已核准")
    # Not theirs to read in full, but on the public works map: the clash is drawn all the same.
    pg.wait_for_function("() => document.getElementById('permit-map').dataset.shapes === '2'")
    pg.click("#act-start")
    expect_text(pg, "#action-error", r"cannot start before every pipe owner has answered.*twc")
    expect_text(pg, "#permit-status", "已核准")

    # --- Taipei Water answers on its queue ----------------------------------------------------
    owner_ctx = context(chromium, width=1280)
    owner, owner_problems = watched_page(owner_ctx, city.live)
    log_in(owner, city.url, "twc.staff", "/roadworks/locates")
    mine = f'#locates tr[data-permit="{ref}"]'
    expect_text(owner, mine, "待回覆")
    expect_text(owner, mine, "逾期")  # due two working days after filing, weeks ago now
    shoot(owner, "locates")
    owner.click(f'{mine} button[data-answer="conflict"]')
    expect_text(owner, "#locates-error", "哪條管線")  # a conflict needs a note
    owner.click(f'{mine} button[data-answer="clear"]')
    expect_text(owner, "#locates-msg", re.escape(ref) + ".*無礙")
    owner.locator(mine).wait_for(state="detached")  # no longer waiting (the list reloads)
    owner.uncheck("#f-pending")
    expect_text(owner, mine, "無礙.*twc.staff")
    owner_ctx.close()
    assert owner_problems == []

    # --- and the works start ------------------------------------------------------------------
    # The register is RPIC's: a contractor is told so instead of shown an empty table.
    refused = pg.goto(f"{city.url}/roadworks/permits")
    assert refused is not None and refused.status == 403
    pg.goto(f"{city.url}/roadworks/permits/{ref}")
    expect_text(pg, '#locates tr[data-owner="twc"]', "無礙")
    pg.click("#act-start")
    expect_text(pg, "#permit-status", "施工中")
    expect_text(pg, "#action-msg", re.escape(ref))
    assert pg.is_visible("#action-msg")
    expect_text(pg, "#steps", "開工.*builder.staff")
    assert pg.locator("#act-stop").count() == 1
    shoot(pg, "permit-started")
    ctx.close()
    assert problems == []
    svc.clock = utcnow
