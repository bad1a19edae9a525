"""A city's staff on their first day: the real demo (`onecity demo`, as the README starts it)
opened in a browser by every demo role, in each language, at desktop and phone size.

Each role logs in without a `next`, so it lands where the shell sends it; then it opens every
page its navigation offers. A page fails on a script or console error, a failed request
(an HTTP error or a request that did not complete), a panel still STALE after it loaded, or
text in the other language (tests/e2e/lang_check.py; proper names marked with their own
`lang` are allowed). Anonymous visitors get the public pages the same way."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import PASSWORD
from tests.e2e.lang_check import other_language_text

pytestmark = pytest.mark.browser

# Every demo login (bootstrap.DEMO_USERS) but the utilities' staff after the first: they have
# the contractor's role and department, so the same navigation (their landing is checked).
ROLES = (
    "admin",
    "epb.operator",
    "epb.crew",
    "police.officer",
    "police.supervisor",
    "fire.dispatcher",
    "pwd.operator",
    "pwd.contractor",
    "twc.staff",
    "edu.guard",
    "citizen",
)
SAME_AS_CONTRACTOR = ("taipower.staff", "cht.staff", "gas.staff", "sewer.staff")
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
LIVE_WAIT_MS = 20_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`onecity demo` in a folder of its own (its var/), small, on a free port."""
    folder = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONECITY_")}
    log = (folder / "demo.log").open("w")
    cmd = [str(Path(sys.executable).parent / "onecity"), "demo", "--port", str(port)]
    cmd += ["--youbike", "20", "--bins", "20", "--rate", "5"]
    proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the demo stopped: {(folder / 'demo.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the demo did not start in 240 s")
            time.sleep(1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Any:
    """The session's Chromium (tests/e2e/conftest.py): one Playwright per test process."""
    return chromium


class Watch:
    """What went wrong on a page since the last `take`."""

    def __init__(self, page: Any, base: str) -> None:
        self.problems: list[str] = []
        self.base = base
        page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("requestfailed", self._failed)

    def _console(self, m: Any) -> None:
        if m.type == "error" and "Failed to load resource" not in m.text:
            self.problems.append(f"console error: {m.text}")

    def _response(self, r: Any) -> None:
        if r.status >= 400:
            self.problems.append(f"HTTP {r.status}: {r.request.method} {r.url}")

    def _failed(self, r: Any) -> None:
        # Leaving a page cuts its open requests (the live stream, a tile): not a failure.
        if "ERR_ABORTED" not in (r.failure or ""):
            self.problems.append(f"request failed ({r.failure}): {r.url}")
        if not r.url.startswith((self.base, "data:", "blob:")):
            self.problems.append(f"request to another site: {r.url}")

    def take(self) -> list[str]:
        got, self.problems = self.problems, []
        return got


def _offered(page: Any) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all(
        "#nav a[href]", "as => as.map(a => a.getAttribute('href'))"
    )
    return hrefs


def _check(page: Any, watch: Watch, where: str) -> list[str]:
    """Wait for the page's panels to go live, then collect what is wrong with it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('[data-fresh]'))"
            ".filter(e => e.checkVisibility())"
            ".every(e => e.dataset.state === 'live')",
            timeout=LIVE_WAIT_MS,
        )
    except PlaywrightTimeout:  # report which panels
        stale = page.eval_on_selector_all(
            "[data-fresh]:not([data-state=live])",
            "es => es.filter(e => e.checkVisibility()).map(e => e.dataset.fresh)",
        )
        watch.problems.append(f"STALE after {LIVE_WAIT_MS} ms: {stale}")
    page.wait_for_timeout(300)  # a request answered after the panels went live
    problems = watch.take()
    problems += [f"other language: {f}" for f in other_language_text(page)]
    return [f"{where}: {p}" for p in problems]


def _visit_all(browser: Any, base: str, lang: str, user: str | None) -> list[str]:
    ctx = browser.new_context(locale=lang, timezone_id="Asia/Taipei")
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    watch = Watch(page, base)
    found: list[str] = []
    try:
        page.goto(f"{base}/lang/{lang}?next=/login")
        if user is None:
            page.goto(f"{base}/")
            landing = page.url
        else:
            page.fill("#username", user)
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(lambda u: "/login" not in u)
            landing = page.url
        watch.take()  # the login page's own requests
        paths = [re.sub(r"^https?://[^/]+", "", landing), *_offered(page)]
        if user is not None:
            assert len(paths) > 1, f"{user} lands on {landing} with nothing in the navigation"
        for path in dict.fromkeys(paths):
            for size, (w, h) in SIZES.items():
                page.set_viewport_size({"width": w, "height": h})
                page.goto(f"{base}{path}")
                found += _check(page, watch, f"{user or 'anonymous'} {lang} {size} {path}")
    finally:
        ctx.close()
    return found


# Some 150 page loads a language, each waiting for its panels to go live.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("lang", ["zh-TW", "en"])
def test_every_role_lands_and_opens_every_offered_page(demo: str, browser: Any, lang: str) -> None:
    problems: list[str] = []
    for user in (*ROLES, None):
        problems += _visit_all(browser, demo, lang, user)
    assert problems == [], "\n".join(problems)


def test_utility_staff_land_on_their_permits(demo: str) -> None:
    """The utilities' staff share the contractor's role: each lands on its own permits."""
    for user in SAME_AS_CONTRACTOR:
        with httpx.Client(base_url=demo, timeout=10) as c:
            r = c.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            landing = c.get("/")
            assert landing.status_code == 303
            assert landing.headers["location"] == "/roadworks/my-permits"
            assert c.get(landing.headers["location"]).status_code == 200


def _screens(browser: Any, base: str, out: Path) -> None:
    """The overview and a contractor's landing page for docs/ (run by hand:
    ONECITY_DOC_SHOTS=1)."""
    for user, name in (("admin", "overview-admin"), ("pwd.contractor", "contractor-landing")):
        ctx = browser.new_context(locale="zh-TW", viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        page.goto(f"{base}/login")
        page.fill("#username", user)
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(lambda u: "/login" not in u)
        page.wait_for_timeout(4000)
        page.screenshot(path=str(out / f"{name}.png"), full_page=False)
        ctx.close()


@pytest.mark.skipif(not os.environ.get("ONECITY_DOC_SHOTS"), reason="docs screenshots on request")
def test_doc_screenshots(demo: str, browser: Any) -> None:
    out = Path(__file__).parents[2] / "docs" / "screenshots"
    _screens(browser, demo, out)
    assert (out / "contractor-landing.png").stat().st_size > 10_000
