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
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from onecity.app import create_app
from onecity.bootstrap import migrate, seed_reference
from onecity.core.auth.secrets import hash_password
from onecity.core.models import User
from onecity.core.platform import Platform
from onecity.roadworks.api import service_for
from onecity.roadworks.models import Permit
from onecity.settings import Settings
from tests.conftest import serving

from .conftest import PASSWORD, LiveServer, expect_text, log_in, wait_js, watched_page

SHOTS = Path("/tmp/rw_shots")
LON, LAT = 121.5435, 25.0330
PHONE = {"width": 390, "height": 844}
ORGS = [
    ("twc", "臺北自來水事業處", "Taipei Water", "utility", "water", "twc.staff"),
    ("taipower", "台灣電力公司", "Taipower", "utility", "power", "tp.staff"),
    ("gas", "大台北瓦斯", "Great Taipei Gas", "utility", "gas", "gas.staff"),
    ("builder", "大陸工程", "Builder Co", "contractor", None, "builder.staff"),
]


def add_user(p: Platform, username: str, role: str, department: str) -> None:
    """A login with the e2e password (the browser helpers log in with it)."""
    with p.db.session() as s:
        s.add(
            User(
                username=username,
                display_name=username,
                password_hash=hash_password(PASSWORD),
                role=role,
                department_code=department,
            )
        )


def square(dx: float, dy: float = 0.0) -> dict[str, Any]:
    x, y, size = LON + dx, LAT + dy, 0.00012
    ring = [[x, y], [x + size, y], [x + size, y + size / 3], [x, y + size / 3], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def rw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with three sites being dug (two watched live, one whose feed stopped) and a
    sewer works granted for tomorrow."""
    folder = tmp_path_factory.mktemp("rw-e2e")
    url = f"sqlite:///{folder / 'onecity.db'}"
    migrate(url)
    settings = Settings(
        environment="test", database_url=url, totp_required_roles="", modules="roadworks"
    )
    platform = Platform(settings)
    seed_reference(platform)
    add_user(platform, "rpic.op", "operator", "pwd")
    for org in ORGS:
        add_user(platform, org[5], "contractor", "pwd")
    with serving(create_app(settings, platform)) as base:
        live = LiveServer(base, platform, {}, {})
        heads = {
            n: {"Authorization": f"Bearer {live.token(n)}"}
            for n in ["rpic.op", *(o[5] for o in ORGS)]
        }
        api = f"{base}/api/v1/roadworks"

        def post(path: str, who: str, body: dict[str, Any], method: str = "POST") -> Any:
            r = httpx.request(method, f"{api}{path}", json=body, headers=heads[who], timeout=20)
            assert r.status_code in (200, 201), r.text
            return r.json()

        for code, zh, en, kind, utility, member in ORGS:
            post(
                "/orgs",
                "rpic.op",
                {
                    "code": code,
                    "name_zh": zh,
                    "name_en": en,
                    "kind": kind,
                    "utility_kind": utility,
                    "members": [member],
                },
            )
        today = service_for(platform).today()
        sites = [
            ("twc", "twc.staff", "water", "更換破裂自來水管", 0.0, 1),
            ("taipower", "tp.staff", "power", "電纜搶修", 0.004, 12),
            ("gas", "gas.staff", "gas", "瓦斯管漏氣搶修", -0.004, 2),
        ]
        refs: dict[str, str] = {}
        now = datetime.now(UTC)
        for applicant, who, purpose, what, dx, minutes in sites:
            body = {
                "applicant": applicant,
                "contractor": "builder",
                "purpose": purpose,
                "description": what,
                "road": "復興南路一段",
                "road_class": "wide",
                "geometry": square(dx),
                "depth_m": 1.5,
                "emergency": True,
                "start_date": today.isoformat(),
                "end_date": (today + timedelta(days=3)).isoformat(),
            }
            ref = post("/permits", who, body)["ref"]
            refs[purpose] = ref
            post(f"/permits/{ref}/camera", who, {"url": f"rtsp://cam.example/{ref}"}, "PUT")
            at = (now - timedelta(minutes=minutes)).isoformat()
            post(f"/permits/{ref}/camera/frame", who, {"at": at})
        # The water site's photos: before and digging.
        for stage, tag in (("before", b"a"), ("digging", b"b")):
            r = httpx.post(
                f"{api}/permits/{refs['water']}/photos",
                files={"file": ("p.png", b"\x89PNG\r\n\x1a\n" + tag * 64, "image/png")},
                data={
                    "stage": stage,
                    "lon": str(LON + 0.00005),
                    "lat": str(LAT + 0.00001),
                    "taken_at": now.isoformat(),
                },
                headers=heads["builder.staff"],
                timeout=20,
            )
            assert r.status_code == 201, r.text
        # Sewer works granted for tomorrow (filed with notice, then moved to tomorrow here).
        start = today + timedelta(days=40)
        body = {
            "applicant": "twc",
            "contractor": "builder",
            "purpose": "sewer",
            "description": "污水管線接管",
            "road": "仁愛路四段",
            "road_class": "wide",
            "geometry": square(0.0, 0.004),
            "depth_m": 2.0,
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=5)).isoformat(),
        }
        ref = post("/permits", "twc.staff", body)["ref"]
        post(f"/permits/{ref}/decision", "rpic.op", {"decision": "grant"})
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
        yield {"live": live, "refs": refs, "today": today}
    platform.db.dispose()


def shoot(pg: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    pg.wait_for_timeout(400)  # let Leaflet finish drawing
    pg.screenshot(path=str(SHOTS / name), full_page=True)


def context(chromium: Any, phone: bool = False, locale: str = "zh-TW") -> Any:
    opts: dict[str, Any] = {"locale": locale, "timezone_id": "Asia/Taipei"}
    if phone:
        opts.update(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    else:
        opts.update(viewport={"width": 1400, "height": 900})
    ctx = chromium.new_context(**opts)
    ctx.set_default_timeout(15_000)
    return ctx


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
