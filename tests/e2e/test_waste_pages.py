"""The iTrash pages in a real browser against a real server with the waste module enabled:
an operator watches a station's upload arrive without reloading, reads the ledger, a flagged
card's flag in words, blocks a card and finds it on the blocklist, sees a settlement mismatch
with its differences; anyone reads the tariffs and works the calculator; a citizen lands on
their cards, links one with the code from its receipt and sees its history; the police are refused.

Cards are issued through the service (WasteService.issue), stations upload over HTTP with
their own device keys, like real stations (docs/waste-terminal-api.md)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from onecity.waste.kiosk.cards import SimulatedEasyCard
from onecity.waste.ledger.schemas import CardIssueIn
from onecity.waste.rules.linkcode import new_code
from onecity.waste.rules.money import Material, TariffTable
from onecity.waste.services import WasteServices
from tests.integration.waste.helpers import Terminal

from .conftest import PASSWORD, LiveServer, expect_text, log_in, wait_js, wait_live

TPE = ZoneInfo("Asia/Taipei")
TARIFFS = TariffTable()
WASTE = Path(__file__).resolve().parents[2] / "src" / "onecity" / "waste"
STAFF_PAGES = ["/waste/transactions", "/waste/cards", "/waste/blocklist", "/waste/settlements"]
OPENING = 300  # NT$ on every test card when it enters the registry
URL = re.compile(r"https?://[^\s\"'<>()]+", re.IGNORECASE)


# --- a test station ----------------------------------------------------------------------------
@dataclass
class Station:
    """Numbers its own transactions (through the integration tests' Terminal, which makes the
    card writes) and uploads them with its device key, like a kiosk."""

    base: str
    id: str
    name: str
    key: str
    term: Terminal = field(init=False)

    def __post_init__(self) -> None:
        self.term = Terminal(self.id)

    @property
    def batch_no(self) -> int:
        return self.term.batch_no

    @batch_no.setter
    def batch_no(self, value: int) -> None:
        self.term.batch_no = value

    def garbage(self, card: SimulatedEasyCard, grams: int, ago_min: int = 5) -> dict[str, Any]:
        t = self.term.garbage(card, grams, datetime.now(TPE) - timedelta(minutes=ago_min))
        return t | {"link_code": new_code()}  # as the kiosk shows and prints it

    def recycle(
        self, card: SimulatedEasyCard, materials: list[Material], ago_min: int = 5
    ) -> dict[str, Any]:
        t = self.term.recycle(card, materials, datetime.now(TPE) - timedelta(minutes=ago_min))
        return t | {"link_code": new_code()}

    def upload(self, *txns: dict[str, Any], status: int = 200) -> dict[str, Any]:
        r = httpx.post(
            f"{self.base}/api/v1/waste/terminal/transactions",
            headers={"X-Device-Key": self.key},
            json={"transactions": list(txns)},
            timeout=10,
        )
        assert r.status_code == status, r.text
        body: dict[str, Any] = r.json()
        return body

    def settle(self, txns: list[dict[str, Any]]) -> dict[str, Any]:
        """Close the open batch reporting `txns` as its contents (what the kiosk's journal
        holds, whether or not the server got them all)."""
        now = datetime.now(TPE)
        body = {
            "batch_no": self.batch_no,
            "opened_at": (now - timedelta(hours=2)).isoformat(),
            "closed_at": now.isoformat(),
            "count": len(txns),
            "debit_total": sum(-t["amount"] for t in txns if t["amount"] < 0),
            "credit_total": sum(t["amount"] for t in txns if t["amount"] > 0),
            "first_seq": min(t["terminal_seq"] for t in txns),
            "last_seq": max(t["terminal_seq"] for t in txns),
        }
        r = httpx.post(
            f"{self.base}/api/v1/waste/terminal/settlements",
            headers={"X-Device-Key": self.key},
            json=body,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        self.batch_no += 1
        got: dict[str, Any] = r.json()
        return got


@dataclass
class World:
    live: LiveServer
    north: Station
    south: Station
    cards: dict[str, SimulatedEasyCard]
    receipt: dict[str, Any]  # a transaction of the citizen's card, as its receipt shows it
    later: dict[str, Any]  # the card's next transaction (a newer link code)


def _station(live: LiveServer, admin: dict[str, str], sid: str, name: str) -> Station:
    r = httpx.post(
        f"{live.url}/api/v1/devices",
        headers=admin,
        timeout=10,
        json={"id": sid, "name": name, "type": "waste_station", "department": "epb"},
    )
    assert r.status_code == 201, r.text
    k = httpx.post(f"{live.url}/api/v1/devices/{sid}/keys", headers=admin, json={}, timeout=10)
    assert k.status_code == 201, k.text
    return Station(live.url, sid, name, k.json()["key"])


@pytest.fixture(scope="module")
def world(live_server: LiveServer) -> World:
    """Two stations and four cards with some history: an ordinary card, one an operator will
    block, one cloned (its copy reuses a counter, so reconciliation flags and blocks it), and
    one a citizen will register. The south station settles a batch it did not fully upload."""
    admin = {"Authorization": f"Bearer {live_server.token('admin')}"}
    north = _station(live_server, admin, "itrash-e2e-n", "iTrash 大安森林公園站")
    south = _station(live_server, admin, "itrash-e2e-s", "iTrash 信義廣場站")
    cards = {
        c: SimulatedEasyCard(c, balance=OPENING, counter=20)
        for c in ("E2E-0001", "E2E-0002", "E2E-0003", "E2E-0004")
    }
    live_server.platform.services(WasteServices).ledger.issue(
        [
            CardIssueIn(card_id=c.card_id, balance=c.balance, counter=c.counter)
            for c in cards.values()
        ],
        actor="e2e",
    )
    pet, alu = Material.PET, Material.ALUMINIUM

    n1 = north.garbage(cards["E2E-0001"], 750, ago_min=50)
    n2 = north.recycle(cards["E2E-0001"], [pet] * 10 + [alu] * 3, ago_min=45)
    receipt = north.garbage(cards["E2E-0004"], 150, ago_min=40)
    n4 = north.recycle(cards["E2E-0004"], [pet] * 6, ago_min=35)
    clone = copy.deepcopy(cards["E2E-0003"])
    n5 = north.garbage(cards["E2E-0003"], 480, ago_min=30)
    north.upload(n1, n2, receipt, n4, n5)
    assert north.settle([n1, n2, receipt, n4, n5])["status"] == "matched"

    s1 = south.garbage(cards["E2E-0002"], 1200, ago_min=25)
    s2 = south.garbage(clone, 300, ago_min=20)  # the same counter as n5, on a copy of the card
    south.upload(s1)
    refused = httpx.post(
        f"{south.base}/api/v1/waste/terminal/transactions",
        headers={"X-Device-Key": south.key},
        json={"transactions": [s2]},
        timeout=10,
    )
    assert refused.status_code == 409 and refused.json()["error"] == "counter_replay"
    settled = south.settle([s1, s2])  # the station counts s2; the server never took it
    assert settled["status"] == "mismatch", settled
    return World(live_server, north, south, cards, receipt, n4)


def _stamp(pg: Any) -> None:
    pg.evaluate("window.__samePage = true")


def _same_page(pg: Any) -> bool:
    return bool(pg.evaluate("window.__samePage === true"))


# --- operators ----------------------------------------------------------------------------------
@pytest.mark.browser
def test_a_transaction_appears_live_with_ledger_and_stations(
    page: Any, world: World, shots: Path
) -> None:
    log_in(page, world.live.url, "epb.operator", then="/waste/transactions")
    expect_text(page, "nav.nav", "交易紀錄.*卡片.*黑名單.*日結對帳.*費率")
    assert "我的卡片" not in page.inner_text("nav.nav")
    expect_text(page, "#txn-rows", "E2E-0004.*E2E-0001")
    wait_live(page, "waste-txns")
    wait_live(page, "waste-ledger")
    expect_text(page, "#ledger-state", "帳平")
    expect_text(page, "#l-sum", r"^NT\$0$")
    expect_text(page, "#l-unexplained", r"^NT\$0$")
    # Thousands separators: four cards came in with NT$300 each.
    expect_text(page, '[data-account="card_issue"] td', r"^−NT\$\d{1,3}(,\d{3})+$")
    expect_text(page, '#station-rows tr[data-station="itrash-e2e-s"]', "信義廣場站.*1")
    row = page.locator('#txn-rows tr[data-txn-id]:has(a:text("E2E-0001"))').last
    expect_text_loc(row, r"垃圾.*大安森林公園站.*0\.75 公斤.*−NT\$22.*NT\$300.*NT\$278")
    page.screenshot(path=str(shots / "waste-transactions.png"), full_page=True)

    # A station uploads while the page is open: the row arrives over SSE, no reload.
    _stamp(page)
    card = world.cards["E2E-0001"]
    before = card.balance
    t = world.north.garbage(card, 1200, ago_min=1)  # 3 started half-kilos: NT$33
    world.north.upload(t)
    new = page.locator("#txn-rows tr.is-new")
    expect_text_loc(new, rf"E2E-0001.*1\.20 公斤.*−NT\$33.*NT\${before}.*NT\${before - 33}")
    expect_text(page, "#txn-live", r"收到 iTrash 大安森林公園站 的 1 筆新交易")
    assert page.get_attribute("#txn-live", "aria-live") == "polite"
    assert _same_page(page)
    expect_text(page, "#ledger-state", "帳平")
    page.screenshot(path=str(shots / "waste-transactions-live.png"), full_page=True)

    # Filters: recycling only, then one card, kept in the address.
    page.select_option("#f-kind", "recycle")
    wait_js(
        page,
        "document.querySelectorAll('#txn-rows tr').length > 0 && Array.from("
        "document.querySelectorAll('#txn-rows tr')).every(r => r.classList.contains"
        "('kind-row-recycle'))",
    )
    expect_text(page, "#txn-rows", r"13 件.*寶特瓶 10、鋁罐 3.*\+NT\$1")
    page.fill("#f-card", "E2E-0004")
    wait_js(page, "document.querySelectorAll('#txn-rows tr').length === 1")
    assert re.search(r"kind=recycle", page.url) and "card_id=E2E-0004" in page.url
    expect_text(page, "#txn-rows", r"6 件.*點數 0 → 24.*NT\$0")
    page.fill("#f-card", "not a card!")
    expect_text(page, "#f-card-error", "卡號為 1–32 個")

    # The same page in English: money, weights and times keep their formats.
    page.click("#lang-en")
    page.wait_for_url(re.compile(r"/waste/transactions$"))
    expect_text(
        page, "nav.nav", "Map.*Alerts.*Transactions.*Cards.*Blocklist.*Settlements.*Tariffs"
    )
    expect_text(page, "h1", "iTrash transactions")
    expect_text(
        page, "#txn-rows", r"Recycling.*13 items \(10 PET, 3 aluminium\).*Garbage.*0\.75 kg"
    )
    expect_text(page, "#ledger-state", "Balanced")
    expect_text(page, '[data-account="card_issue"] td', r"^−NT\$\d{1,3}(,\d{3})+$")
    wait_live(page, "waste-txns")
    page.screenshot(path=str(shots / "waste-transactions-en.png"), full_page=True)


@pytest.mark.browser
def test_cards_flags_blocking_and_the_blocklist(page: Any, world: World, shots: Path) -> None:
    log_in(page, world.live.url, "epb.operator", then="/waste/cards")
    page.fill("#c-q", "E2E-")
    wait_js(page, "document.querySelectorAll('#card-rows tr').length === 4")
    page.select_option("#c-status", "flagged")
    wait_js(page, "document.querySelectorAll('#card-rows tr[data-card^=\"E2E-\"]').length === 1")
    expect_text(page, '#card-rows tr[data-card="E2E-0003"]', "已鎖卡.*異常")
    page.select_option("#c-status", "")
    wait_js(page, "document.querySelectorAll('#card-rows tr').length === 4")
    page.screenshot(path=str(shots / "waste-cards.png"), full_page=True)

    # The cloned card: flagged and blocked by reconciliation, the flag in words.
    page.click('#card-rows a:text("E2E-0003")')
    page.wait_for_url(re.compile(r"/waste/cards/E2E-0003$"))
    assert page.get_attribute('nav.nav a[href="/waste/cards"]', "aria-current") == "true"
    expect_text(
        page, "#flags", r"計數重複使用（重送或複製卡）.*計數 21.*itrash-e2e-s.*reused counter 21"
    )
    assert page.is_visible("#card-blocked")
    expect_text(page, "#c-balance", r"^NT\$\d+$")
    expect_text(page, "#history", r"垃圾.*0\.48 公斤")
    page.screenshot(path=str(shots / "waste-card-flagged.png"), full_page=True)

    # An operator blocks a card (lost, reported by phone) with a reason.
    page.goto(f"{world.live.url}/waste/cards/E2E-0002")
    expect_text(page, "#block-submit", "^鎖卡$")
    assert page.is_disabled("#block-submit")  # no reason yet
    page.fill("#block-reason", "民眾來電掛失 lost card reported by phone")
    page.click("#block-submit")
    expect_text(page, "#block-msg", "卡片 E2E-0002 已鎖卡。")
    expect_text(page, "#card-status", "已鎖卡")
    expect_text(page, "#block-submit", "^解除鎖卡$")

    # the link is in the header's iTrash menu
    assert page.locator('nav.nav a[href="/waste/blocklist"]').count() == 1
    page.goto(page.url.split("/waste/")[0] + "/waste/blocklist")
    page.wait_for_url(re.compile(r"/waste/blocklist$"))
    expect_text(page, '#bl-now tr[data-card="E2E-0002"]', "民眾來電掛失.*epb.operator")
    expect_text(page, '#bl-now tr[data-card="E2E-0003"]', "counter_replay.*自動對帳")
    expect_text(page, "#bl-version", r"名單版本 \d+")
    expect_text(page, "#bl-history", "E2E-0002.*鎖卡")
    wait_live(page, "waste-blocklist")
    page.screenshot(path=str(shots / "waste-blocklist.png"), full_page=True)

    # Stations now refuse the card.
    t = world.south.garbage(world.cards["E2E-0002"], 200, ago_min=0)
    assert world.south.upload(t, status=409)["error"] == "card_blocked"


@pytest.mark.browser
def test_settlement_mismatch_shows_its_differences(page: Any, world: World, shots: Path) -> None:
    log_in(page, world.live.url, "epb.operator", then="/waste/settlements")
    first = page.locator("#st-rows tr").first
    expect_text_loc(first, r"itrash-e2e-s.*不符")
    assert "settle-mismatch" in (first.get_attribute("class") or "")
    # The differences in the reader's language, from their figures.
    expect_text_loc(
        first,
        r"站點計 2 筆交易，伺服器有 1 筆.*"
        r"扣款：站點 NT\$\d+，伺服器 NT\$\d+.*尚未上傳：2。",
    )
    # The figures that differ are marked on both sides.
    assert first.locator("li.differs").count() == 4
    expect_text(page, '#st-rows tr[data-station="itrash-e2e-n"]', "相符")
    expect_text(page, "#st-summary", r"\d+ 個不符")
    wait_live(page, "waste-settlements")
    page.screenshot(path=str(shots / "waste-settlements.png"), full_page=True)

    page.select_option("#st-status", "matched")
    wait_js(page, "document.querySelectorAll('#st-rows tr.settle-mismatch').length === 0")
    expect_text(page, "#st-rows", "itrash-e2e-n")


# --- everyone -----------------------------------------------------------------------------------
@pytest.mark.browser
def test_tariffs_and_calculator_in_english(page: Any, world: World, shots: Path) -> None:
    # Public: no login. English by the language switch.
    page.goto(f"{world.live.url}/lang/en?next=/waste/tariffs")
    page.wait_for_url(re.compile(r"/waste/tariffs$"))
    expect_text(page, "h1", "^Garbage tariffs$")
    # nobody is logged in: no staff page is offered
    assert page.locator('nav.nav a[href="/waste/transactions"]').count() == 0
    wait_js(page, "document.querySelectorAll('article.tariff').length === 2")
    expect_text(
        page,
        'article[data-from="2026-01-01"]',
        r"In force today.*up to 0\.20 kg.*NT\$5.*NT\$11 for every started 0\.50 kg",
    )
    expect_text(
        page, 'article[data-from="2019-01-01"]', r"Superseded.*to 12/31/2025.*up to 1\.00 kg.*NT\$8"
    )
    expect_text(page, "#calc-out", r"0\.75 kg on .* costs NT\$22 under “Taipei iTrash 2026”")
    page.fill("#calc-day", "2025-06-01")
    expect_text(page, "#calc-out", r"0\.75 kg on 06/01/2025 costs NT\$8 under “Taipei iTrash 2019”")
    page.fill("#calc-grams", "60000")
    expect_text(page, "#calc-out", r"More than 50\.00 kg in one drop is refused")
    page.fill("#calc-grams", "1234")
    page.fill("#calc-day", "2026-11-26")
    expect_text(page, "#calc-out", r"1\.23 kg on 11/26/2026 costs NT\$33")
    page.screenshot(path=str(shots / "waste-tariffs-en.png"), full_page=True)


@pytest.mark.browser
def test_a_citizen_registers_a_card_and_sees_its_history(
    page: Any, world: World, shots: Path
) -> None:
    base = world.live.url
    page.goto(f"{base}/login")
    page.fill("#username", "citizen")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    # The map is not for citizens: they land on their cards.
    page.wait_for_url(re.compile(r"/waste/my-cards$"))
    nav = page.locator("nav.nav").text_content() or ""  # menus' items too, shown or not
    assert "我的卡片" in nav and "費率" in nav and "地圖" not in nav and "交易紀錄" not in nav
    expect_text(page, "#my-none", "尚未登記")

    r = world.receipt
    page.fill("#r-card", r["card_id"])
    page.fill("#r-code", "0000-0000")  # not the code of any visit of this card
    page.click("#r-submit")
    expect_text(page, "#my-error", "卡號與綁定碼不符合任何尚未綁定帳號之卡片的近期交易")
    assert page.get_attribute("#r-code", "aria-invalid") == "true"

    page.fill("#r-code", r["link_code"].lower().replace("-", ""))  # as people type it
    page.click("#r-submit")
    expect_text(page, "#my-msg", f"卡片 {r['card_id']} 已登記至您的帳號。")
    card = page.locator(f'section[data-card="{r["card_id"]}"]')
    expect_text_loc(
        card,
        r"最後所見餘額\s*NT\$295.*由站點讀取.*回收點數\s*24 / 40.*已累積 24 / 40 點.*"
        r"已付垃圾處理費\s*NT\$5.*資源回收回饋\s*NT\$0",
    )
    assert card.locator("progress").get_attribute("value") == "24"
    assert card.locator("tbody tr").count() == 2
    expect_text_loc(card.locator("tbody"), r"資源回收.*6 件.*垃圾.*0\.15 公斤.*−NT\$5")
    page.screenshot(path=str(shots / "waste-my-cards.png"), full_page=True)

    page.click(f'section[data-card="{r["card_id"]}"] button[data-action="unregister"]')
    page.click(f'section[data-card="{r["card_id"]}"] button[data-action="confirm"]')
    expect_text(page, "#my-msg", "已取消登記")
    expect_text(page, "#my-none", "尚未登記")

    # Operators' pages and the map are refused, with a way back.
    resp = page.goto(f"{base}/waste/cards")
    assert resp.status == 403
    expect_text(page, "#forbidden-reason", "waste:read")
    expect_text(page, "#forbidden-home", "前往")
    assert page.get_attribute("#forbidden-home", "href") == "/waste/my-cards"


@pytest.mark.browser
def test_a_citizen_on_a_phone(chromium: Any, world: World, shots: Path) -> None:
    ctx = chromium.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-TW",
        timezone_id="Asia/Taipei",
    )
    try:
        pg = ctx.new_page()
        pg.goto(f"{world.live.url}/login")
        pg.fill("#username", "citizen")
        pg.fill("#password", PASSWORD)
        pg.click("#login-submit")
        pg.wait_for_url(re.compile(r"/waste/my-cards$"))
        r = world.receipt
        pg.fill("#r-card", r["card_id"])
        # A code works once: the card's later visit has a fresh one.
        pg.fill("#r-code", world.later["link_code"])
        pg.click("#r-submit")
        pg.locator(f'section[data-card="{r["card_id"]}"] tbody tr').first.wait_for()
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        pg.screenshot(path=str(shots / "waste-my-cards-mobile.png"), full_page=True)
    finally:
        ctx.close()
    gone = httpx.delete(
        f"{world.live.url}/api/v1/waste/my/cards/{world.receipt['card_id']}",
        headers={"Authorization": f"Bearer {world.live.token('citizen')}"},
        timeout=10,
    )
    assert gone.status_code == 204, gone.text


@pytest.mark.browser
def test_the_police_are_refused(page: Any, world: World, shots: Path) -> None:
    # A supervisor holds waste:read, but iTrash records are the environment department's.
    log_in(page, world.live.url, "police.supervisor", then="/waste/transactions")
    expect_text(page, "h1", "您無權使用此頁")
    expect_text(page, "#forbidden-lead", "督導.*iTrash 交易紀錄")
    expect_text(page, "#forbidden-reason", "營運站點的局處")
    nav = page.locator("nav.nav").text_content() or ""
    assert "交易紀錄" not in nav and "黑名單" not in nav and "地圖" in nav
    page.screenshot(path=str(shots / "waste-refused.png"))
    resp = page.goto(f"{world.live.url}/waste/cards/E2E-0001")
    assert resp.status == 403
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login\?reason=logged_out$"))

    # An officer's role has no waste:read at all.
    log_in(page, world.live.url, "police.officer", then="/waste/blocklist")
    expect_text(page, "#forbidden-reason", "waste:read")


def expect_text_loc(loc: Any, pattern: str) -> None:
    from playwright.sync_api import expect

    expect(loc).to_have_text(re.compile(pattern, re.S), timeout=15_000)


# --- over plain HTTP --------------------------------------------------------------------------
class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action") and value:
                self.refs.append(value)


@pytest.fixture
def operator(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=10) as c:
        r = c.post("/api/v1/auth/login", json={"username": "epb.operator", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield c


def test_waste_pages_load_nothing_from_elsewhere_and_no_inline_code(
    operator: httpx.Client,
) -> None:
    seen: set[str] = set()
    for path in [*STAFF_PAGES, "/waste/cards/E2E-0001", "/waste/tariffs"]:
        r = operator.get(path)
        assert r.status_code == 200, path
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert URL.findall(r.text) == [], path
        # The only inline <script> is the JSON config; no style attributes or <style>.
        assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", r.text) == []
        assert " style=" not in r.text and "<style" not in r.text
        parser = _Refs()
        parser.feed(r.text)
        for ref in parser.refs:
            parts = urlsplit(urljoin(path, ref))
            assert not parts.scheme and not parts.netloc, ref
            if parts.path.startswith("/static/") and parts.path not in seen:
                seen.add(parts.path)
                got = operator.get(ref)
                assert got.status_code == 200, ref
                if parts.path.startswith("/static/waste/"):  # the shell's: test_pages.py
                    assert URL.findall(got.text) == [], ref
    assert {"/static/waste/waste.css", "/static/waste/js/waste.js", "/static/js/core.js"} <= seen


def test_module_pages_stay_out_of_the_api_schema(live_server: LiveServer) -> None:
    schema = httpx.get(f"{live_server.url}/openapi.json", timeout=10).json()
    assert [p for p in schema["paths"] if p.startswith("/waste")] == []
    assert "/api/v1/waste/transactions" in schema["paths"]


def _catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((WASTE / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def test_waste_strings_in_both_languages() -> None:
    en, zh = _catalog("en"), _catalog("zh-TW")
    assert set(en) == set(zh)
    holes = re.compile(r"\{(\w+)\}")
    for key in en:
        assert en[key].strip() and zh[key].strip(), key
        assert set(holes.findall(en[key])) == set(holes.findall(zh[key])), key
    web = json.loads((WASTE.parent / "web" / "i18n" / "en.json").read_text("utf-8"))
    used: set[str] = set()
    for tpl in (WASTE / "templates" / "waste").glob("*.html"):
        used |= set(re.findall(r"\bt\('([\w.]+)'", tpl.read_text("utf-8")))
    for js in (WASTE / "static" / "js").glob("*.js"):
        text = js.read_text("utf-8")
        used |= set(re.findall(r"\bt\(\"([\w.]+)\"(?!\s*\+)", text))
        # Any whole "waste.…" string (not a prefix that a value completes) is a key or an event.
        used |= set(re.findall(r"\"(waste\.[\w.]+)\"(?!\s*\+)", text))
    for family, values in {
        "waste.kind": ["garbage", "recycle", "topup"],
        "waste.account": [
            "card_value",
            "garbage_fee_revenue",
            "recycling_rebate_expense",
            "topup_cash",
            "card_issue",
        ],
        "waste.problem": ["balance_break", "counter_replay", "missing"],
        "waste.settle": ["matched", "mismatch"],
        "waste.tariffs": ["in_force", "past", "future"],
        "waste.block.done": ["block", "unblock"],
        "waste.my.err": ["link_refused", "too_many_attempts", "missing", "card_bad", "code_bad"],
    }.items():
        sep = "_" if family == "waste.block.done" else "."
        used |= {f"{family}{sep}{v}" for v in values}
    events = {
        "waste.transactions",
        "waste.card_flagged",
        "waste.card_blocked",
        "waste.card_unblocked",
        "waste.settlement_mismatch",
        "waste.job",
        "waste.plan",
        "waste.plan_stop",
    }
    open311_codes = {"waste.station_full", "waste.station_broken"}  # the finder's report form
    missing = used - set(en) - set(web) - events - open311_codes
    assert missing == set()
    assert not set(en) & set(web), "a module must not redefine the web's strings"
