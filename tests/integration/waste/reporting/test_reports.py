"""iTrash reports and open data on both databases: deposits uploaded by stations over the
station protocol, crew jobs as rows with known times; every figure checked exactly."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from onecity.core import clock
from onecity.core.models import Reading
from onecity.core.platform import Platform
from onecity.waste.jobs.models import WasteJob
from onecity.waste.kiosk.cards import SimulatedEasyCard
from onecity.waste.rules.money import Material
from tests.conftest import add_user, login
from tests.integration.waste.helpers import TPE, Terminal, add_station, at, issue

# Reports count by the city's day: every test here also runs at each of the city times of
# tests/city_clock.py (just after midnight, "two hours ago" is yesterday).
pytestmark = pytest.mark.times_of_day

UP = "/api/v1/waste/terminal/transactions"
SUMMARY = "/api/v1/waste/reports/summary"
RANGE = {"from": "2026-11-02", "to": "2026-11-03"}
PET, AL = Material.PET, Material.ALUMINIUM


def second_station(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """A station in another district (Da'an; the helper's stands in Xinyi)."""
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": "IT-B",
            "name": "iTrash 大安",
            "type": "waste_station",
            "department": "epb",
            "location": {"type": "Point", "coordinates": [121.5435, 25.0268]},
        },
    )
    assert r.status_code == 201, r.text
    k = client.post("/api/v1/devices/IT-B/keys", headers=admin, json={})
    return {"X-Device-Key": k.json()["key"]}


def job(
    station: str, kind: str, raised: str, compartment: str | None = None, **times: Any
) -> WasteJob:
    stamps = {k: at(v) if isinstance(v, str) else v for k, v in times.items()}
    return WasteJob(
        station_id=station,
        compartment=compartment,
        kind=kind,
        priority=3 if kind.startswith("full") else 2,
        status="closed" if stamps.get("closed_at") else "open",
        raised_at=at(raised),
        params={},
        **stamps,
    )


@pytest.fixture
def world(client: TestClient, admin: dict[str, str], platform: Platform) -> dict[str, Any]:
    key_a = add_station(client, admin, "IT-A")
    key_b = second_station(client, admin)
    card = SimulatedEasyCard("EC-4711", balance=500)
    issue(platform, card)
    a, b = Terminal("IT-A"), Terminal("IT-B")
    # 2026 tariff: 1,200 g is 3 started 0.5 kg = NT$33, 800 g NT$22. The 23:30 drop is still
    # the 2nd in Taipei (15:30 UTC): grouping must happen in the city's zone.
    txa = [
        a.garbage(card, 1200, at("2026-11-02T09:00:00")),
        a.garbage(card, 800, at("2026-11-02T23:30:00")),
        # 10 PET (40 points) + 4 cans (20 points): NT$1, 20 points carried.
        a.recycle(card, [PET] * 10 + [AL] * 4, at("2026-11-03T10:00:00")),
        # outside the range: not counted
        a.garbage(card, 500, at("2026-11-04T00:10:00")),
    ]
    assert client.post(UP, headers=key_a, json={"transactions": txa}).status_code == 200
    txb = [b.garbage(card, 300, at("2026-11-03T12:00:00"))]  # NT$11
    assert client.post(UP, headers=key_b, json={"transactions": txb}).status_code == 200
    with platform.db.session() as s:
        s.add_all(
            [
                # offline 10-12 and fault 11-13 overlap: 3 h out of order, not 4
                job("IT-A", "offline", "2026-11-02T10:00:00", closed_at="2026-11-02T12:00:00"),
                job(
                    "IT-A",
                    "fault",
                    "2026-11-02T11:00:00",
                    condition_cleared_at="2026-11-02T13:00:00",
                    closed_at="2026-11-02T15:00:00",
                ),
                job(
                    "IT-A",
                    "full",
                    "2026-11-02T08:00:00",
                    compartment="garbage",
                    closed_at="2026-11-02T10:00:00",
                    collected_kg=35.5,
                ),
                job(
                    "IT-A",
                    "full",
                    "2026-11-03T08:00:00",
                    compartment="garbage",
                    condition_cleared_at="2026-11-03T12:00:00",
                    closed_at="2026-11-03T14:00:00",
                    collected_kg=20.0,
                ),
                # long before the range: in no figure
                job("IT-B", "fire", "2026-10-01T08:00:00", closed_at="2026-10-01T09:00:00"),
            ]
        )
    return {"card": card}


def get(client: TestClient, who: dict[str, str], **params: str) -> dict[str, Any]:
    r = client.get(SUMMARY, headers=who, params={**RANGE, **params})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_tonnage_by_day_station_district_in_taipei_time(
    client: TestClient, admin: dict[str, str], world: Any
) -> None:
    rep = get(client, admin)
    assert rep["periods"] == ["2026-11-02", "2026-11-03"]
    assert rep["item_grams"] == {"pet": 25, "aluminium": 15}
    rows = {(x["period"], x["station_id"]): x for x in rep["tonnage"]["by_station"]}
    assert set(rows) == {("2026-11-02", "IT-A"), ("2026-11-03", "IT-A"), ("2026-11-03", "IT-B")}
    a2, a3 = rows[("2026-11-02", "IT-A")], rows[("2026-11-03", "IT-A")]
    assert (a2["garbage_kg"], a2["garbage_drops"], a2["collected_kg"]) == (2.0, 2, 35.5)
    assert (a3["pet_items"], a3["aluminium_items"]) == (10, 4)
    assert (a3["pet_kg_est"], a3["aluminium_kg_est"], a3["recyclables_kg_est"]) == (
        0.25,
        0.06,
        0.31,
    )
    assert (a3["garbage_kg"], a3["collected_kg"]) == (0.0, 20.0)
    assert rows[("2026-11-03", "IT-B")]["garbage_kg"] == 0.3

    districts = {(x["period"], x["district"]): x for x in rep["tonnage"]["by_district"]}
    names = {s["id"]: s["district"] for s in rep["stations"]}
    assert names["IT-A"] != names["IT-B"]
    assert districts[("2026-11-03", names["IT-B"])]["garbage_kg"] == 0.3
    per = {x["period"]: x for x in rep["tonnage"]["by_period"]}
    assert per["2026-11-03"]["garbage_kg"] == 0.3
    assert per["2026-11-03"]["recyclables_kg_est"] == 0.31

    week = get(client, admin, period="week")
    assert week["periods"] == ["2026-W45"]
    (total,) = week["tonnage"]["by_period"]
    assert (total["garbage_kg"], total["garbage_drops"], total["collected_kg"]) == (2.3, 3, 55.5)
    month = get(client, admin, period="month")
    assert month["periods"] == ["2026-11"]


def test_fees_and_rebates_from_the_ledger(
    client: TestClient, admin: dict[str, str], world: Any
) -> None:
    rep = get(client, admin)
    rows = {(x["period"], x["station_id"]): x for x in rep["money"]["by_station"]}
    assert rows[("2026-11-02", "IT-A")] == {
        "period": "2026-11-02",
        "station_id": "IT-A",
        "fees_ntd": 55,
        "rebates_ntd": 0,
        "net_ntd": 55,
    }
    assert (
        rows[("2026-11-03", "IT-A")]["fees_ntd"],
        rows[("2026-11-03", "IT-A")]["rebates_ntd"],
    ) == (0, 1)
    assert rows[("2026-11-03", "IT-B")]["fees_ntd"] == 11
    per = {x["period"]: x for x in rep["money"]["by_period"]}
    assert (per["2026-11-03"]["fees_ntd"], per["2026-11-03"]["net_ntd"]) == (11, 10)


def test_availability_counts_overlapping_windows_once(
    client: TestClient, admin: dict[str, str], world: Any
) -> None:
    rep = get(client, admin)
    up = {x["station_id"]: x for x in rep["availability"]}
    a = up["IT-A"]
    assert (a["observed_h"], a["out_of_order_h"], a["uptime"]) == (48.0, 3.0, 0.9375)
    assert a["by_period"] == [
        {"period": "2026-11-02", "availability": 0.875},
        {"period": "2026-11-03", "availability": 1.0},
    ]
    assert (up["IT-B"]["uptime"], up["IT-B"]["out_of_order_h"]) == (1.0, 0.0)


def test_time_to_service_repair_and_hours_full(
    client: TestClient, admin: dict[str, str], world: Any
) -> None:
    rep = get(client, admin)
    service = rep["response"]["service"]["overall"]
    # full jobs of 2 h and 6 h against the 4 h target
    assert service == {
        "closed": 2,
        "open": 0,
        "median_h": 4.0,
        "p90_h": 5.6,
        "within_target": 0.5,
    }
    repair = rep["response"]["repair"]
    # offline 2 h (target 8 h), fault 4 h (target 24 h); the October fire is out of range
    assert repair["overall"] == {
        "closed": 2,
        "open": 0,
        "median_h": 3.0,
        "p90_h": 3.8,
        "within_target": 1.0,
    }
    assert [s["station_id"] for s in repair["by_station"]] == ["IT-A"]
    # full 08-10 (closed, never cleared) and 08-12 (cleared at 12, closed at 14): 6 h; its
    # telemetry never said it was full to the top, so no overflow
    assert rep["hours_full"] == [
        {
            "station_id": "IT-A",
            "compartment": "garbage",
            "jobs": 2,
            "hours_full": 6.0,
            "overflow_hours": 0.0,
        }
    ]


def test_summary_csv_parses_with_bom_and_header(
    client: TestClient, admin: dict[str, str], world: Any
) -> None:
    r = client.get(SUMMARY + ".csv", headers=admin, params=RANGE)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows and set(rows[0]) == {
        "section",
        "period",
        "station_id",
        "station_name",
        "district",
        "compartment",
        "metric",
        "value",
        "unit",
    }

    def value(section: str, period: str, station: str, metric: str) -> str:
        (hit,) = [
            x["value"]
            for x in rows
            if (x["section"], x["period"], x["station_id"], x["metric"])
            == (section, period, station, metric)
        ]
        return hit

    assert float(value("tonnage", "2026-11-02", "IT-A", "garbage_kg")) == 2.0
    assert int(value("money", "2026-11-02", "IT-A", "fees_ntd")) == 55
    assert float(value("availability", "all", "IT-A", "uptime")) == 0.9375
    assert float(value("hours_full", "all", "IT-A", "hours_full")) == 6.0
    assert float(value("hours_full", "all", "IT-A", "overflow_hours")) == 0.0
    assert any(x["station_name"] == "iTrash 大安" for x in rows)
    assert "EC-4711" not in r.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-11-03", "to": "2026-11-02"}, "to"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),
        ({"from": "2026-11-01", "to": "2026-11-02", "period": "year"}, "period"),
        ({"from": "2026-13-01", "to": "2026-11-02"}, "from"),
        ({"from": "yesterday", "to": "2026-11-02"}, "from"),
        ({"to": "2026-11-02"}, "from"),
        ({"from": "2026-11-02"}, "to"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, admin: dict[str, str], params: dict[str, str], field: str
) -> None:
    for path in (SUMMARY, SUMMARY + ".csv"):
        r = client.get(path, headers=admin, params=params)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field


def test_reports_are_for_the_departments_staff(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    client.cookies.clear()  # the admin fixture's login left a session cookie
    assert client.get(SUMMARY, params=RANGE).status_code == 401
    add_user(platform, "ops.epb", "operator", "epb")
    add_user(platform, "ops.police", "operator", "police")
    add_user(platform, "citizen.one", "citizen", None)
    assert get(client, login(client, "ops.epb"))["tonnage"]["by_station"] == []
    for who in ("ops.police", "citizen.one"):
        r = client.get(SUMMARY, headers=login(client, who), params=RANGE)
        assert r.status_code == 403, r.text


def test_open_data_is_public_licensed_and_has_no_cards(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    key = add_station(client, admin, "IT-O")
    card = SimulatedEasyCard("EC-9001", balance=500)
    issue(platform, card)
    term = Terminal("IT-O")
    now = clock.now().astimezone(TPE)
    yesterday = (now - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    last_month = now.replace(day=1, hour=12, minute=0, second=0, microsecond=0) - timedelta(days=3)
    txns = [
        term.garbage(card, 1200, yesterday),
        term.garbage(card, 800, yesterday + timedelta(minutes=5)),
        term.garbage(card, 400, last_month),
    ]
    assert client.post(UP, headers=key, json={"transactions": txns}).status_code == 200

    client.cookies.clear()  # no login: the admin fixture's session cookie goes
    r = client.get("/api/v1/waste/open-data/stations.geojson")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    assert "https://data.gov.tw/license" in r.headers["link"]
    geo = json.loads(r.content)
    assert geo["type"] == "FeatureCollection"
    assert geo["license"] == "Open Government Data License, version 1.0 (Taiwan)"
    assert geo["license_url"] == "https://data.gov.tw/license"
    assert "臺北市政府環境保護局" in geo["attribution"] and geo["generated_at"]
    (f,) = geo["features"]
    assert f["geometry"] == {"type": "Point", "coordinates": [121.5645, 25.0375]}
    props = f["properties"]
    assert (props["id"], props["garbage_kg"], props["availability"]) == ("IT-O", 0.4, 1.0)
    assert props["month"] == last_month.strftime("%Y-%m")
    assert set(props["accepts"]) == {"garbage", "pet_bottles", "cans"}

    r = client.get("/api/v1/waste/open-data/tonnage.csv")
    assert r.status_code == 200, r.text
    assert "https://data.gov.tw/license" in r.headers["link"]
    text = r.content.decode("utf-8-sig")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert any("Open Government Data License, version 1.0 (Taiwan)" in c for c in comments)
    assert any("臺北市政府環境保護局" in c for c in comments)
    rows = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    daily = {(x["date"], x["station_id"]): x for x in rows}
    assert float(daily[(yesterday.date().isoformat(), "IT-O")]["garbage_kg"]) == 2.0
    assert "card" not in ",".join(rows[0])
    for body in (geo, text):
        assert "EC-9001" not in json.dumps(body, ensure_ascii=False)


def test_overflow_hours_come_from_the_station_telemetry(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    key = add_station(client, admin, "IT970-1")
    start = clock.now().astimezone(TPE).replace(microsecond=0) - timedelta(hours=2)

    def send(seq: int, minutes: int, fill: float) -> None:
        ts = int((start + timedelta(minutes=minutes)).timestamp() * 1000)
        msg = {"seq": seq, "ts": ts, "values": {"garbage.fill": fill}}
        r = client.post("/api/v1/telemetry", headers=key, json={"messages": [msg]})
        assert r.status_code == 200, r.text

    send(1, 0, 0.5)
    send(2, 10, 1.0)  # full to the top: people are turned away from here...
    send(3, 20, 0.99)
    send(4, 31, 0.6)  # ...until a partial emptying, 21 minutes later
    send(5, 40, 1.0)  # and again, still so now
    day = start.date().isoformat()
    out = get(client, admin, **{"from": day, "to": clock.now().astimezone(TPE).date().isoformat()})
    (row,) = [x for x in out["hours_full"] if x["station_id"] == "IT970-1"]
    assert row["compartment"] == "garbage"
    now_min = (clock.now().astimezone(TPE) - start).total_seconds() / 60
    expected = (21 + (now_min - 40)) / 60
    assert row["overflow_hours"] == pytest.approx(expected, abs=0.01)


def test_collected_kg_is_what_the_station_scales_saw_taken_out(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    """Crews empty stations on their routes without typing a weight (the demo showed 0 kg
    collected all day): the station's scales say what went out. Deposits and the scale's
    noise are not emptyings; a crew's figure counts only where the scales saw nothing."""
    add_station(client, admin, "IT-A")
    add_station(client, admin, "IT-C")
    series = {
        ("IT-A", "garbage.weight_kg"): [
            ("2026-11-02T08:00:00", 100.0),
            ("2026-11-02T08:10:00", 99.5),  # noise: less than a kilogram
            ("2026-11-02T09:00:00", 150.0),
            ("2026-11-02T09:10:00", 3.0),  # emptied: 147 kg
            ("2026-11-02T12:00:00", 50.0),
            ("2026-11-02T12:10:00", 48.5),  # noise: 3 % of what is there
            ("2026-11-03T23:50:00", 80.0),  # Taipei's 3rd
            ("2026-11-04T00:10:00", 0.0),  # emptied on the 4th: outside the range
        ],
        ("IT-A", "recycling_pet.weight_kg"): [
            ("2026-11-02T08:00:00", 20.0),
            ("2026-11-02T09:10:00", 0.0),  # emptied: 20 kg
        ],
    }
    rows = [
        {
            "device_id": sid,
            "seq": n,
            "key": key,
            "ts_ms": int(at(ts).timestamp() * 1000),
            "value": v,
        }
        for (sid, key), points in series.items()
        for n, (ts, v) in enumerate(points)
    ]
    with platform.db.session() as s:
        s.execute(insert(Reading), rows)
        s.add_all(
            [
                # the crew also typed a figure at IT-A: the scales' 167 kg stand
                job(
                    "IT-A",
                    "full",
                    "2026-11-02T08:00:00",
                    "garbage",
                    closed_at="2026-11-02T10:00:00",
                    collected_kg=35.5,
                ),
                # IT-C has no scale readings: the crew's figure is all there is
                job(
                    "IT-C",
                    "full",
                    "2026-11-03T08:00:00",
                    "garbage",
                    closed_at="2026-11-03T10:00:00",
                    collected_kg=42.0,
                ),
            ]
        )
    rep = get(client, admin)
    got = {(x["period"], x["station_id"]): x["collected_kg"] for x in rep["tonnage"]["by_station"]}
    assert got == {("2026-11-02", "IT-A"): 167.0, ("2026-11-03", "IT-C"): 42.0}
