"""The dashboard in a real browser against a real server: log in, the live map of Taipei,
alerts arriving over SSE, a device's delivery accounts and chart, handling alerts, the two
languages, and the idle-session path back to the login page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from .conftest import PASSWORD, LiveServer, expect_text, log_in, wait_js, wait_live

pytestmark = pytest.mark.browser


def device_name(live: LiveServer, device_id: str) -> str:
    r = httpx.get(
        f"{live.url}/api/v1/devices/{device_id}",
        timeout=10,
        headers={"Authorization": f"Bearer {live.token('admin')}"},
    )
    name: str = r.json()["name"]
    return name


def test_login_errors_second_factor_and_lockout(page: Any, live_server: LiveServer) -> None:
    base = live_server.url
    page.goto(f"{base}/login")
    page.fill("#username", "admin")
    page.fill("#password", "not-the-password")
    page.click("#login-submit")
    expect_text(page, "#login-error", "帳號或密碼錯誤")

    secret = live_server.platform.auth.enrol_totp("e2e", "fire.dispatcher")
    page.fill("#username", "fire.dispatcher")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect_text(page, "#login-error", "6 位數驗證碼")
    assert page.is_visible("#totp")
    page.fill("#totp", pyotp.TOTP(secret).now())
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))

    for _ in range(live_server.platform.settings.login_max_failures):
        httpx.post(
            f"{base}/api/v1/auth/login",
            timeout=10,
            json={"username": "edu.guard", "password": "wrong-password"},
        )
    page.goto(f"{base}/login")
    page.fill("#username", "edu.guard")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect_text(page, "#login-error", r"帳號已暫時鎖定，請於 \d+ 分鐘後再試")


def test_live_map_of_the_city(page: Any, live_server: LiveServer, shots: Path) -> None:
    bins, docks = live_server.bins(), live_server.docks()
    for dev in bins[:3]:
        live_server.post_telemetry(dev, {"fill": 0.9, "temperature": 25})
    for dev in bins[3:20]:
        live_server.post_telemetry(dev, {"fill": 0.3, "temperature": 24})
    for dev in docks[:25]:
        live_server.post_telemetry(dev, {"bikes": 5})
    names = [device_name(live_server, d) for d in bins[:3]]

    log_in(page, live_server.url)
    wait_js(page, "document.querySelectorAll('#map path.district').length === 12")
    wait_js(page, "Number(document.getElementById('map').dataset.deviceMarkers) > 0")
    markers = int(page.get_attribute("#map", "data-device-markers"))
    assert markers == len(live_server.keys)
    assert int(page.inner_text("#n-online")) >= 28
    expect_text(page, "#device-count", f"共 {markers} 個設備")
    expect_text(page, ".district-label >> nth=0", "區$")
    wait_live(page, "devices")
    wait_live(page, "alerts")
    expect_text(page, '[data-fresh="devices"] .fresh-time', r"^更新於 \d\d:\d\d:\d\d$")
    expect_text(page, '[data-fresh="devices"] .badge', "即時")
    for name in names:
        expect_text(page, "#alert-list", re.escape(name))
    wait_js(page, "document.querySelectorAll('#map path.alert-ring').length >= 3")
    page.screenshot(path=str(shots / "dashboard.png"))

    # Raised after the page loaded: it must arrive over SSE, without a reload.
    page.evaluate("window.__samePage = true")
    late = bins[25]
    late_name = device_name(live_server, late)
    live_server.post_telemetry(late, {"fill": 0.95, "temperature": 26})
    expect_text(page, "#alert-list li.is-new", re.escape(late_name))
    offline_before = int(page.inner_text("#n-offline"))
    live_server.miss_heartbeat(docks[0])
    wait_js(page, f"Number(document.getElementById('n-offline').textContent) > {offline_before}")
    assert page.evaluate("window.__samePage") is True
    page.screenshot(path=str(shots / "dashboard-live.png"))

    # "Show on map" zooms to the alert and opens its popup.
    page.click(f"#alert-list li:has-text('{late_name}') >> button.link-btn")
    expect_text(page, ".leaflet-popup-content", re.escape(late_name))
    page.wait_for_timeout(500)  # let the zoom animation finish before the picture
    page.screenshot(path=str(shots / "dashboard-zoomed.png"))


def test_map_fetches_at_most_five_pages_and_says_so(page: Any, live_server: LiveServer) -> None:
    def small_pages(route: Any) -> None:
        # Pages of 10 instead of 1000, so the demo city's 80 devices need more than 5 pages.
        route.continue_(url=route.request.url.replace("limit=1000", "limit=10"))

    page.route(re.compile(r".*/api/v1/devices\?.*"), small_pages)
    log_in(page, live_server.url)
    total = len(live_server.keys)
    expect_text(page, "#device-count", f"顯示 50 / {total} 個設備")
    assert "capped" in (page.get_attribute("#device-count", "class") or "")
    assert page.get_attribute("#map", "data-device-markers") == "50"


def test_mobile_layout(chromium: Any, live_server: LiveServer, shots: Path) -> None:
    ctx = chromium.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-TW",
        timezone_id="Asia/Taipei",
    )
    try:
        pg = ctx.new_page()
        log_in(pg, live_server.url)
        wait_js(pg, "Number(document.getElementById('map').dataset.deviceMarkers) > 0")
        box = pg.locator("#map").bounding_box()
        assert box["width"] <= 390 and box["height"] > 300
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        pg.screenshot(path=str(shots / "dashboard-mobile.png"), full_page=True)
    finally:
        ctx.close()


def test_device_page_shows_delivery_and_chart(
    page: Any, live_server: LiveServer, shots: Path
) -> None:
    dev = live_server.bins()[30]
    for i, ago in enumerate((300, 240, 180, 60, 0)):
        # Message 4 is lost: the accounts must show the gap.
        live_server.post_telemetry(
            dev, {"fill": 0.2 + 0.1 * i, "temperature": 23 + i}, ago_s=ago, skip=1 if i == 3 else 0
        )
    log_in(page, live_server.url, then=f"/devices/{dev}")
    expect_text(page, "#d-received", "^5$")
    expect_text(page, "#d-readings", "^10$")
    expect_text(page, "#d-gaps", "^1$")
    expect_text(page, "#d-loss", r"^16\.67 %$")
    expect_text(page, "#d-seq", "1 至 6")
    assert "bad" in (page.get_attribute("#s-gaps", "class") or "")
    wait_js(page, "document.querySelectorAll('#chart svg path.line').length >= 1")
    wait_js(page, "document.querySelectorAll('#chart svg circle.pt').length === 5")
    # Values named and shown in the page's language: a share as a percent, °C.
    expect_text(page, "#latest", "填充率.*%.*溫度.*°C")
    wait_live(page, "device")
    wait_live(page, "chart")
    page.screenshot(path=str(shots / "device.png"), full_page=True)

    href = page.get_attribute("#csv", "href")
    assert href and "/telemetry.csv?key=fill" in href
    csv = page.request.get(live_server.url + href)
    assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text().splitlines()[0] == "ts,value,min,max,count"
    assert len(csv.text().splitlines()) == 6

    page.select_option("#chart-key", "temperature")
    wait_js(page, "document.getElementById('csv').href.includes('key=temperature')")
    wait_js(
        page,
        "document.querySelector('#chart svg').getAttribute('aria-label').startsWith('溫度')",
    )


def test_alerts_page_acknowledge_and_conflict(
    browser_context: Any, page: Any, live_server: LiveServer, shots: Path
) -> None:
    first, second = live_server.bins()[32], live_server.bins()[33]
    for dev in (first, second):
        live_server.post_telemetry(dev, {"fill": 0.9, "temperature": 25})

    watcher = browser_context.new_page()  # stays live over SSE throughout
    log_in(watcher, live_server.url, then="/alerts")
    wait_live(watcher, "alerts")

    # This page gets no live stream: it must say so, and it will act on an old list.
    page.route("**/api/v1/events/stream", lambda route: route.abort())
    page.goto(f"{live_server.url}/alerts")
    row2 = page.locator(f'tr:has(a[href="/devices/{second}"])')
    row2.wait_for()
    expect_text(page, '[data-fresh="alerts"] .badge', "過時")
    assert "is-stale" in (page.get_attribute(".panel", "class") or "")

    alert_id = row2.get_attribute("data-alert-id")
    r = httpx.post(
        f"{live_server.url}/api/v1/alerts/{alert_id}/acknowledge",
        timeout=10,
        headers={"Authorization": f"Bearer {live_server.token('epb.operator')}"},
    )
    assert r.status_code == 200, r.text
    expect_text(watcher, f'tr[data-alert-id="{alert_id}"]', "已確認.*epb.operator")

    row2.locator('button[data-action="acknowledge"]').click()
    expect_text(page, "#alerts-error", f"無法變更警報 {alert_id}.*already acknowledged")

    row1 = page.locator(f'tr:has(a[href="/devices/{first}"])')
    row1.locator('button[data-action="acknowledge"]').click()
    expect_text(page, "#alerts-msg", "已確認")
    expect_text(page, f'tr:has(a[href="/devices/{first}"])', "已確認.*admin")
    watcher.screenshot(path=str(shots / "alerts.png"), full_page=True)

    page.locator(f'tr:has(a[href="/devices/{first}"]) button[data-action="resolve"]').click()
    expect_text(page, "#alerts-msg", "已解除")
    page.select_option("#state", "resolved")
    expect_text(page, f'tr:has(a[href="/devices/{first}"])', "已解除.*admin")
    watcher.close()


def test_switch_to_english_and_back(page: Any, live_server: LiveServer, shots: Path) -> None:
    log_in(page, live_server.url)
    page.click("#lang-en")
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert page.get_attribute("html", "lang") == "en"
    expect_text(page, "#city-name", "^Taipei City$")
    expect_text(page, "nav.nav", "Map.*Alerts")
    wait_js(page, "Number(document.getElementById('map').dataset.deviceMarkers) > 0")
    wait_live(page, "devices")
    expect_text(page, '[data-fresh="devices"]', r"updated \d\d:\d\d:\d\d\s+LIVE")
    page.screenshot(path=str(shots / "dashboard-en.png"))
    page.click("#lang-zh-TW")
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert page.get_attribute("html", "lang") == "zh-TW"
    expect_text(page, "#city-name", "^臺北市$")


def test_idle_session_returns_to_login_and_back(page: Any, live_server: LiveServer) -> None:
    log_in(page, live_server.url, username="police.officer", then="/alerts")
    wait_live(page, "alerts")
    live_server.age_sessions("police.officer", 31)
    page.select_option("#state", "open")  # the next API call meets the ended session
    page.wait_for_url(re.compile(r"/login\?next=%2Falerts&reason=session_idle$"))
    expect_text(page, "#login-notice", "閒置超過 30 分鐘")
    page.fill("#username", "police.officer")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"/alerts$"))

    page.click("#logout")
    page.wait_for_url(re.compile(r"/login\?reason=logged_out$"))
    expect_text(page, "#login-notice", "已登出")
    page.goto(f"{live_server.url}/dashboard")
    page.wait_for_url(re.compile(r"/login\?next=%2Fdashboard"))


def _last_seen(live: LiveServer, username: str) -> Any:
    from sqlalchemy import func, select

    from onecity.core.models import AuthSession, User

    with live.platform.db.read() as s:
        return s.execute(
            select(func.max(AuthSession.last_seen_at))
            .join(User, User.id == AuthSession.user_id)
            .where(User.username == username)
        ).scalar_one()


def test_timer_polls_of_an_unattended_page_are_background(
    page: Any, live_server: LiveServer
) -> None:
    """An unattended page's timer polls say X-OneCity-Background: 1 and so do not keep the
    session alive; after the person touches the page, requests are theirs again."""
    page.clock.install()  # the page's timers and Date, moved on by the test
    log_in(page, live_server.url, username="epb.crew", then="/alerts")
    wait_live(page, "alerts")

    def poll() -> Any:
        with page.expect_request(lambda r: "/api/v1/alerts?" in r.url) as got:
            page.clock.run_for(30_000)  # the page's REFRESH_MS
        return got.value

    # Nobody has touched this page: the half-minute poll is background, and the server
    # does not count it as activity.
    live_server.age_sessions("epb.crew", 10)
    before = _last_seen(live_server, "epb.crew")
    req = poll()
    assert req.headers.get("x-onecity-background") == "1", req.headers
    req.response()  # answered, so the server has seen it
    assert _last_seen(live_server, "epb.crew") == before

    # The person scrolls: the next poll is within a minute of that, so it is theirs.
    page.mouse.move(300, 300)
    page.mouse.wheel(0, 200)
    wait_js(page, "!OC.idle()")  # wheel events reach the page asynchronously
    req = poll()
    assert "x-onecity-background" not in req.headers, req.headers
    req.response()
    assert _last_seen(live_server, "epb.crew") > before

    # A minute and more without input: background again.
    page.clock.run_for(31_000)
    req = poll()
    assert req.headers.get("x-onecity-background") == "1", req.headers
