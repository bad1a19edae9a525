"""What the road works browser tests share: a real server with only the roadworks module on
(its own SQLite file, reference data, RPIC's operator and each organisation's staff, the
organisations registered over the API as RPIC would), browser contexts for a desktop and a
phone, and screenshots. Each test file builds its own scenario on top."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from onecity.app import create_app
from onecity.bootstrap import migrate, seed_reference
from onecity.core.auth.secrets import hash_password
from onecity.core.models import User
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.settings import Settings
from tests.conftest import serving

from .conftest import PASSWORD, WAIT_MS, LiveServer

API = "/api/v1/roadworks"
PHONE = {"width": 390, "height": 844}
OPERATOR = "rpic.op"

# An organisation: code, name_zh, name_en, kind, utility_kind, its one staff member.
Org = tuple[str, str, str, str, str | None, str]
TWC: Org = ("twc", "臺北自來水事業處", "Taipei Water", "utility", "water", "twc.staff")
TAIPOWER: Org = ("taipower", "台灣電力公司", "Taipower", "utility", "power", "tp.staff")
GAS: Org = ("gas", "大台北瓦斯", "Great Taipei Gas", "utility", "gas", "gas.staff")
BUILDER: Org = ("builder", "大陸工程", "Builder Co", "contractor", None, "builder.staff")
DIGCO: Org = ("digco", "快挖營造", "DigCo", "contractor", None, "dig.staff")
CITY_ORGS = (TWC, TAIPOWER, BUILDER)


@dataclass
class RoadCity:
    """The running server and every user's Authorization header."""

    live: LiveServer
    heads: dict[str, dict[str, str]]

    @property
    def url(self) -> str:
        return self.live.url

    @property
    def platform(self) -> Platform:
        return self.live.platform

    def call(self, who: str, path: str, body: dict[str, Any], method: str = "POST") -> Any:
        """One roadworks API call as `who` that must succeed; its JSON body."""
        r = httpx.request(
            method, f"{self.url}{API}{path}", json=body, headers=self.heads[who], timeout=20
        )
        assert r.status_code in (200, 201), r.text
        return r.json()


def add_users(p: Platform, roles: dict[str, tuple[str, str | None]]) -> None:
    """Logins (username -> role, department) with the e2e password, which the browser
    helpers log in with (tests.conftest.add_user sets another)."""
    hashed = hash_password(PASSWORD)
    with p.db.session() as s:
        s.add_all(
            User(
                username=name,
                display_name=name,
                password_hash=hashed,
                role=role,
                department_code=department,
            )
            for name, (role, department) in roles.items()
        )


@contextmanager
def roadworks_server(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    orgs: tuple[Org, ...] = CITY_ORGS,
    staff_department: str | None = None,
) -> Iterator[RoadCity]:
    """A server with RPIC's operator (department pwd) and `orgs` registered, each with its
    staff member (a contractor login in `staff_department`)."""
    db_file = tmp_path_factory.mktemp(name) / "onecity.db"
    migrate(f"sqlite:///{db_file}")
    # Workers off: the deemed-grant loop must not act while a test moves the clock.
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{db_file}",
        totp_required_roles="",
        run_workers=False,
        modules="roadworks",
    )
    platform = start_platform(settings)
    seed_reference(platform)
    roles: dict[str, tuple[str, str | None]] = {OPERATOR: ("operator", "pwd")}
    roles |= {org[5]: ("contractor", staff_department) for org in orgs}
    add_users(platform, roles)
    try:
        with serving(create_app(settings, platform)) as base:
            live = LiveServer(base, platform, {}, {})
            city = RoadCity(live, {n: {"Authorization": f"Bearer {live.token(n)}"} for n in roles})
            for code, zh, en, kind, utility, member in orgs:
                body: dict[str, Any] = {"code": code, "name_zh": zh, "name_en": en, "kind": kind}
                body |= {"utility_kind": utility, "members": [member]}
                city.call(OPERATOR, "/orgs", body)
            yield city
    finally:
        platform.db.dispose()


def context(
    chromium: Any,
    phone: bool = False,
    locale: str = "zh-TW",
    *,
    width: int = 1400,
    timeout_ms: int = WAIT_MS,
    **extra: Any,
) -> Any:
    """A browser context in Taipei's time zone: a desktop `width` wide, or (`phone`) a touch
    phone 390 wide; `extra` options go to Playwright as they are."""
    opts: dict[str, Any] = {"locale": locale, "timezone_id": "Asia/Taipei"}
    if phone:
        opts.update(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    else:
        opts.update(viewport={"width": width, "height": 900})
    ctx = chromium.new_context(**(opts | extra))
    ctx.set_default_timeout(timeout_ms)
    return ctx


def screenshot(folder: Path, pg: Any, name: str) -> None:
    """The whole page as it is, once Leaflet has finished drawing."""
    folder.mkdir(parents=True, exist_ok=True)
    pg.wait_for_timeout(400)  # let Leaflet finish drawing
    pg.screenshot(path=str(folder / name), full_page=True)


def screenshots(folder: Path, pg: Any, name: str) -> None:
    """The page as a desktop (1280 wide) and as a phone (390 wide) shows it; the page is left
    1280 wide."""
    folder.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", (1280, 900)), ("phone", (390, 844))):
        pg.set_viewport_size({"width": size[0], "height": size[1]})
        pg.wait_for_timeout(400)  # Leaflet redraws after a resize
        pg.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
    pg.set_viewport_size({"width": 1280, "height": 900})
