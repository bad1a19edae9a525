"""Collection plans in a real browser against a real server: stations report over HTTP with
their device keys, two trucks work all day, today is planned through the API; the operator's
planner shows every truck's route on the map and as a list, and can plan tomorrow; the crew's
phone shows its route in order, marks the first stop done, and when a station that was
waiting reports a fire the planner inserts it into the running routes: the phone shows the
"route changed" banner and the fire stop without a reload, the served stop still first."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from onecity.core.auth.secrets import hash_password
from onecity.core.models import Reading, User
from onecity.waste.planning.models import WastePlanStop, WasteTruck
from onecity.waste.services import WasteServices

from .conftest import (
    PASSWORD,
    SHOTS,
    WAIT_MS,
    LiveServer,
    add_station,
    expect_text,
    log_in,
    wait_js,
    wait_live,
    watched_page,
)

PHONE = {"width": 390, "height": 844}
CREW = "route.crew"
ON_THE_ROAD = {"latitude": 25.0405, "longitude": 121.5675}  # the crew's phone, near the fire
# Two clusters, each beside one truck's depot: the east one (with the station that will burn)
# is the first truck's natural work, the west one the second's.
DEPOTS = {"PLN-T1": (121.5666, 25.0415), "PLN-T2": (121.5200, 25.0300)}
FULL = {
    "itrash-pln-e1": ("iTrash 市府站", 121.5700, 25.0440),
    "itrash-pln-e2": ("iTrash 信義廣場站", 121.5640, 25.0380),
    "itrash-pln-e3": ("iTrash 松仁站", 121.5730, 25.0390),
    "itrash-pln-w1": ("iTrash 南門站", 121.5230, 25.0330),
    "itrash-pln-w2": ("iTrash 植物園站", 121.5170, 25.0270),
    "itrash-pln-w3": ("iTrash 古亭站", 121.5250, 25.0260),
}
FIRE = ("itrash-pln-e4", "iTrash 三張犁站", 121.5690, 25.0410)  # nearly empty: waits


@dataclass
class City:
    live: LiveServer
    operator: dict[str, str]
    today: str


@pytest.fixture(scope="module")
def city(live_server: LiveServer) -> Iterator[City]:
    live = live_server
    admin = {"Authorization": f"Bearer {live.token('admin')}"}
    for sid, (name, lon, lat) in {**FULL, FIRE[0]: FIRE[1:]}.items():
        add_station(live, admin, sid, name, lon, lat)
    # Three days in which the waiting station was hardly used: its forecast lets it wait
    # (with no history it would get a typical station's rate and be emptied too).
    now_ms = int(time.time() * 1000)
    with live.platform.db.session() as s:
        for h in range(72, 0, -1):
            ts = now_ms - h * 3_600_000
            s.add(Reading(device_id=FIRE[0], seq=ts, key="garbage.fill", ts_ms=ts, value=0.05))
    for sid in [*FULL, FIRE[0]]:
        fill = 0.97 if sid in FULL else 0.05
        live.post_telemetry(sid, {"garbage.fill": fill, "garbage.weight_kg": 280 * fill})
    with live.platform.db.session() as s:
        if s.scalar(select(User.id).where(User.username == CREW)) is None:
            s.add(
                User(
                    username=CREW,
                    display_name=CREW,
                    password_hash=hash_password(PASSWORD),
                    role="crew",
                    department_code="epb",
                )
            )
        for tid, (lon, lat) in DEPOTS.items():
            s.add(
                WasteTruck(
                    id=tid,
                    name=f"信義 {tid[-1]} 號車" if tid.endswith("1") else f"中正 {tid[-1]} 號車",
                    department_code="epb",
                    depot_name=f"depot {tid}",
                    depot_lon=lon,
                    depot_lat=lat,
                    capacity_kg=4000,
                    capacity_m3=16,
                    shift_start="00:00",  # all day, so the test runs whatever the hour
                    shift_end="24:00",
                    crew=None,
                    active=True,
                )
            )
    operator = {"Authorization": f"Bearer {live.token('epb.operator')}"}
    yield City(live, operator, live.platform.services(WasteServices).planner.today().isoformat())
    _tidy(live, operator)


def _tidy(live: LiveServer, operator: dict[str, str]) -> None:
    """Leave the shared server as the other browser tests expect it: these stations emptied
    and their jobs closed (a crew's list is theirs to count)."""
    ours = {*FULL, FIRE[0]}
    for sid in ours:
        live.post_telemetry(sid, {"garbage.fill": 0.05, "garbage.smoke": 0, "garbage.temp_c": 5})
    jobs = httpx.get(f"{live.url}/api/v1/waste/jobs", headers=operator, timeout=10).json()["jobs"]
    for job in jobs:
        if job["station_id"] in ours:
            r = httpx.post(
                f"{live.url}/api/v1/waste/jobs/{job['id']}/close",
                headers=operator,
                json={"collected_kg": 0, "note": "test over"},
                timeout=10,
            )
            assert r.status_code in (200, 409), r.text


def _plan_today(city: City) -> dict[str, Any]:
    """Plan today over HTTP; the planner loop may be making one at the same moment."""
    for _ in range(5):
        r = httpx.post(
            f"{city.live.url}/api/v1/waste/plans",
            headers=city.operator,
            json={"day": city.today, "seconds": 2},
            timeout=60,
        )
        if r.status_code != 409:
            break
        time.sleep(0.5)
    assert r.status_code == 201, r.text
    plan: dict[str, Any] = r.json()
    return plan


def _current(city: City) -> dict[str, Any]:
    r = httpx.get(
        f"{city.live.url}/api/v1/waste/plans?day={city.today}", headers=city.operator, timeout=10
    )
    assert r.status_code == 200, r.text
    plan: dict[str, Any] = r.json()
    return plan


@pytest.fixture
def desktop(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    ctx = chromium.new_context(
        viewport={"width": 1400, "height": 900}, locale="zh-TW", timezone_id="Asia/Taipei"
    )
    ctx.set_default_timeout(WAIT_MS)
    pg, problems = watched_page(ctx, live_server)
    yield pg
    ctx.close()
    assert problems == []


@pytest.fixture
def phone(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    ctx = chromium.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-TW",
        timezone_id="Asia/Taipei",
        # the crew shares the phone's position: the truck's is sent for re-planning
        geolocation=ON_THE_ROAD,
        permissions=["geolocation"],
    )
    ctx.set_default_timeout(WAIT_MS)
    pg, problems = watched_page(ctx, live_server)
    yield pg
    ctx.close()
    assert problems == []


def _seen(city: City, truck_id: str) -> tuple[float, float] | None:
    with city.live.platform.db.read() as s:
        t = s.get(WasteTruck, truck_id)
        return (
            None
            if t is None or t.seen_lon is None or t.seen_lat is None
            else (t.seen_lon, t.seen_lat)
        )


def _seen_after_served(city: City, truck_id: str) -> bool:
    with city.live.platform.db.read() as s:
        t = s.get(WasteTruck, truck_id)
        served = s.scalar(
            select(func.max(WastePlanStop.served_at)).where(WastePlanStop.truck_id == truck_id)
        )
        return (
            t is not None and t.seen_at is not None and served is not None and t.seen_at >= served
        )


def _stations(pg: Any, selector: str) -> list[str]:
    got: list[str] = pg.eval_on_selector_all(selector, "els => els.map(e => e.dataset.station)")
    return got


@pytest.mark.browser
def test_planner_and_crew_route_with_a_fire_mid_shift(
    desktop: Any, phone: Any, chromium: Any, city: City
) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    base = city.live.url
    plan = _plan_today(city)
    routes = {r["truck_id"]: r for r in plan["routes"]}
    routed = {s["station_id"] for r in plan["routes"] for s in r["stops"]}
    assert set(FULL) <= routed and FIRE[0] not in routed, plan
    # The crew of the truck that works the east cluster (where the fire will be).
    mine = next(
        t for t, r in routes.items() if any(s["station_id"] == "itrash-pln-e1" for s in r["stops"])
    )
    with city.live.platform.db.session() as s:
        s.execute(update(WasteTruck).where(WasteTruck.id == mine).values(crew=CREW))

    # --- the operator's planner: every truck's stops, lines on the map ---------------------
    log_in(desktop, base, "epb.operator", then="/waste/planner")
    expect_text(desktop, "nav.nav", "清運路線")
    expect_text(desktop, "h1", "清運路線規劃")
    wait_live(desktop, "waste-planner")
    plan = _current(city)  # the loop may have made a newer version meanwhile
    for r in plan["routes"]:
        card = f'#truck-list li.truck[data-truck="{r["truck_id"]}"]'
        expect(desktop.locator(card + " li.pstop")).to_have_count(len(r["stops"]))
        assert _stations(desktop, card + " li.pstop") == [s["station_id"] for s in r["stops"]]
        expect_text(desktop, card + " .truck-facts", r"班別 00:00–24:00.*出車.*返回.*公里")
        expect_text(desktop, card + " .loads", r"公斤.*/ 4,000 kg.*/ 16 m³")
        expect_text(desktop, card + " li.pstop >> nth=0", "已滿 97%")
    wait_js(
        desktop, f"document.getElementById('plan-map').dataset.routes === '{len(plan['routes'])}'"
    )
    assert desktop.locator("#plan-map path.plan-line").count() == len(plan["routes"])
    assert desktop.locator("#plan-map .plan-num").count() == sum(
        len(r["stops"]) for r in plan["routes"]
    )
    expect_text(desktop, '#plan-meta [data-meta="version"]', f"v{plan['version']}")
    expect_text(desktop, '#plan-meta [data-meta="made"]', "由 ")
    expect_text(
        desktop, '#plan-meta [data-meta="travel"]', r"^大圓距離 × [\d.]+，時速 [\d.]+ 公里$"
    )
    desktop.screenshot(path=str(SHOTS / "planner-desktop.png"), full_page=True)

    # --- the crew's phone: the route in order; the first stop done --------------------------
    log_in(phone, base, CREW, then="/waste/jobs")
    wait_live(phone, "waste-route")
    # the phone shares its position: the server now knows where the crew's truck is
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline and _seen(city, mine) is None:
        time.sleep(0.2)
    assert _seen(city, mine) == (ON_THE_ROAD["longitude"], ON_THE_ROAD["latitude"])
    route = next(r for r in plan["routes"] if r["truck_id"] == mine)
    order = [s["station_id"] for s in route["stops"]]
    expect(phone.locator("#route-list li.rstop")).to_have_count(len(order))
    assert _stations(phone, "#route-list li.rstop") == order
    first = phone.locator("#route-list li.rstop").first
    expect(first).to_have_class(re.compile("is-next"))
    expect_text(
        phone,
        "#route-list li.rstop >> nth=0",
        r"\d\d:\d\d.*清運.*下一站.*清運本站：約 \d+ 公斤.*完成",
    )
    phone.evaluate("window.__samePage = true")
    first.locator('button[data-action="served"]').click()
    expect(first).to_have_attribute("data-status", "served")
    expect_text(phone, "#route-list li.rstop >> nth=0", r"✓.*完成")
    # "Done" also sends where the phone is: a fix newer than the stop served, to route from
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline and not _seen_after_served(city, mine):
        time.sleep(0.2)
    assert _seen_after_served(city, mine)
    expect_text(phone, "#route-msg", "已標記完成")
    expect_text(phone, "#route-truck", r"已完成 1/")
    phone.screenshot(path=str(SHOTS / "crew-route-phone.png"))

    # --- a fire at the station that waited: inserted into the running routes ----------------
    city.live.post_telemetry(FIRE[0], {"garbage.smoke": 1, "garbage.temp_c": 85})
    city.live.platform.services(
        WasteServices
    ).planner.replan_urgent_jobs()  # the loop's step (it may beat us)
    after = _current(city)
    fire = [s for r in after["routes"] for s in r["stops"] if s["station_id"] == FIRE[0]]
    assert fire and fire[0]["kind"] == "fire" and fire[0]["truck_id"] == mine, after
    assert mine in after["summary"]["from_seen"]  # sent on from where the phone saw it
    expect_text(phone, "#route-banner", r"路線已於 \d\d:\d\d 變更：iTrash 三張犁站 火警")
    fire_card = phone.locator(f'#route-list li.rstop[data-station="{FIRE[0]}"]')
    expect(fire_card).to_have_attribute("data-kind", "fire")
    expect_text(phone, f'#route-list li.rstop[data-station="{FIRE[0]}"]', "火警.*119.*完成")
    first = phone.locator("#route-list li.rstop").first
    assert first.get_attribute("data-station") == order[0]
    expect(first).to_have_attribute("data-status", "served")
    assert phone.evaluate("window.__samePage === true")  # over SSE, no reload
    phone.screenshot(path=str(SHOTS / "crew-route-fire-phone.png"))

    # The planner followed too: the new version, the fire stop red, the urgent result.
    expect_text(desktop, '#plan-meta [data-meta="reason"]', "重新規劃.*iTrash 三張犁站")
    expect(desktop.locator(f'li.pstop.is-fire[data-station="{FIRE[0]}"]')).to_have_count(1)
    expect(desktop.locator(f'li.pstop.is-served[data-station="{order[0]}"]')).to_have_count(1)
    expect_text(desktop, "#plan-urgent", "已排入進行中的路線")
    expect(desktop.locator("#plan-map path.plan-seen")).to_have_count(1)
    desktop.screenshot(path=str(SHOTS / "planner-desktop-fire.png"), full_page=True)

    # --- tomorrow: no plan yet (unless the evening loop made it), "Plan now" makes one ------
    desktop.click('.day-switch [data-day="tomorrow"]')
    expect(desktop.locator('.day-switch [data-day="tomorrow"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    wait_js(
        desktop,
        "!document.getElementById('plan-none').hidden"
        " || !document.getElementById('plan-meta').hidden",
    )
    if desktop.locator("#plan-none").is_visible():
        expect_text(desktop, "#plan-none", "尚無清運路線")
        desktop.click("#plan-now")
        expect_text(desktop, "#plan-msg", r"已產生第 \d+ 版路線")
    expect_text(desktop, '#plan-meta [data-meta="reason"]', "依各站回報排定")
    desktop.click("#lang-en")
    expect_text(desktop, "h1", "Collection plan")
    expect_text(desktop, '#plan-meta [data-meta="reason"]', "re-planned at .*: fire at iTrash")
    desktop.screenshot(path=str(SHOTS / "planner-desktop-en.png"), full_page=True)
    # The urgent form says what the server said when a station cannot be inserted.
    desktop.fill("#urgent-other", "no-such-station")
    desktop.click("#urgent-submit")
    expect_text(desktop, "#urgent-out", "Could not insert: 'no-such-station' is not a station")

    # --- a crew member without a truck of their own picks one; the phone remembers it -------
    ctx = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-TW")
    try:
        other, problems = watched_page(ctx, city.live)
        log_in(other, base, "epb.crew", then="/waste/jobs")
        expect_text(other, "#route-empty", "請先選擇您的車")
        other.select_option("#route-truck-select", mine)
        expect(other.locator("#route-list li.rstop")).to_have_count(len(route["stops"]) + 1)
        other.reload()
        expect(other.locator("#route-truck-select")).to_have_value(mine)
        expect_text(other, f'#route-list li.rstop[data-station="{FIRE[0]}"]', "火警")
        assert problems == []
    finally:
        ctx.close()
