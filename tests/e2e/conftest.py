"""A real OneCity server on a free port (uvicorn in a thread, its own SQLite file, the demo
city seeded, the waste module enabled) and, for tests marked `browser`, Debian's Chromium
driven by Playwright, with the helpers the browser tests share."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from onecity.app import create_app
from onecity.bootstrap import migrate, seed_demo
from onecity.core.db import utcnow
from onecity.core.models import AuthSession, Device, User
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.settings import Settings
from tests.conftest import serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "onecity-demo"
WAIT_MS = 15_000


@dataclass
class LiveServer:
    url: str
    platform: Platform
    keys: dict[str, str]
    seqs: dict[str, int]

    def post_telemetry(
        self, device_id: str, values: dict[str, float], *, ago_s: float = 0.0, skip: int = 0
    ) -> dict[str, Any]:
        """One message from a device, with its key and the next sequence number (or `skip`
        numbers further on, as if messages were lost on the way)."""
        seq = self.seqs.get(device_id, 0) + 1 + skip
        self.seqs[device_id] = seq
        ts = int((time.time() - ago_s) * 1000)
        r = httpx.post(
            f"{self.url}/api/v1/telemetry",
            headers={"X-Device-Key": self.keys[device_id]},
            json={"messages": [{"seq": seq, "ts": ts, "values": values}]},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def age_sessions(self, username: str, minutes: float) -> None:
        """Make the user's sessions look idle for `minutes` (as if nobody touched them)."""
        past = utcnow() - timedelta(minutes=minutes)
        with self.platform.db.session() as s:
            uid = s.execute(select(User.id).where(User.username == username)).scalar_one()
            s.execute(
                update(AuthSession).where(AuthSession.user_id == uid).values(last_seen_at=past)
            )

    def miss_heartbeat(self, device_id: str) -> None:
        """Move the device's heartbeat deadline into the past; the liveness loop (every 5 s)
        then declares it offline, as if it had gone quiet."""
        with self.platform.db.session() as s:
            s.execute(
                update(Device)
                .where(Device.id == device_id)
                .values(offline_after=utcnow() - timedelta(seconds=1))
            )

    def token(self, username: str) -> str:
        r = httpx.post(
            f"{self.url}/api/v1/auth/login",
            json={"username": username, "password": PASSWORD},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token

    def bins(self) -> list[str]:
        return sorted(k for k in self.keys if not k.startswith("ybk-"))

    def docks(self) -> list[str]:
        return sorted(k for k in self.keys if k.startswith("ybk-"))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{folder / 'onecity.db'}"
    migrate(url)
    settings = Settings(
        environment="test",
        database_url=url,
        totp_required_roles="",
        run_workers=True,
        modules="waste",
    )
    platform = start_platform(settings)
    keys_file = folder / "keys.json"
    seed_demo(platform, keys_file, youbike=40, bins=40)
    keys: dict[str, str] = json.loads(keys_file.read_text())
    with serving(create_app(settings, platform)) as base:
        yield LiveServer(base, platform, keys, {})
    platform.db.dispose()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian chromium is not installed at /usr/bin/chromium "
            "(`make browser` or `make test` installs it)"
        )
    if shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"{CHROMIUM} is not executable")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(exist_ok=True)
    return SHOTS


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context(
        viewport={"width": 1400, "height": 900}, locale="zh-TW", timezone_id="Asia/Taipei"
    )
    ctx.set_default_timeout(WAIT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(browser_context: Any, live_server: LiveServer) -> Iterator[Any]:
    """A page that records every request, script error and CSP violation, and fails the test
    on a request to another site, an uncaught error or anything the CSP had to block."""
    pg = browser_context.new_page()
    outside: list[str] = []
    errors: list[str] = []
    pg.on(
        "request",
        lambda r: None if r.url.startswith((live_server.url, "data:")) else outside.append(r.url),
    )
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield pg
    assert outside == [], f"requests to other sites: {outside}"
    assert errors == [], f"script errors: {errors}"


def expect_text(pg: Any, selector: str, pattern: str) -> None:
    from playwright.sync_api import expect

    expect(pg.locator(selector)).to_have_text(re.compile(pattern, re.S), timeout=WAIT_MS)


def wait_js(pg: Any, predicate: str) -> None:
    # A function (not a bare expression), so the page's CSP need not allow eval.
    pg.wait_for_function(f"() => {predicate}", timeout=WAIT_MS)


def log_in(pg: Any, base: str, username: str = "admin", then: str = "/dashboard") -> None:
    pg.goto(f"{base}{then}")
    pg.wait_for_url(re.compile(r"/login\?"))
    pg.fill("#username", username)
    pg.fill("#password", PASSWORD)
    pg.click("#login-submit")
    pg.wait_for_url(re.compile(re.escape(then) + "$"))


def wait_live(pg: Any, name: str) -> None:
    wait_js(
        pg,
        f"Array.from(document.querySelectorAll('[data-fresh=\"{name}\"]'))"
        ".every(e => e.dataset.state === 'live')",
    )


def add_station(
    live: LiveServer, admin: dict[str, str], sid: str, name: str, lon: float, lat: float
) -> None:
    """A waste station on the live server, with its device key kept in `live.keys`."""
    r = httpx.post(
        f"{live.url}/api/v1/devices",
        headers=admin,
        timeout=10,
        json={
            "id": sid,
            "name": name,
            "type": "waste_station",
            "department": "epb",
            "location": {"type": "Point", "coordinates": [lon, lat]},
        },
    )
    assert r.status_code == 201, r.text
    k = httpx.post(f"{live.url}/api/v1/devices/{sid}/keys", headers=admin, json={}, timeout=10)
    assert k.status_code == 201, k.text
    live.keys[sid] = k.json()["key"]


def watched_page(ctx: Any, live: LiveServer) -> tuple[Any, list[str]]:
    """A page that collects requests to other sites, script errors and CSP violations."""
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on(
        "request",
        lambda r: (
            None if r.url.startswith((live.url, "data:")) else problems.append("outside: " + r.url)
        ),
    )
    pg.on("pageerror", lambda e: problems.append(f"error: {e}"))
    pg.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return pg, problems
