"""The works site in a real browser: a contractor's foreman on a phone opens "My permits",
taps the burst-main repair his firm is doing, registers the site camera and checks in a
"before" photo taken with the phone (its GPS says he is at the dig); a photo sent from 1 km
away is refused with the API's reason; with location refused he taps the map instead. The RPIC
officer then sees the feed live, the photos, and the pipes under the dig on the map.

Screenshots (1280 and 390 wide) go to /tmp/rw_shots2/."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from onecity.roadworks.services import RoadworksServices
from tests.integration.roadworks.helpers import LAT, LON, application, lay_pipe

from .conftest import expect_text, log_in, wait_js, watched_page
from .roadworks_helpers import API, PHONE, RoadCity, context, roadworks_server, screenshots

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/rw_shots2")
shoot = partial(screenshots, SHOTS)
AT_SITE = {"latitude": LAT + 0.00001, "longitude": LON + 0.00005}
KM_AWAY = {"latitude": LAT + 0.009, "longitude": LON + 0.00005}  # 1 km north


@dataclass
class Site(RoadCity):
    ref: str


def png(seed: int, w: int = 64, h: int = 48) -> bytes:
    """A small real PNG (a colour gradient; `seed` makes each one different)."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(w) for v in ((x * 4 + seed) % 256, y * 5 % 256, 160))
        for y in range(h)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Taipei Water's emergency repair (in progress today, Builder Co digging) over its own
    water main and Taipower's cable."""
    with roadworks_server(tmp_path_factory, "e2e-rw-site") as city:
        lay_pipe(city.platform, "twc", "water", 0.00005, 1.2)
        lay_pipe(city.platform, "taipower", "power", 0.00008, 1.0)
        today = city.platform.services(RoadworksServices).permits.today()
        body = application(
            emergency=True,
            description="更換破裂自來水管",
            start_date=today.isoformat(),
            end_date=(today + timedelta(days=3)).isoformat(),
        )
        twc = city.heads["twc.staff"]
        r = httpx.post(f"{city.url}{API}/permits", json=body, headers=twc, timeout=20)
        assert r.status_code == 201 and r.json()["status"] == "in_progress", r.text
        yield Site(city.live, city.heads, r.json()["ref"])


def phone(chromium: Any, **extra: Any) -> Any:
    return context(chromium, viewport=PHONE, has_touch=True, timeout_ms=20_000, **extra)


def choose_photo(pg: Any, seed: int) -> None:
    pg.set_input_files(
        "#photo-file",
        files=[{"name": f"p{seed}.png", "mimeType": "image/png", "buffer": png(seed)}],
    )


def test_contractor_checks_in_a_photo_from_the_phone(chromium: Any, site: Site) -> None:
    ctx = phone(chromium, geolocation=AT_SITE, permissions=["geolocation"])
    pg, problems = watched_page(ctx, site.live)
    log_in(pg, site.url, "builder.staff", "/roadworks/my-permits")
    expect_text(pg, "#permits-h", "我的許可")
    assert pg.get_attribute("#new-application", "href") == "/roadworks/apply"
    pg.click(f'#permits tr[data-ref="{site.ref}"] a')
    pg.wait_for_url(f"**/roadworks/permits/{site.ref}")

    # The camera: none yet (the contractor reads the state too); registered, not yet live.
    expect_text(pg, "#cam-state", "尚未登記攝影機")
    assert pg.get_attribute("#cam-state", "data-feed") == "down"
    pg.fill("#cam-input", "ftp://cam.example/1")
    pg.click("#cam-save")
    expect_text(pg, "#cam-error", "rtsp://")
    pg.fill("#cam-input", "rtsp://cam.example/site-1")
    pg.click("#cam-save")
    expect_text(pg, "#cam-state", "無影像")
    assert pg.get_attribute("#cam-state", "data-feed") == "down"
    expect_text(pg, "#cam-url", "rtsp://cam.example/site-1")
    expect_text(pg, "#cam-save", "更換攝影機")

    # A "before" photo taken at the dig: the next stage without a photo is already chosen.
    assert pg.input_value("#photo-stage") == "before"
    assert pg.get_attribute("#photo-file", "capture") == "environment"
    choose_photo(pg, 1)
    expect_text(pg, "#photo-where", "±")
    pg.click("#photo-send")
    expect_text(pg, "#photo-msg", "施工前")
    before = '#stages li[data-stage="before"]'
    expect_text(pg, f"{before} .count", r"\(1\)")
    wait_js(pg, f"(document.querySelector('{before} img') || {{}}).naturalWidth === 64")
    expect_text(pg, f"{before} .rw-thumb", "於工區內")
    expect_text(pg, '#stages li[data-stage="digging"]', "尚無照片")
    shoot(pg, "site-contractor")

    # 1 km away: the API refuses, and says how far; nothing is added.
    pg.set_viewport_size(PHONE)
    ctx.set_geolocation(KM_AWAY)
    choose_photo(pg, 2)  # asks the phone where it is again
    far = f"{KM_AWAY['latitude']:.6f},{KM_AWAY['longitude']:.6f}"
    wait_js(pg, f"document.getElementById('photo-where').dataset.at === '{far}'")
    pg.click("#photo-send")
    expect_text(pg, "#photo-error", r"請在工地現場拍攝.*\d[\d,]* m from the works")
    expect_text(pg, f"{before} .count", r"\(1\)")
    pg.screenshot(path=str(SHOTS / "site-too-far-phone.png"), full_page=True)
    assert problems == [], problems
    ctx.close()


def test_location_refused_point_tapped_on_map(chromium: Any, site: Site) -> None:
    ctx = phone(chromium)  # no geolocation permission: the phone will not say where it is
    pg, problems = watched_page(ctx, site.live)
    log_in(pg, site.url, "builder.staff", f"/roadworks/permits/{site.ref}")
    pg.select_option("#photo-stage", "digging")
    choose_photo(pg, 3)
    expect_text(pg, "#photo-where", "手機未提供定位.*點選")
    assert "rw-picking" in (pg.get_attribute("#permit-map", "class") or "")
    # The map is fitted to the dig: its middle is on the site.
    box = pg.locator("#permit-map").bounding_box()
    pg.locator("#permit-map").tap(position={"x": box["width"] / 2, "y": box["height"] / 2})
    expect_text(pg, "#photo-where", "已在地圖上選定位置")
    pg.click("#photo-send")
    expect_text(pg, "#photo-msg", "開挖")
    expect_text(pg, '#stages li[data-stage="digging"] .count', r"\(1\)")
    assert problems == [], problems
    ctx.close()


def test_rpic_sees_the_feed_live_the_photos_and_the_pipes(chromium: Any, site: Site) -> None:
    # The site's camera gateway sends a frame.
    cam = f"{site.url}{API}/permits/{site.ref}/camera"
    crew = site.heads["builder.staff"]
    r = httpx.put(cam, json={"url": "rtsp://cam.example/site-2"}, headers=crew, timeout=20)
    assert r.status_code == 200, r.text
    r = httpx.post(f"{cam}/frame", json={}, headers=crew, timeout=20)
    assert r.status_code == 200 and r.json()["live"] is True, r.text

    ctx = context(chromium, width=1280, timeout_ms=20_000)
    pg, problems = watched_page(ctx, site.live)
    log_in(pg, site.url, "rpic.op", f"/roadworks/permits/{site.ref}")
    expect_text(pg, "#cam-state", "即時")
    assert pg.get_attribute("#cam-state", "data-feed") == "live"
    expect_text(pg, "#cam-url", "rtsp://cam.example/site-2")
    assert pg.locator("#cam-form").is_hidden() and pg.locator("#photo-form").is_hidden()

    # The pipes the locate requests named: on the map, and under each owner.
    wait_js(pg, "document.getElementById('permit-map').dataset.pipes === '2'")
    assert pg.locator(".leaflet-pipes-pane path").count() == 2
    expect_text(pg, '#locates tr[data-owner="twc"] .rw-pipe-list', "自來水管 DN200 DIP")
    expect_text(pg, '#locates tr[data-owner="taipower"] .rw-pipe-list', "電力管線")
    expect_text(pg, "#pipe-legend", "自來水管.*電力管線")
    # A line 5 px wide has no box Playwright calls visible: click where the map draws it.
    pt = pg.evaluate(
        f"() => OC.permitMap.latLngToContainerPoint([{LAT + 0.00001}, {LON + 0.00005}])"
    )
    pg.locator("#permit-map").scroll_into_view_if_needed()
    box = pg.locator("#permit-map").bounding_box()
    pg.mouse.click(box["x"] + pt["x"], box["y"] + pt["y"])
    expect_text(
        pg, ".leaflet-popup-content", "臺北自來水事業處.*DN200.*1990.*1.2 公尺 → 1.2 公尺.*GPR"
    )
    shoot(pg, "site-rpic")
    assert problems == [], problems
    ctx.close()


def test_my_permits_is_for_applicants_only(chromium: Any, site: Site) -> None:
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    pg, _problems = watched_page(ctx, site.live)
    log_in(pg, site.url, "tp.staff", "/roadworks/my-permits")
    # Taipower is only asked to mark its cable; the works are not Taipower's to list.
    expect_text(pg, "#permits-none", "貴單位目前沒有")
    shoot(pg, "my-permits-empty")
    ctx.close()
