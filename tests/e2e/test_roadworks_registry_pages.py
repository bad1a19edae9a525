"""RPIC's registry pages in a real browser against a real server with the roadworks module on.

An RPIC officer records penalties until a contractor is barred and sees "barred until" on the
contractors page, voids one (saying why) and the bar is gone, and is shown the API's range
message for a fine below the law's minimum. The pipeline map shows the pipes recorded over
the API, says which are synthetic, says when the limit is hit, and draws a pipe's depth
profile when it is clicked. The rules page adds a dig ban (traced on the map), an embargo and a
fee version. A contractor's staff get the refusal page. Screenshots (desktop and phone, zh-TW
and en) go to /tmp/rw_shots3/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from onecity.core.workdays import add_months, add_years
from onecity.roadworks.models import PipeRow
from onecity.roadworks.pipes import service as pipes_service
from onecity.roadworks.services import RoadworksServices
from tests.integration.roadworks.helpers import LAT, LON

from .conftest import expect_text, log_in, wait_js, watched_page
from .roadworks_helpers import (
    API,
    CITY_ORGS,
    DIGCO,
    PHONE,
    RoadCity,
    context,
    roadworks_server,
    screenshot,
)

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/rw_shots3")
shoot = partial(screenshot, SHOTS)


@dataclass
class City(RoadCity):
    today: date
    pipes: dict[str, int]


def _pipe(kind: str, owner: str, mm: int, depths: tuple[float, float], dx: float) -> dict[str, Any]:
    x = LON + dx
    line = [[x, LAT - 0.0006], [x, LAT - 0.0001], [x, LAT + 0.0006]]
    return {
        "owner": owner,
        "kind": kind,
        "geometry": {"type": "LineString", "coordinates": line},
        "diameter_mm": mm,
        "material": "DIP" if kind == "water" else "PE",
        "year_laid": 1998,
        "survey": "GPR",
        "accuracy_m": 0.3,
        "depth_start_m": depths[0],
        "depth_end_m": depths[1],
    }


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    with roadworks_server(tmp_path_factory, "e2e-registry", (*CITY_ORGS, DIGCO)) as rc:
        pipes = {}
        for kind, owner, mm, depths, dx in (
            ("water", "twc", 300, (1.2, 1.5), 0.0),
            ("power", "taipower", 800, (2.5, 2.7), 0.0004),
            ("gas", "twc", 150, (0.8, 0.9), -0.0004),
        ):
            r = httpx.post(
                f"{rc.url}{API}/pipes",
                json=_pipe(kind, owner, mm, depths, dx),
                headers=rc.heads["rpic.op"],
                timeout=10,
            )
            assert r.status_code == 201, r.text
            pipes[kind] = r.json()["id"]
        # The demo's network is generated; the map must say so for such a pipe.
        with rc.platform.db.session() as s:
            s.execute(update(PipeRow).where(PipeRow.id == pipes["gas"]).values(synthetic=True))
        yield City(
            rc.live, rc.heads, rc.platform.services(RoadworksServices).permits.today(), pipes
        )


def no_sideways_scroll(pg: Any) -> None:
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def settled(pg: Any) -> None:
    """The pipe map has moved to the pipes and loaded the pipes of that view."""
    wait_js(pg, "document.getElementById('pm-map').dataset.fitted === 'true'")
    pg.wait_for_timeout(500)  # the move's reload waits for the map to stop
    wait_js(pg, "document.getElementById('pm-map').dataset.loading === 'false'")


def record(pg: Any, breach: str, fine: str) -> None:
    pg.select_option("#pen-contractor", "builder")
    pg.select_option("#pen-breach", breach)
    pg.fill("#pen-fine", fine)
    pg.click("#pen-submit")


def builder_row(pg: Any) -> Any:
    return pg.locator("#ct-con-body tr[data-code='builder']")


def test_penalties_bar_and_void(chromium: Any, city: City) -> None:
    ctx = context(chromium)
    pg, problems = watched_page(ctx, city.live)
    log_in(pg, city.url, "rpic.op", "/roadworks/contractors")
    expect_text(pg, "h1", "施工廠商與罰則")
    expect_text(pg, "#ct-rule", "6 點.*NT\\$30,000 至 NT\\$150,000")
    expect_text(pg, "#ct-org-body", "臺北自來水事業處.*twc.staff")
    expect_text(pg, "#pen-fine-hint", "NT\\$30,000 至 NT\\$150,000")
    expect_text(pg, "#hist-none", "尚無違規紀錄")

    # Below the law's minimum: the API's own sentence, and nothing written.
    record(pg, "overrun", "10000")
    expect_text(pg, "#pen-error", "between NT\\$30,000 and NT\\$150,000, got NT\\$10,000")
    assert pg.get_attribute("#pen-fine", "aria-invalid") == "true"
    assert pg.locator("#hist-body tr").count() == 0

    record(pg, "no_permit", "90000")
    expect_text(pg, "#pen-done", "未經許可挖掘.*3 點.*目前累計 3 點")
    expect_text(pg, "#ct-con-body tr[data-code='builder'] td:nth-child(3)", "^3 / 6$")
    record(pg, "poor_restoration", "60000")
    expect_text(pg, "#pen-done", "目前累計 5 點")
    record(pg, "overrun", "30000")
    until = add_months(city.today, 6).isoformat()
    expect_text(pg, "#pen-done", f"停權至 {until}")
    expect_text(pg, "#ct-con-body tr[data-code='builder'] .reg-barred", f"^停權至 {until}$")
    assert "is-barred" in (builder_row(pg).get_attribute("class") or "")
    # The other contractor is untouched.
    assert pg.locator("#ct-con-body tr[data-code='digco'] .reg-barred").count() == 0
    expect_text(pg, "#hist-count", "\\(3\\)")
    shoot(pg, "contractors-barred-desktop-zh.png")

    # Void the 3-point breach: a reason is required (the API says so), then the bar lifts.
    first = pg.locator("#hist-body tr", has_text="未經許可挖掘")
    first.locator("button.reg-void").click()
    pg.click(".reg-void-form button[type=submit]")
    expect_text(pg, ".reg-void-form .error", "say why the penalty is voided")
    pg.fill("#void-note", "誤植：該案已取得許可")
    pg.click(".reg-void-form button[type=submit]")
    expect_text(pg, "#pen-done", "已撤銷.*大陸工程")
    wait_js(pg, "document.querySelectorAll('#ct-con-body .reg-barred').length === 0")
    expect_text(pg, "#ct-con-body tr[data-code='builder'] td:nth-child(4)", "^–$")
    expect_text(pg, "#ct-con-body tr[data-code='builder'] td:nth-child(3)", "^3 / 6$")
    expect_text(pg, "#hist-body tr.is-voided", "未經許可挖掘.*已由第 \\d+ 筆撤銷")
    expect_text(pg, "#hist-body tr.is-correction", "誤植.*更正：撤銷第 \\d+ 筆")
    assert pg.locator("#hist-body tr.is-voided button.reg-void").count() == 0
    # The history filtered to the other contractor is empty.
    pg.select_option("#hist-who", "digco")
    expect_text(pg, "#hist-count", "\\(0\\)")
    shoot(pg, "contractors-voided-desktop-zh.png")
    assert problems == [], problems
    ctx.close()

    phone = context(chromium, phone=True, locale="en")
    pg, problems = watched_page(phone, city.live)
    log_in(pg, city.url, "rpic.op", "/roadworks/contractors")
    pg.goto(f"{city.url}/lang/en?next=/roadworks/contractors")
    expect_text(pg, "h1", "Contractors and penalties")
    expect_text(pg, "#hist-body", "Digging without a permit.*Voided by")
    no_sideways_scroll(pg)
    shoot(pg, "contractors-phone-en.png")
    assert problems == [], problems
    phone.close()


def test_pipe_map_and_profile(chromium: Any, city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = context(chromium)
    pg, problems = watched_page(ctx, city.live)
    bboxes: list[str] = []
    pg.on("request", lambda r: bboxes.append(r.url) if "/pipes?bbox=" in r.url else None)
    log_in(pg, city.url, "rpic.op", "/roadworks/pipes")
    expect_text(pg, "h1", "管線圖資")
    settled(pg)
    # The city-wide first view gets every pipe as a plan line, then the map moves to them and
    # gets them in full.
    wait_js(pg, "document.getElementById('pm-map').dataset.detail === 'full'")
    wait_js(pg, "document.getElementById('pm-map').dataset.pipes === '3'")
    assert pg.locator("path.reg-pipe").count() == 3
    assert all("zoom=" in u for u in bboxes)
    expect_text(pg, "#pm-count", "範圍內 3 條")
    # One of them is synthetic: the page says so, and so does its popup.
    expect_text(pg, "#pm-synthetic", "合成資料.*不可用於定位真實管線")
    assert pg.locator("#pm-capped").is_hidden()
    # Wider pipes are drawn thicker.
    widths = {
        k: float(pg.get_attribute(f"path.reg-pipe.kind-{k}", "stroke-width") or 0)
        for k in ("gas", "water", "power")
    }
    assert widths["gas"] < widths["water"] < widths["power"], widths

    pg.locator("path.reg-pipe.kind-power").click(force=True)
    popup = ".leaflet-popup-content .reg-pipe-popup"
    expect_text(pg, popup, "電力管線.*台灣電力公司.*800 mm.*PE.*1998.*GPR.*0.30 m.*2.50 m.*2.70 m")
    assert pg.locator(f"{popup} svg.reg-profile-svg").count() == 1
    assert pg.locator(f"{popup} .reg-syn-tag").count() == 0
    # The profile beside the map: this pipe, ground at 0, both end depths.
    profile = pg.locator("#pf-figure svg.reg-profile-svg")
    assert profile.get_attribute("data-pipe") == str(city.pipes["power"])
    expect_text(pg, "#pf-figure", "2.50 m.*2.70 m.*地面 0 m")
    shoot(pg, "pipes-desktop-zh.png")

    pg.locator("path.reg-pipe.kind-gas").click(force=True)
    gas = f".leaflet-popup-content .reg-pipe-popup[data-pipe='{city.pipes['gas']}']"
    expect_text(pg, gas, "合成資料（示範），非真實管線")
    assert pg.locator("#pf-figure svg").get_attribute("data-pipe") == str(city.pipes["gas"])

    # Moving the map asks for the pipes of the new view.
    box = pg.locator("#pm-map").bounding_box()
    assert box is not None
    pg.keyboard.press("Escape")  # close the popup: the drag starts on the map itself
    y = box["y"] + box["height"] - 40
    last = bboxes[-1]
    with pg.expect_request(lambda r: "/pipes?bbox=" in r.url) as moved:
        pg.mouse.move(box["x"] + box["width"] - 40, y)
        pg.mouse.down()
        pg.mouse.move(box["x"] + box["width"] - 340, y, steps=8)
        pg.mouse.up()
    assert moved.value.url != last, "the same box was asked for again"
    assert problems == [], problems
    ctx.close()

    # When the view holds more than one full answer, every pipe still comes, as a line, and
    # the page says so; none is left out.
    monkeypatch.setattr(pipes_service, "MAX_FEATURES", 2)
    phone = context(chromium, phone=True)
    pg, problems = watched_page(phone, city.live)
    log_in(pg, city.url, "rpic.op", "/roadworks/pipes")
    settled(pg)
    wait_js(pg, "document.getElementById('pm-map').dataset.fitted === 'true'")
    wait_js(pg, "document.getElementById('pm-map').dataset.pipes === '3'")
    assert pg.evaluate("document.getElementById('pm-map').dataset.detail") == "overview"
    expect_text(pg, "#pm-capped", "3 條管線全部以線條顯示.*放大")
    no_sideways_scroll(pg)
    monkeypatch.setattr(pipes_service, "MAX_FEATURES", 5000)
    pg.evaluate("OC.pipeMap.setZoom(OC.pipeMap.getZoom() + 0.5)")
    wait_js(pg, "document.getElementById('pm-map').dataset.detail === 'full'")
    assert pg.locator("#pm-capped").is_hidden()
    # On a phone the profile is in the popup itself (the side panel is below the map).
    pg.locator("path.reg-pipe.kind-power").click(force=True)
    profile = pg.locator(".leaflet-popup-content svg.reg-profile-svg")
    assert profile.is_visible()
    assert profile.get_attribute("data-pipe") == str(city.pipes["power"])
    shoot(pg, "pipes-phone-zh.png")
    assert problems == [], problems
    phone.close()


def test_rules_page_adds_ban_embargo_and_fees(chromium: Any, city: City) -> None:
    ctx = context(chromium)
    pg, problems = watched_page(ctx, city.live)
    log_in(pg, city.url, "rpic.op", "/roadworks/rules")
    expect_text(pg, "h1", "禁挖、限挖期間與規費")
    expect_text(pg, "#bans-none", "尚無禁挖路段")
    expect_text(pg, "#fees-body tr[data-version='2026']", "2026.*現行.*NT\\$1,000")

    # A paving date in the future is refused, in the API's words.
    pg.fill("#ban-road", "忠孝東路四段")
    pg.fill("#ban-paved", (city.today + timedelta(days=3)).isoformat())
    pg.click("#ban-submit")
    expect_text(pg, "#ban-error", "paved_on is a day the road was paved")
    assert pg.get_attribute("#ban-paved", "aria-invalid") == "true"

    # Trace the road with two taps on the map, then add the ban.
    paved = city.today - timedelta(days=10)
    box = pg.locator("#ru-map").bounding_box()
    assert box is not None
    for fx in (0.4, 0.6):
        pg.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] / 2)
    wait_js(pg, "document.getElementById('ru-map').dataset.points === '2'")
    expect_text(pg, "#ban-geom", "描繪的路段（2 點）")
    pg.fill("#ban-paved", paved.isoformat())
    pg.fill("#ban-note", "2026 年刨鋪")
    pg.click("#ban-submit")
    until = add_years(paved, 5).isoformat()
    expect_text(pg, "#ban-done", f"忠孝東路四段.*{until}")
    # The list shows dates with their year, as the page's language writes them.
    slash = (paved.strftime("%Y/%m/%d"), add_years(paved, 5).strftime("%Y/%m/%d"))
    expect_text(pg, "#bans-body tr", f"忠孝東路四段.*{slash[0]}.*5.*{slash[1]}.*2026 年刨鋪")
    wait_js(pg, "document.getElementById('ru-map').dataset.bans === '1'")
    assert pg.locator("path.reg-ban").count() == 1
    assert pg.get_attribute("#ru-map", "data-points") == "0"

    # A city-wide embargo.
    start = city.today + timedelta(days=20)
    pg.fill("#emb-zh", "春節")
    pg.fill("#emb-en", "Lunar New Year")
    pg.select_option("#emb-kind", "holiday")
    pg.fill("#emb-start", start.isoformat())
    pg.fill("#emb-end", (start + timedelta(days=6)).isoformat())
    pg.click("#emb-submit")
    expect_text(pg, "#emb-done", "春節")
    expect_text(pg, "#emb-body tr", "春節.*Lunar New Year.*節日.*全市")
    # An area embargo without an area traced is stopped before it is sent.
    pg.fill("#emb-zh", "學測")
    pg.fill("#emb-en", "College entrance exam")
    pg.check("input[name='emb-where'][value='drawn']")
    pg.click("#emb-submit")
    expect_text(pg, "#emb-error", "請先在地圖上圍出區域")
    assert pg.locator("#emb-body tr").count() == 1

    # A new fee version, prefilled from the newest one.
    pg.fill("#fee-version", "2027")
    pg.fill("#fee-base", "1200")
    pg.click("#fee-submit")
    expect_text(pg, "#fee-done", "2027")
    expect_text(pg, "#fees-body tr[data-version='2027']", "2027.*NT\\$1,200")
    pg.fill("#fee-version", "2027")
    pg.click("#fee-submit")
    expect_text(pg, "#fee-error", "exists already|must start after")
    shoot(pg, "rules-desktop-zh.png")
    assert problems == [], problems
    ctx.close()

    phone = context(chromium, phone=True)
    pg, problems = watched_page(phone, city.live)
    log_in(pg, city.url, "rpic.op", "/roadworks/rules")
    expect_text(pg, "#bans-body", "忠孝東路四段")
    no_sideways_scroll(pg)
    shoot(pg, "rules-phone-zh.png")
    pg.goto(f"{city.url}/lang/en?next=/roadworks/rules")
    expect_text(pg, "#emb-body", "Lunar New Year.*Holiday.*City-wide")
    no_sideways_scroll(pg)
    shoot(pg, "rules-phone-en.png")
    assert problems == [], problems
    phone.close()


def test_contractor_is_refused(chromium: Any, city: City) -> None:
    ctx = context(chromium, locale="en")
    pg, _ = watched_page(ctx, city.live)
    log_in(pg, city.url, "builder.staff", "/roadworks/apply")
    for path in ("/roadworks/contractors", "/roadworks/pipes", "/roadworks/rules"):
        resp = pg.goto(f"{city.url}{path}")
        assert resp is not None and resp.status == 403, path
        assert "roadworks:read" in pg.inner_text("main")
        # Nor are the pages offered in the header.
        assert pg.locator(f"header a[href='{path}']").count() == 0
    shoot(pg, "refused-desktop-en.png")
    ctx.close()
