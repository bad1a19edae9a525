"""Waste pages are offered in the navigation only to those who can use them: the waste
department's staff and crews and the city-wide roles; another department's operator once saw
the crew jobs page and got "the trucks belong to department 'epb'" from it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from tests.conftest import add_user, login

STAFF = {
    "/waste/transactions",
    "/waste/cards",
    "/waste/blocklist",
    "/waste/settlements",
    "/waste/reports",
    "/waste/simulation",
    "/waste/planner",
}
PUBLIC = {"/waste/tariffs", "/waste/stations"}


def offered(client: TestClient, username: str | None) -> set[str]:
    """The waste links in the header of a page, for `username` signed in (the pages read the
    session cookie the login sets), or for nobody."""
    client.cookies.clear()
    if username is not None:
        login(client, username)
    html = client.get("/waste/stations").text
    return set(re.findall(r'href="(/waste/[a-z-]+)"', html))


def test_each_role_is_offered_the_waste_pages_it_can_use(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    add_user(platform, "epb.op", "operator", "epb")
    add_user(platform, "epb.crew1", "crew", "epb")
    add_user(platform, "pwd.op", "operator", "pwd")
    add_user(platform, "resident", "citizen", None)

    assert STAFF | {"/waste/jobs"} | PUBLIC <= offered(client, "epb.op")
    assert STAFF | {"/waste/jobs"} | PUBLIC <= offered(client, "root.admin")
    assert "/waste/jobs" in offered(client, "epb.crew1")
    # another department's operator: the public pages only, and a clear refusal if it tries
    assert offered(client, "pwd.op") & (STAFF | {"/waste/jobs", "/waste/my-cards"}) == set()
    assert client.get("/waste/jobs").status_code == 403
    # a citizen: their own cards and the public pages
    assert offered(client, "resident") == PUBLIC | {"/waste/my-cards"}
    # nobody signed in: the public pages open, and no staff page is offered
    assert offered(client, None) <= PUBLIC
    assert client.get("/waste/stations").status_code == 200
