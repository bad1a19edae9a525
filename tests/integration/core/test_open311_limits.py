"""Open311 limits, on both databases: a client (its address, an IPv6 client by its /64, its
device id, its account) may file a few reports per ten minutes and per day, and store a bounded
number of photo bytes a day; the city stores a bounded number of photo bytes a day. Past a
limit the answer is 429 with Retry-After in the spec's error format, and nothing is stored.
The counters are in the database, so every API process shares them.

Before: 50 anonymous reports with 800 kB photos in a burst were all stored (40 MB)."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from onecity.app import create_app
from onecity.bootstrap import seed_reference
from onecity.core.models import Media, Open311Request, Open311Usage
from onecity.core.modules import Module, start_platform
from onecity.core.open311 import Open311Service
from onecity.core.platform import Platform
from tests.conftest import add_user, login, make_settings

POTHOLE = Open311Service(
    service_code="test.pothole",
    service_name={"zh-TW": "路面坑洞", "en": "Pothole"},
    department_code="pwd",
)
PHOTO_BYTES = 800_000


def photo() -> bytes:
    """A distinct 800 kB 'PNG' each time (the store keeps one copy of identical photos)."""
    return b"\x89PNG\r\n\x1a\n" + os.urandom(PHOTO_BYTES - 8)


@pytest.fixture
def make_city(db_url: str) -> Iterator[Any]:
    sys.modules["onecity.fake311limits.module"] = m = types.ModuleType(
        "onecity.fake311limits.module"
    )
    m.MODULE = Module("fake311limits", open311_services=(POTHOLE,))  # type: ignore[attr-defined]
    made: list[Platform] = []

    def make(**limits: Any) -> Platform:
        p = start_platform(make_settings(db_url, modules="fake311limits", **limits))
        if not made:
            seed_reference(p)
        made.append(p)
        return p

    try:
        yield make
    finally:
        sys.modules.pop("onecity.fake311limits.module", None)
        for p in made:
            p.db.dispose()


def client(p: Platform, ip: str = "203.0.113.7") -> TestClient:
    return TestClient(create_app(p.settings, p), client=(ip, 50000))


def file(c: TestClient, with_photo: bool = True, **extra: str) -> Any:
    form = {"service_code": "test.pothole", "lat": "25.0375", "long": "121.5645", **extra}
    files = {"media": ("p.png", photo(), "image/png")} if with_photo else None
    return c.post("/open311/v2/requests.json", data=form, files=files)


def stored(p: Platform) -> tuple[int, int]:
    with p.db.read() as s:
        n = s.execute(select(func.count()).select_from(Open311Request)).scalar_one()
        b = s.execute(select(func.coalesce(func.sum(Media.size), 0))).scalar_one()
    return int(n), int(b)


def assert_refused(r: Any, limit: int) -> None:
    assert r.status_code == 429, r.text
    (err,) = r.json()
    assert err["code"] == 429 and "try again" in err["description"]
    assert 0 < int(r.headers["retry-after"]) <= limit


def test_a_burst_of_reports_with_photos_is_mostly_refused(make_city: Any) -> None:
    p = make_city()  # the shipped defaults: 5 per 10 minutes
    with client(p) as c:
        answers = [file(c) for _ in range(50)]
    codes = [r.status_code for r in answers]
    assert codes == [201] * 5 + [429] * 45
    for r in answers[5:]:
        assert_refused(r, 600)
    assert stored(p) == (5, 5 * PHOTO_BYTES)  # nothing of the 45 refused ones


def test_a_client_past_its_limit_is_refused_before_its_report_is_read(make_city: Any) -> None:
    p = make_city(open311_reports_per_window=1)
    with client(p) as c:
        assert file(c, with_photo=False).status_code == 201
        junk = c.post(
            "/open311/v2/requests.json", content=b"x" * 1000, headers={"content-type": "text/plain"}
        )
    assert_refused(junk, 600)  # not 415: the body was never looked at


def test_a_day_limit(make_city: Any) -> None:
    p = make_city(open311_reports_per_window=100, open311_reports_per_day=3)
    with client(p) as c:
        assert [file(c, with_photo=False).status_code for _ in range(3)] == [201] * 3
        assert_refused(file(c, with_photo=False), 24 * 3600)
    assert stored(p) == (3, 0)


def test_photo_bytes_per_client_and_city(make_city: Any) -> None:
    p = make_city(
        open311_reports_per_window=100,
        open311_media_mb_per_client_day=2,
        open311_media_mb_per_day=3,
    )
    with client(p) as one, client(p, "198.51.100.9") as two:
        assert [file(one).status_code for _ in range(2)] == [201, 201]
        assert_refused(file(one), 24 * 3600)  # a third 800 kB photo passes 2 MB
        assert file(one, with_photo=False).status_code == 201  # words are still welcome
        assert file(two).status_code == 201  # 2.4 MB city-wide
        assert_refused(file(two), 24 * 3600)  # 3.2 MB would pass the city's 3 MB
    assert stored(p) == (4, 3 * PHOTO_BYTES)


def test_a_client_is_its_device_its_account_and_its_ipv6_network(make_city: Any) -> None:
    p = make_city(open311_reports_per_window=2)
    add_user(p, "citizen.one", "citizen", None)
    with client(p, "2001:db8:1:2::10") as a, client(p, "2001:db8:1:2::99") as b:
        assert file(a, with_photo=False).status_code == 201
        assert file(b, with_photo=False).status_code == 201
        assert_refused(file(a, with_photo=False), 600)  # the same /64
    with client(p, "192.0.2.1") as a, client(p, "192.0.2.2") as b:
        assert file(a, with_photo=False, device_id="phone-7").status_code == 201
        assert file(b, with_photo=False, device_id="phone-7").status_code == 201
        assert_refused(file(b, with_photo=False, device_id="phone-7"), 600)
    with client(p, "192.0.2.3") as a, client(p, "192.0.2.4") as b:
        who = login(a, "citizen.one")
        form = {"service_code": "test.pothole", "address_string": "Xinyi Rd. 1"}
        url = "/open311/v2/requests.json"
        assert a.post(url, data=form, headers=who).status_code == 201
        assert b.post(url, data=form, headers=who).status_code == 201
        assert_refused(b.post(url, data=form, headers=who), 600)
    assert stored(p) == (6, 0)


def test_every_api_process_counts_the_same_reports(make_city: Any) -> None:
    one, two = make_city(), make_city()  # two platforms: two engines, one database
    with client(one) as a, client(two) as b:
        got = [file(c, with_photo=False).status_code for c in (a, b, a, b, a, b)]
    assert got == [201] * 5 + [429]


def test_counters_of_past_periods_are_deleted(make_city: Any) -> None:
    p = make_city()
    old = datetime.now(UTC) - timedelta(days=3)
    with p.db.session() as s:
        s.add(Open311Usage(client="ip:192.0.2.50", period="d2000-01-01", expires_at=old))
    with client(p) as c:
        assert file(c, with_photo=False).status_code == 201
    with p.db.read() as s:
        left = set(s.execute(select(Open311Usage.client, Open311Usage.period)).all())
    assert ("ip:192.0.2.50", "d2000-01-01") not in left
    assert {client for client, _ in left} == {"ip:203.0.113.7"}  # this report's window and day


def test_a_cookie_another_site_made_the_browser_send_does_not_count_on_the_account(
    make_city: Any,
) -> None:
    """A page elsewhere can make a logged-in citizen's browser post reports: they count
    against that browser's address only, never against the citizen's account, so another
    site cannot use up the citizen's reports."""
    p = make_city(open311_reports_per_window=1)
    add_user(p, "citizen.two", "citizen", None)
    form = {"service_code": "test.pothole", "address_string": "Xinyi Rd. 1"}
    url = "/open311/v2/requests.json"
    with client(p, "192.0.2.5") as browser, client(p, "192.0.2.6") as phone:
        login(browser, "citizen.two")  # the session cookie is now in the browser's jar
        assert browser.cookies.get("onecity_session")
        evil = browser.post(url, data=form, headers={"Origin": "https://evil.example"})
        assert evil.status_code == 201, evil.text
        own = phone.post(url, data=form, headers=login(phone, "citizen.two"))
        assert own.status_code == 201, own.text  # the account has its report left
