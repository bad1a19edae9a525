"""The iTrash reports page in a real browser: two stations with a fortnight of deposits over
the station protocol and crew jobs with known times; the operator sees the four SVG charts
(drawn by the page's own script, nothing fetched from elsewhere) and the hours-full table."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from onecity.waste.jobs.models import WasteJob
from onecity.waste.kiosk.cards import SimulatedEasyCard
from onecity.waste.ledger.schemas import CardIssueIn
from onecity.waste.rules.money import Material
from onecity.waste.services import WasteServices

from .conftest import PASSWORD, LiveServer, expect_text, log_in, wait_js
from .test_waste_pages import Station

TPE = ZoneInfo("Asia/Taipei")


def _station(live: LiveServer, admin: dict[str, str], sid: str, name: str, lon: float) -> Station:
    r = httpx.post(
        f"{live.url}/api/v1/devices",
        headers=admin,
        timeout=10,
        json={
            "id": sid,
            "name": name,
            "type": "waste_station",
            "department": "epb",
            "location": {"type": "Point", "coordinates": [lon, 25.035]},
        },
    )
    assert r.status_code == 201, r.text
    k = httpx.post(f"{live.url}/api/v1/devices/{sid}/keys", headers=admin, json={}, timeout=10)
    return Station(live.url, sid, name, k.json()["key"])


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> LiveServer:
    admin = {"Authorization": f"Bearer {live_server.token('admin')}"}
    a = _station(live_server, admin, "itrash-rp-a", "iTrash 報表甲站", 121.545)
    b = _station(live_server, admin, "itrash-rp-b", "iTrash 報表乙站", 121.565)
    card = SimulatedEasyCard("RP-0001", balance=9000, counter=1)
    live_server.platform.services(WasteServices).ledger.issue(
        [CardIssueIn(card_id=card.card_id, balance=card.balance, counter=card.counter)],
        actor="e2e",
    )
    now = datetime.now(TPE).replace(minute=0, second=0, microsecond=0)
    for st, scale in ((a, 1.0), (b, 0.6)):
        txns = []
        for d in range(1, 15):
            when = now - timedelta(days=d, hours=3)
            txns.append(st.term.garbage(card, int((900 + 150 * (d % 5)) * scale), when))
            txns.append(st.term.garbage(card, int(600 * scale) + 40 * d, when + timedelta(hours=1)))
            mats = [Material.PET] * (8 + d % 4) + [Material.ALUMINIUM] * (d % 6)
            txns.append(st.term.recycle(card, mats, when + timedelta(hours=2)))
        st.upload(*txns)

    def job(
        sid: str, kind: str, days: int, hours: float, comp: str | None, kg: float | None
    ) -> WasteJob:
        raised = now - timedelta(days=days)
        return WasteJob(
            station_id=sid,
            compartment=comp,
            kind=kind,
            priority=3 if kind == "full" else 2,
            status="closed",
            raised_at=raised,
            closed_at=raised + timedelta(hours=hours),
            condition_cleared_at=raised + timedelta(hours=hours * 0.8),
            collected_kg=kg,
            params={},
        )

    with live_server.platform.db.session() as s:
        s.add_all(
            [
                job("itrash-rp-a", "full", 3, 2.5, "garbage", 42.0),
                job("itrash-rp-a", "full", 8, 5.0, "garbage", 55.0),
                job("itrash-rp-b", "full", 5, 1.5, "garbage", 30.0),
                job("itrash-rp-b", "full", 10, 3.0, "recycling_pet", 8.0),
                job("itrash-rp-a", "offline", 6, 9.0, None, None),
                job("itrash-rp-a", "fault", 6, 12.0, None, None),  # overlaps the offline
                job("itrash-rp-b", "fault", 2, 4.0, None, None),
            ]
        )
    return live_server


@pytest.mark.browser
def test_reports_page_draws_the_charts(page: Any, seeded: LiveServer, shots: Path) -> None:
    log_in(page, seeded.url, "epb.operator", then="/waste/reports")
    expect_text(page, "h1", "統計報表")
    wait_js(page, "document.querySelectorAll('#rp-tonnage svg rect').length > 10")
    wait_js(page, "document.querySelectorAll('#rp-availability svg .rp-target').length === 1")
    assert page.locator("#rp-money svg rect").count() > 10
    assert page.locator("#rp-service svg rect").count() >= 2
    assert page.locator("#rp-repair svg rect").count() >= 2
    expect_text(page, "#rp-full", "報表甲站")
    href = page.get_attribute("#rp-csv", "href")
    assert href and re.search(r"summary\.csv\?from=\d{4}-\d\d-\d\d&to=", href)
    page.screenshot(path=str(shots / "waste-reports.png"), full_page=True)

    page.select_option("#rp-period", "week")
    wait_js(page, "location.search.includes('period=week')")
    expect_text(page, "#rp-status", ".+")
    page.screenshot(path=str(shots / "waste-reports-week.png"), full_page=True)


def test_reports_page_loads_nothing_from_elsewhere(seeded: LiveServer) -> None:
    with httpx.Client(base_url=seeded.url, timeout=10) as c:
        r = c.post("/api/v1/auth/login", json={"username": "epb.operator", "password": PASSWORD})
        assert r.status_code == 200, r.text
        page = c.get("/waste/reports")
        assert page.status_code == 200
        assert " style=" not in page.text and "<style" not in page.text
        assert re.findall(r"https?://", page.text) == []
        js = c.get("/static/waste/js/reports.js")
        assert js.status_code == 200 and re.findall(r"https?://", js.text) == []
        assert c.get("/static/waste/reports.css").status_code == 200
        csv = c.get(
            "/api/v1/waste/reports/summary.csv", params={"from": "2026-01-01", "to": "2026-01-31"}
        )
        assert csv.status_code == 200 and csv.text.startswith("\ufeffsection,")
