"""The city overview's API with iTrash and road works on: each role gets the cards it may see
(a contractor no staff card, the public only public ones), the figures follow what the
stations report, the downloads hold the history and the map layer, and a bad or forbidden card
id is a 4xx."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from onecity.core.db import utcnow
from onecity.core.platform import Platform
from onecity.settings import Settings
from onecity.waste.kiosk.cards import SimulatedEasyCard
from tests.conftest import add_user, login, make_settings
from tests.integration.waste.helpers import Terminal, add_station, issue

PUBLIC = {"waste.stations", "waste.fill", "waste.tonnage", "roadworks.active", "roadworks.cameras"}
STAFF_ONLY = {"waste.jobs", "roadworks.pending"}


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, modules="waste,roadworks")


def _ids(body: dict[str, Any]) -> set[str]:
    return {c["id"] for c in body["cards"]}


def _card(client: TestClient, path: str, who: dict[str, str] | None = None) -> dict[str, Any]:
    r = client.get(path, headers=who or {})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _figures(card: dict[str, Any]) -> dict[str, Any]:
    return {f["key"]: f["value"] for f in card["figures"]}


def _telemetry(client: TestClient, key: dict[str, str], seq: int, values: dict[str, float]) -> None:
    msg = {"seq": seq, "ts": int(time.time() * 1000), "values": values}
    r = client.post("/api/v1/telemetry", headers=key, json={"messages": [msg]})
    assert r.status_code == 200, r.text


def test_each_role_sees_the_cards_it_may(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    add_user(platform, "epb.op", "operator", "epb")
    add_user(platform, "pwd.op", "operator", "pwd")
    add_user(platform, "builder", "contractor", "pwd")
    add_user(platform, "someone", "citizen", None)

    assert _ids(_card(client, "/api/v1/overview", admin)) == PUBLIC | STAFF_ONLY
    # Each department's staff see their own department's staff card, not the other's.
    assert _ids(_card(client, "/api/v1/overview", login(client, "epb.op"))) == PUBLIC | {
        "waste.jobs"
    }
    assert _ids(_card(client, "/api/v1/overview", login(client, "pwd.op"))) == PUBLIC | {
        "roadworks.pending"
    }
    contractor = login(client, "builder")
    assert _ids(_card(client, "/api/v1/overview", contractor)) == PUBLIC
    assert _ids(_card(client, "/api/v1/overview", login(client, "someone"))) == PUBLIC
    # Without a login: the public cards only, and the staff list asks who you are.
    client.cookies.clear()
    assert _ids(_card(client, "/api/v1/overview/public")) == PUBLIC
    assert client.get("/api/v1/overview").status_code == 401

    # A staff-only card is refused to a contractor and not there for the public.
    r = client.get("/api/v1/overview/cards/roadworks.pending", headers=contractor)
    client.cookies.clear()
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    for path in ("", "/history", "/history.csv"):
        r = client.get(f"/api/v1/overview/public/cards/roadworks.pending{path}")
        assert r.status_code == 404, path
    assert client.get("/api/v1/overview/cards/waste.jobs/history.csv").status_code == 401


def test_unknown_and_malformed_card_ids_are_4xx(client: TestClient, admin: dict[str, str]) -> None:
    r = client.get("/api/v1/overview/cards/waste.nope", headers=admin)
    assert r.status_code == 404 and r.json()["field"] == "card_id"
    assert client.get("/api/v1/overview/public/cards/waste.nope/history").status_code == 404
    assert client.get("/api/v1/overview/cards/WASTE%20x", headers=admin).status_code == 422
    # A card without a map layer has no GeoJSON to download.
    r = client.get("/api/v1/overview/public/cards/waste.tonnage/map.geojson")
    assert r.status_code == 404


def test_figures_follow_the_stations_and_the_downloads_hold_them(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    key = add_station(client, admin, "IT-OV1")
    other = add_station(client, admin, "IT-OV2")
    _telemetry(client, key, 1, {"garbage.fill": 0.9, "recycling_pet.fill": 0.2})
    _telemetry(client, other, 1, {"garbage.fill": 0.3})
    card = SimulatedEasyCard("EC-OV01", balance=500)
    issue(platform, card)
    term = Terminal("IT-OV1")
    now = utcnow()
    up = [term.garbage(card, 1500, now), term.garbage(card, 500, now)]
    r = client.post("/api/v1/waste/terminal/transactions", headers=key, json={"transactions": up})
    assert r.status_code == 200, r.text

    stations = _card(client, "/api/v1/overview/public/cards/waste.stations")
    assert _figures(stations) == {"online": 2, "out_of_order": 0, "offline": 0, "total": 2}
    assert stations["freshness"]["stale"] is False
    fill = _card(client, "/api/v1/overview/public/cards/waste.fill")
    assert _figures(fill) == {"mean_fill": pytest.approx(0.6), "full": 1}
    assert fill["chart"]["series"][0]["points"][0] == ["iTrash IT-OV1", 0.9]
    tonnage = _card(client, "/api/v1/overview/public/cards/waste.tonnage")
    assert _figures(tonnage)["garbage_kg"] == pytest.approx(2.0)
    # The station's 90 % raised a crew job: the staff card counts it.
    jobs = _card(client, "/api/v1/overview/cards/waste.jobs", admin)
    assert _figures(jobs)["open"] >= 1

    r = client.get("/api/v1/overview/public/cards/waste.tonnage/history.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 30 and float(rows[-1]["garbage_kg"]) == pytest.approx(2.0)

    r = client.get("/api/v1/overview/public/cards/waste.fill/history.csv")
    got = {row["station"]: row for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))}
    assert float(got["iTrash IT-OV1"]["garbage"]) == pytest.approx(0.9)
    assert got["iTrash IT-OV2"]["recycling_pet"] == ""

    r = client.get("/api/v1/overview/public/cards/waste.stations/map.geojson?download=1")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert "attachment" in r.headers["content-disposition"]
    features = {f["id"]: f for f in r.json()["features"]}
    assert features["IT-OV1"]["properties"]["state"] == "full"
    assert features["IT-OV1"]["geometry"]["coordinates"] == [121.5645, 25.0375]
    # Only what a passer-by sees: no card, no crew, no key.
    assert "EC-OV01" not in r.text and "crew" not in r.text


def test_a_card_that_cannot_be_read_is_unavailable_not_a_500(
    client: TestClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from onecity.waste import overview as waste_overview

    def broken(p: Platform) -> list[Any]:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(waste_overview, "stations_now", broken)
    body = _card(client, "/api/v1/overview", admin)
    cards = {c["id"]: c for c in body["cards"]}
    assert cards["waste.stations"]["available"] is False
    assert cards["waste.stations"]["freshness"]["stale"] is True
    assert cards["waste.tonnage"]["available"] is True
