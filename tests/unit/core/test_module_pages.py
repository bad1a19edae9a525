"""Module pages in the web shell, without a database: a module's template extends the shell's
base, its strings join the catalogs, its pages are guarded (login, permission, the module's
own check) and listed in the header for those who may open them, and mistakes in a module's
page list stop the start-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from onecity.core.auth.permissions import Perm, Principal, Role
from onecity.core.errors import Unauthenticated
from onecity.core.geo import CityProfile
from onecity.core.http import SESSION_COOKIE
from onecity.core.modules import Module, Page
from onecity.settings import Settings
from onecity.web import lang, pages

USERS = {
    "t-citizen": Principal(1, "cit", Role.CITIZEN, None),
    "t-operator": Principal(2, "op", Role.OPERATOR, "epb"),
    "t-police": Principal(3, "cop", Role.SUPERVISOR, "police"),
}


class _Auth:
    def authenticate(self, token: str) -> Principal:
        if token not in USERS:
            raise Unauthenticated("no such session", code="bad_token")
        return USERS[token]


def _platform() -> SimpleNamespace:
    return SimpleNamespace(
        city=CityProfile.load("taipei"),
        settings=Settings(environment="test", database_url="sqlite://"),
        auth=_Auth(),
    )


@pytest.fixture(autouse=True)
def _catalogs() -> Iterator[None]:
    """Module catalogs are process-wide: leave them as this test found them."""
    before = dict(lang._module_folders)
    yield
    lang._module_folders.clear()
    lang._module_folders.update(before)
    lang.catalog.cache_clear()


def _module_files(root: Path, name: str = "fake") -> dict[str, Path]:
    tpl = root / "templates" / name
    tpl.mkdir(parents=True)
    (tpl / "list.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1 id="h">{{ t(\''
        + name
        + '.list.title\') }}</h1><p id="item">{{ config.page.item_id }}</p>{% endblock %}',
        "utf-8",
    )
    strings = root / "i18n"
    strings.mkdir()
    for code, words in {
        "en": ("Things", "Thing", "Not yours"),
        "zh-TW": ("物品", "物品", "非您的"),
    }.items():
        (strings / f"{code}.json").write_text(
            json.dumps(
                {
                    f"{name}.list.title": words[0],
                    f"{name}.nav": words[0],
                    f"{name}.item.title": words[1],
                    f"{name}.refused": words[2],
                },
                ensure_ascii=False,
            ),
            "utf-8",
        )
    return {"templates": root / "templates", "i18n": strings}


def _epb_only(who: Principal, _p: object) -> bool:
    return who.sees_department("epb")


def _module(root: Path, *pages_: Page, name: str = "fake") -> Module:
    files = _module_files(root, name)
    return Module(name=name, pages=pages_, templates=files["templates"], i18n=files["i18n"])


def _app(*modules: Module) -> FastAPI:
    app = FastAPI()
    app.state.platform = _platform()
    app.include_router(pages.router)
    pages.install(app, modules)
    return app


PAGES = (
    Page(
        "/fake/list",
        "fake/list.html",
        "fake.list.title",
        nav="fake.nav",
        permission=Perm.WASTE_READ.value,
        check=_epb_only,
        refused="fake.refused",
    ),
    Page("/fake/items/{item_id}", "fake/list.html", "fake.item.title", permission="cards:own"),
    Page("/fake/open", "fake/list.html", "fake.list.title", public=True),
)


def _client(app: FastAPI, token: str | None) -> TestClient:
    c = TestClient(app, base_url="http://testserver")
    if token:
        c.cookies.set(SESSION_COOKIE, token)
    return c


def test_a_module_page_renders_in_the_shell_with_its_strings(tmp_path: Path) -> None:
    app = _app(_module(tmp_path, *PAGES))
    r = _client(app, "t-operator").get("/fake/list")
    assert r.status_code == 200
    assert '<h1 id="h">物品</h1>' in r.text  # the city's default language
    assert "<title>物品 · 臺北市 · OneCity</title>" in r.text
    assert '<a href="/fake/list" aria-current="page">物品</a>' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    config = json.loads(r.text.split('id="oc-config">')[1].split("</script>")[0])
    assert config["messages"]["fake.nav"] == "物品"
    assert "waste:read" in config["page"]["can"] and config["page"]["module"] == "fake"


def test_path_parameters_reach_the_page(tmp_path: Path) -> None:
    app = _app(_module(tmp_path, *PAGES))
    r = _client(app, "t-citizen").get("/fake/items/A-1")
    assert r.status_code == 200 and '<p id="item">A-1</p>' in r.text


def test_refusals_are_pages_that_say_why(tmp_path: Path) -> None:
    app = _app(_module(tmp_path, *PAGES))
    lacking = _client(app, "t-citizen").get("/fake/list")
    assert lacking.status_code == 403
    assert "waste:read" in lacking.text
    assert 'id="forbidden-home"' not in lacking.text  # nothing listed they may open
    assert "您的角色沒有可用的儀表板頁面" in lacking.text
    assert 'href="/fake/items' not in lacking.text  # a page with a parameter is never a link
    scoped = _client(app, "t-police").get("/fake/list")
    assert scoped.status_code == 403 and "非您的" in scoped.text
    assert 'id="forbidden-home" href="/dashboard"' in scoped.text
    assert 'href="/fake/list"' not in scoped.text  # no link to a page they cannot use


def test_login_first_except_for_public_pages(tmp_path: Path) -> None:
    app = _app(_module(tmp_path, *PAGES))
    anon = _client(app, None)
    r = anon.get("/fake/list", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Ffake%2Flist&reason=not_logged_in"
    assert anon.get("/fake/open").status_code == 200
    assert _client(app, "gone").get("/fake/open").status_code == 200


def test_the_map_sends_a_citizen_to_their_page(tmp_path: Path) -> None:
    app = _app(
        _module(
            tmp_path,
            *PAGES,
            Page(
                "/fake/mine",
                "fake/list.html",
                "fake.list.title",
                nav="fake.nav",
                permission="cards:own",
            ),
        )
    )
    r = _client(app, "t-citizen").get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/fake/mine"
    # Without any page for them: a refusal, not a map full of errors.
    bare = _app()
    r = _client(bare, "t-citizen").get("/dashboard")
    assert r.status_code == 403 and "devices:read" in r.text


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (Page("/other/x", "fake/list.html", "fake.list.title"), "live under /fake/"),
        (Page("/fake/x", "list.html", "fake.list.title"), "under 'fake/'"),
        (Page("/fake/x", "fake/none.html", "fake.list.title"), "no template"),
        (Page("/fake/x", "fake/list.html", "fake.list.title", permission="no:such"), "unknown"),
        (Page("/fake/x", "fake/list.html", "fake.no.such.key"), "no string"),
    ],
)
def test_mistakes_stop_the_start_up(tmp_path: Path, page: Page, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _app(_module(tmp_path, page))


def test_a_module_may_not_redefine_a_string(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "en.json").write_text(json.dumps({"nav.map": "Mine now"}), "utf-8")
    with pytest.raises(ValueError, match=r"redefines strings of web: nav\.map"):
        lang.add_catalogs("bad", folder)
    assert lang.catalog("en")["nav.map"] == "Map"  # nothing changed
    assert "bad" not in lang._module_folders
