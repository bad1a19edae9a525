"""The city overview in a real browser against a real server with iTrash and road works on:
the admin's /overview and the citizens' /city show live iTrash and road-works cards; a
station's transactions and telemetry change a card without a reload (staff: the live stream;
public: the public "card changed" stream); the more-info dialog shows the history and its
CSV downloads; and screenshots at desktop and phone size in both languages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from onecity.app import create_app
from onecity.bootstrap import migrate, seed_demo
from onecity.core.db import utcnow
from onecity.core.modules import start_platform
from onecity.roadworks.demo import city as roadworks_demo
from onecity.settings import Settings
from onecity.waste.kiosk.cards import SimulatedEasyCard
from tests.conftest import serving
from tests.integration.waste.helpers import Terminal, issue

from .conftest import WAIT_MS, LiveServer, add_station, log_in, wait_js, watched_page

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("overview")
    url = f"sqlite:///{folder / 'onecity.db'}"
    migrate(url)
    settings = Settings(
        environment="test",
        database_url=url,
        totp_required_roles="",
        run_workers=False,
        modules="waste,roadworks",
    )
    platform = start_platform(settings)
    keys_file = folder / "keys.json"
    seed_demo(platform, keys_file, youbike=0, bins=0)
    roadworks_demo.seed(platform)
    keys: dict[str, str] = json.loads(keys_file.read_text())
    with serving(create_app(settings, platform)) as base:
        live = LiveServer(base, platform, keys, {})
        admin = {"Authorization": f"Bearer {live.token('admin')}"}
        add_station(live, admin, "itrash-ov-a", "iTrash 大安公園站", 121.5388, 25.0317)
        add_station(live, admin, "itrash-ov-b", "iTrash 松山車站站", 121.5560, 25.0290)
        for sid in ("itrash-ov-a", "itrash-ov-b"):
            live.post_telemetry(sid, {"garbage.fill": 0.3, "recycling_pet.fill": 0.1})
        yield live
    platform.db.dispose()


@pytest.fixture
def browser(chromium: Any, city: LiveServer) -> Iterator[Any]:
    """(new_page(viewport, lang) -> page); every page fails the test on a script error, a
    CSP violation or a request to another site."""
    made: list[tuple[Any, list[str]]] = []

    def new_page(viewport: dict[str, int] = DESKTOP, lang: str = "zh-TW") -> Any:
        phone = viewport["width"] < 600
        ctx = chromium.new_context(
            viewport=viewport,
            is_mobile=phone,
            has_touch=phone,
            locale=lang,
            timezone_id="Asia/Taipei",
            accept_downloads=True,
        )
        ctx.set_default_timeout(WAIT_MS)
        pg, problems = watched_page(ctx, city)
        made.append((ctx, problems))
        if lang != "zh-TW":
            pg.goto(f"{city.url}/lang/{lang}?next=/healthz")
        return pg

    yield new_page
    for ctx, problems in made:
        ctx.close()
        assert problems == []


def _figure(pg: Any, card: str, key: str) -> Any:
    return pg.locator(f'[data-card="{card}"] .figure[data-key="{key}"]')


def _wait_value(pg: Any, card: str, key: str, value: str) -> None:
    from playwright.sync_api import expect

    expect(_figure(pg, card, key)).to_have_attribute("data-value", value, timeout=WAIT_MS)


def _wait_cards_live(pg: Any) -> None:
    wait_js(
        pg,
        "document.querySelectorAll('.overview-card').length >= 5 && Array.from("
        "document.querySelectorAll('.overview-card .fresh'))"
        ".every(e => e.dataset.state === 'live')",
    )


def _drop_garbage(live: LiveServer, grams: int) -> None:
    card = SimulatedEasyCard(f"EC-OV{grams:05d}", balance=500)
    issue(live.platform, card)
    txn = Terminal("itrash-ov-a", seq=0).garbage(card, grams, utcnow())
    r = httpx.post(
        f"{live.url}/api/v1/waste/terminal/transactions",
        headers={"X-Device-Key": live.keys["itrash-ov-a"]},
        json={"transactions": [txn]},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["status"] == "stored", r.text


@pytest.mark.browser
def test_staff_overview_updates_by_push_and_downloads_history(
    browser: Any, city: LiveServer, tmp_path: Path
) -> None:
    pg = browser()
    log_in(pg, city.url, "admin", then="/overview")
    _wait_cards_live(pg)
    # Live iTrash and road-works cards, the staff-only ones included.
    for card in ("waste.stations", "waste.fill", "waste.tonnage", "waste.jobs"):
        assert pg.locator(f'[data-card="{card}"]').count() == 1, card
    for card in ("roadworks.active", "roadworks.cameras", "roadworks.pending"):
        assert pg.locator(f'[data-card="{card}"]').count() == 1, card
    assert int(_figure(pg, "roadworks.active", "active").get_attribute("data-value")) > 0
    _wait_value(pg, "waste.stations", "total", "2")
    wait_js(
        pg, "Number(document.getElementById('overview-map').dataset.layer_waste_stations) === 2"
    )

    # A station's garbage drop (its upload's event) changes today's tonnage without a reload.
    marker = pg.evaluate("() => (window.__kept = 1)")
    _drop_garbage(city, 1500)
    _wait_value(pg, "waste.tonnage", "garbage_kg", "1.5")
    # A compartment reported 95 % full raises a crew job: fill and jobs cards follow.
    city.post_telemetry("itrash-ov-a", {"garbage.fill": 0.95, "recycling_pet.fill": 0.1})
    _wait_value(pg, "waste.fill", "full", "1")
    _wait_value(pg, "waste.jobs", "open", "1")
    assert pg.evaluate("() => window.__kept") == marker  # the same page: no reload happened

    # More info: the history table and its CSV download.
    pg.click('[data-card="waste.tonnage"] button.more')
    dialog = pg.locator("#overview-dialog")
    assert dialog.is_visible()
    pg.wait_for_selector("#overview-history tbody tr")
    assert pg.locator("#overview-history tbody tr").count() == 30
    with pg.expect_download() as got:
        pg.click("#overview-dl-csv")
    saved = tmp_path / "tonnage.csv"
    got.value.save_as(saved)
    lines = saved.read_text("utf-8-sig").splitlines()
    assert lines[0] == "day,garbage_kg,recycling_kg,collected_kg"
    assert lines[-1].split(",")[1] == "1.5"
    pg.click("#overview-dialog-close")
    assert not dialog.is_visible()

    # The stations' map layer downloads as GeoJSON from the fill card's dialog.
    pg.click('[data-card="waste.fill"] button.more')
    geo = pg.locator("#overview-dl-geojson")
    assert geo.is_visible()
    body = httpx.get(city.url + geo.get_attribute("href"), timeout=10).json()
    assert {f["id"] for f in body["features"]} == {"itrash-ov-a", "itrash-ov-b"}
    pg.keyboard.press("Escape")


@pytest.mark.browser
def test_public_city_page_needs_no_login_and_updates_by_push(
    browser: Any, city: LiveServer
) -> None:
    pg = browser(PHONE)
    pg.goto(f"{city.url}/city")
    assert re.search(r"/city$", pg.url)
    _wait_cards_live(pg)
    # Public cards only: no crews' jobs, no permits awaiting a decision.
    ids = pg.eval_on_selector_all(".overview-card", "els => els.map(e => e.dataset.card)")
    assert set(ids) == {
        "waste.stations",
        "waste.fill",
        "waste.tonnage",
        "roadworks.active",
        "roadworks.cameras",
    }
    assert pg.locator("#overview-login").is_visible()
    before = _figure(pg, "waste.fill", "full").get_attribute("data-value")
    city.post_telemetry("itrash-ov-b", {"garbage.fill": 0.92, "recycling_pet.fill": 0.1})
    _wait_value(pg, "waste.fill", "full", str(int(before) + 1))
    pg.click('[data-card="waste.stations"] button.more')
    pg.wait_for_selector("#overview-history tbody tr")
    href = pg.locator("#overview-dl-csv").get_attribute("href")
    assert href.startswith("/api/v1/overview/public/cards/waste.stations/")


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh-TW", "en"])
def test_screenshots(browser: Any, city: LiveServer, shots: Path, lang: str) -> None:
    """Both pages at desktop and phone size, in tests/e2e/screenshots."""
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        pg = browser(viewport, lang)
        pg.goto(f"{city.url}/city")
        _wait_cards_live(pg)
        pg.screenshot(path=str(shots / f"city-{lang}-{size}.png"), full_page=size == "phone")
        log_in(pg, city.url, "admin", then="/overview")
        _wait_cards_live(pg)
        pg.screenshot(path=str(shots / f"overview-{lang}-{size}.png"), full_page=size == "phone")
