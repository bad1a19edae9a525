"""The road works maps in a real browser against a real server with the roadworks module on:
anyone (no login) sees today's works coloured by purpose, opens one for what, who, until when
and why, and switches to tomorrow; RPIC staff see the share of dug sites watched live, the
site without a feed, and a site's photo stages; a contractor is refused the monitor.

Works are filed over HTTP as their staff would; emergency works start at once. Screenshots
(desktop and phone, zh-TW and en) go to /tmp/rw_shots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from onecity.roadworks.models import Permit
from onecity.roadworks.services import RoadworksServices
from tests.integration.roadworks.helpers import LAT, LON, application, square

from .conftest import expect_text, log_in, wait_js, watched_page
from .roadworks_helpers import (
    API,
    BUILDER,
    GAS,
    PHONE,
    TAIPOWER,
    TWC,
    context,
    roadworks_server,
    screenshot,
)

SHOTS = Path("/tmp/rw_shots")
shoot = partial(screenshot, SHOTS)
SIZE = 0.00012  # each site's square, in degrees


@pytest.fixture(scope="module")
def rw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with three sites being dug (two watched live, one whose feed stopped) and a
    sewer works granted for tomorrow."""
    orgs = (TWC, TAIPOWER, GAS, BUILDER)
    with roadworks_server(tmp_path_factory, "rw-e2e", orgs, staff_department="pwd") as city:
        platform, post = city.platform, city.call
        today = platform.services(RoadworksServices).permits.today()
        sites = [
            ("twc", "twc.staff", "water", "更換破裂自來水管", 0.0, 1),
            ("taipower", "tp.staff", "power", "電纜搶修", 0.004, 12),
            ("gas", "gas.staff", "gas", "瓦斯管漏氣搶修", -0.004, 2),
        ]
        refs: dict[str, str] = {}
        now = datetime.now(UTC)
        for applicant, who, purpose, what, dx, minutes in sites:
            body = application(
                applicant=applicant,
                purpose=purpose,
                description=what,
                geometry=square(dx, size=SIZE),
                emergency=True,
                start_date=today.isoformat(),
                end_date=(today + timedelta(days=3)).isoformat(),
            )
            ref = post(who, "/permits", body)["ref"]
            refs[purpose] = ref
            post(who, f"/permits/{ref}/camera", {"url": f"rtsp://cam.example/{ref}"}, "PUT")
            at = (now - timedelta(minutes=minutes)).isoformat()
            post(who, f"/permits/{ref}/camera/frame", {"at": at})
        # The water site's photos: before and digging.
        for stage, tag in (("before", b"a"), ("digging", b"b")):
            r = httpx.post(
                f"{city.url}{API}/permits/{refs['water']}/photos",
                files={"file": ("p.png", b"\x89PNG\r\n\x1a\n" + tag * 64, "image/png")},
                data={
                    "stage": stage,
                    "lon": str(LON + 0.00005),
                    "lat": str(LAT + 0.00001),
                    "taken_at": now.isoformat(),
                },
                headers=city.heads["builder.staff"],
                timeout=20,
            )
            assert r.status_code == 201, r.text
        # Sewer works granted for tomorrow (filed with notice, then moved to tomorrow here).
        start = today + timedelta(days=40)
        body = application(
            purpose="sewer",
            description="污水管線接管",
            road="仁愛路四段",
            geometry=square(0.0, 0.004, size=SIZE),
            depth_m=2.0,
            start_date=start.isoformat(),
            end_date=(start + timedelta(days=5)).isoformat(),
        )
        ref = post("twc.staff", "/permits", body)["ref"]
        post("rpic.op", f"/permits/{ref}/decision", {"decision": "grant"})
        tmr = today + timedelta(days=1)
        with platform.db.session() as s:
            s.execute(
                update(Permit)
                .where(Permit.ref == ref)
                .values(
                    start_date=tmr,
                    end_date=tmr + timedelta(days=5),
                    start_day=tmr.toordinal(),
                    end_day=tmr.toordinal() + 5,
                )
            )
        refs["sewer"] = ref
        yield {"live": city.live, "refs": refs, "today": today}


@pytest.mark.browser
def test_public_map_without_login(chromium: Any, rw: dict[str, Any]) -> None:
    live, refs = rw["live"], rw["refs"]
    ctx = context(chromium)
    pg, problems = watched_page(ctx, live)
    pg.goto(f"{live.url}/roadworks/map")
    assert "/login" not in pg.url
    expect_text(pg, "h1", "道路施工地圖")
    wait_js(pg, "document.getElementById('rw-map').dataset.features === '3'")
    assert pg.locator("path.rw-works").count() == 3
    assert pg.locator("path.rw-works.pur-water").count() == 1
    assert pg.locator("#rw-legend li").count() == 7
    today = rw["today"].isoformat()
    href = pg.get_attribute("#rw-download", "href")
    assert href == f"/api/v1/roadworks/public/works.geojson?day={today}&download=1"
    # A works opened from the map itself: what, who, until when, why.
    pg.locator("path.rw-works.pur-power").click(force=True)
    popup = pg.locator(".leaflet-popup-content .rw-popup")
    expect_text(
        pg, ".leaflet-popup-content .rw-popup", "電力工程.*電纜搶修.*台灣電力公司.*大陸工程"
    )
    assert refs["power"] in popup.inner_text()
    assert "rtsp://" not in pg.content()  # the public never sees camera addresses
    shoot(pg, "map-desktop-zh.png")

    # Tomorrow: the sewer works granted for tomorrow join the three still being dug.
    pg.locator("label.rw-day", has_text="明天").click()
    wait_js(pg, "document.getElementById('rw-map').dataset.features === '4'")
    assert pg.url.endswith("?day=tomorrow")
    assert pg.locator("#rw-list li.rw-item[data-purpose='sewer']").count() == 1
    pg.locator("#rw-list li[data-purpose='sewer'] button.rw-show").click()
    # (By its ref: the popup closed before fades out for a moment.)
    sewer = f".leaflet-popup-content .rw-popup[data-ref='{refs['sewer']}']"
    expect_text(pg, sewer, "污水下水道工程.*污水管線接管")
    assert problems == [], problems
    ctx.close()

    phone = context(chromium, phone=True)
    pg, problems = watched_page(phone, live)
    pg.goto(f"{live.url}/roadworks/map")
    wait_js(pg, "document.getElementById('rw-map').dataset.features === '3'")
    box = pg.locator("#rw-map").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"] and box["height"] > 250
    # Nothing wider than the phone: no sideways scrolling.
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(pg, "map-phone-zh.png")
    pg.goto(f"{live.url}/lang/en?next=/roadworks/map")
    expect_text(pg, "h1", "Road works map")
    wait_js(pg, "document.getElementById('rw-map').dataset.features === '3'")
    expect_text(pg, "#rw-list", "Water works.*Taipei Water")
    shoot(pg, "map-phone-en.png")
    assert problems == [], problems
    phone.close()


@pytest.mark.browser
def test_monitor_shows_live_share(chromium: Any, rw: dict[str, Any]) -> None:
    live, refs = rw["live"], rw["refs"]
    ctx = context(chromium)
    pg, problems = watched_page(ctx, live)
    log_in(pg, live.url, "rpic.op", then="/roadworks/monitor")
    expect_text(pg, "#rw-share", r"^66\.6%$")
    expect_text(pg, "#rw-share-of", "3.*2|2.*3")
    expect_text(pg, "#rw-active", "^3$")
    expect_text(pg, "#rw-tomorrow", "^1$")
    expect_text(pg, "#rw-nofeed", refs["power"])
    assert pg.locator("#rw-nofeed li").count() == 1
    wait_js(pg, "document.getElementById('rw-map').dataset.features === '4'")
    # The watched water site: live, its camera, and which stages have photos.
    pg.locator("path.rw-works.pur-water").click(force=True)
    expect_text(pg, ".leaflet-popup-content", "即時.*rtsp://cam.example/.*施工前")
    done = pg.locator(".leaflet-popup-content .rw-stages li.done")
    assert sorted(done.evaluate_all("els => els.map(e => e.dataset.stage)")) == [
        "before",
        "digging",
    ]
    shoot(pg, "monitor-desktop-zh.png")
    pg.locator("#rw-nofeed button.rw-show").click()
    expect_text(pg, f".rw-popup[data-ref='{refs['power']}']", "無即時影像")
    assert problems == [], problems
    ctx.close()

    phone = context(chromium, phone=True)
    pg, problems = watched_page(phone, live)
    log_in(pg, live.url, "rpic.op", then="/roadworks/monitor")
    expect_text(pg, "#rw-share", r"^66\.6%$")
    wait_js(pg, "document.getElementById('rw-map').dataset.features === '4'")
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(pg, "monitor-phone-zh.png")
    assert problems == [], problems
    phone.close()

    # A contractor is not RPIC.
    other = context(chromium, locale="en")
    pg, problems = watched_page(other, live)
    log_in(pg, live.url, "builder.staff", then="/dashboard")
    resp = pg.goto(f"{live.url}/roadworks/monitor")
    assert resp is not None and resp.status == 403
    assert re.search("roadworks:read", pg.inner_text("main"))
    other.close()


@pytest.mark.browser
def test_city_map_shows_the_road_works_layer(chromium: Any, rw: dict[str, Any]) -> None:
    """The dashboard's city map draws every enabled module's layer: today's road works, with a
    box to hide them."""
    live = rw["live"]
    ctx = context(chromium)
    pg, problems = watched_page(ctx, live)
    log_in(pg, live.url, "rpic.op", then="/dashboard")
    wait_js(pg, "document.getElementById('map').dataset.layer_roadworks === '3'")
    control = pg.locator(".leaflet-control-layers-overlays label", has_text="道路施工")
    assert control.count() == 1
    box = control.locator("input")
    assert box.is_checked()
    assert pg.locator(".leaflet-overlays-pane path").count() == 3
    shoot(pg, "dashboard-roadworks.png")
    box.uncheck()
    assert pg.locator(".leaflet-overlays-pane path").count() == 0
    assert problems == []
    ctx.close()
