"""Station telemetry to crew jobs on both databases: HTTP ingest raises jobs through the
waste module's ingest hook, crews accept and close them, impossible readings write nothing,
the offline check raises its own job; and the same over a real Mosquitto into PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from onecity.core import clock
from onecity.core.db import utcnow
from onecity.core.devices.mqtt import MqttIngester
from onecity.core.models import AuditRecord, Event, Reading
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.waste.jobs.models import WasteJob
from onecity.waste.services import WasteServices
from tests.conftest import add_user, login, make_settings
from tests.integration.waste.helpers import add_station, count, jobs
from tests.mqtt_broker import Broker, Publisher, mosquitto_binary, running_broker


@pytest.fixture
def crew(client: TestClient, platform: Platform) -> dict[str, str]:
    add_user(platform, "crew.one", "crew", "epb")
    return login(client, "crew.one")


def send(
    client: TestClient, key: dict[str, str], seq: int, values: dict[str, Any], ts: int = 0
) -> Any:
    msg = {"seq": seq, "ts": ts or clock.time_ms(), "values": values}
    return client.post("/api/v1/telemetry", headers=key, json={"messages": [msg]})


def job_events(p: Platform) -> list[str]:
    with p.db.read() as s:
        rows = s.execute(select(Event.payload).where(Event.type == "waste.job").order_by(Event.id))
        return [r[0]["action"] for r in rows]


def test_full_job_raised_once_accepted_and_closed(
    client: TestClient, platform: Platform, admin: dict[str, str], crew: dict[str, str]
) -> None:
    key = add_station(client, admin, "IT900-1")
    assert send(client, key, 1, {"garbage.fill": 0.5, "garbage.weight_kg": 40}).status_code == 200
    assert jobs(client, crew) == []
    assert send(client, key, 2, {"garbage.fill": 0.8}).status_code == 200
    at = int(time.time() * 1000)
    assert send(client, key, 3, {"garbage.fill": 0.85}, at).status_code == 200
    # The station retries the same message: a duplicate (the same seq at another time would
    # be a restart).
    assert send(client, key, 3, {"garbage.fill": 0.85}, at).json()["duplicates"] == 1
    got = jobs(client, crew, status="open")
    assert [(j["kind"], j["compartment"], j["priority"]) for j in got] == [("full", "garbage", 3)]
    job = got[0]
    assert job["station_id"] == "IT900-1" and job["params"]["fill"] == 0.8

    r = client.post(f"/api/v1/waste/jobs/{job['id']}/accept", headers=crew)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["accepted_by"]) == ("accepted", "crew.one")
    bad = client.post(
        f"/api/v1/waste/jobs/{job['id']}/close", headers=crew, json={"collected_kg": -1}
    )
    assert bad.status_code == 422, bad.text
    r = client.post(
        f"/api/v1/waste/jobs/{job['id']}/close",
        headers=crew,
        json={"collected_kg": 61.5, "note": "emptied"},
    )
    assert r.status_code == 200, r.text
    closed = r.json()
    assert (closed["status"], closed["collected_kg"], closed["closed_by"]) == (
        "closed",
        61.5,
        "crew.one",
    )
    audits = count(platform, AuditRecord)
    again = client.post(
        f"/api/v1/waste/jobs/{job['id']}/close", headers=crew, json={"collected_kg": 10}
    )
    assert again.status_code == 409 and again.json()["error"] == "already_closed"
    with platform.db.read() as s:
        row = s.get(WasteJob, job["id"])
        assert row is not None
        assert (row.collected_kg, row.note, row.status) == (61.5, "emptied", "closed")
    assert count(platform, AuditRecord) == audits
    assert client.post("/api/v1/waste/jobs/999999/accept", headers=crew).status_code == 404
    assert job_events(platform) == ["raised", "accepted", "closed"]
    # The station still reports full until it is emptied: no second job meanwhile.
    send(client, key, 4, {"garbage.fill": 0.9})
    assert jobs(client, crew) == []
    status = client.get("/api/v1/waste/stations/IT900-1/status", headers=crew).json()
    garbage = next(c for c in status["compartments"] if c["compartment"] == "garbage")
    assert (garbage["fill"], garbage["status"]) == (0.9, "ok")
    assert [a["kind"] for a in status["alerts"]] == ["full"]


def test_impossible_values_are_refused_and_write_nothing(
    client: TestClient, platform: Platform, admin: dict[str, str], crew: dict[str, str]
) -> None:
    key = add_station(client, admin, "IT900-2")
    for values, field in (
        ({"garbage.fill": 1.7}, "garbage.fill"),
        ({"garbage.fill": 0.9, "recycling_pet.weight_kg": -3}, "recycling_pet.weight_kg"),
        ({"garbage.door": 7}, "garbage.door"),
        ({"fault.toaster": 1}, "fault.toaster"),
    ):
        r = send(client, key, 1, values)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == f"messages[0].values.{field}", r.text
    assert count(platform, Reading) == 0
    assert count(platform, WasteJob) == 0
    assert jobs(client, crew) == []
    # The same sequence number with possible values is stored: nothing was half-written.
    assert send(client, key, 1, {"garbage.fill": 0.2}).json()["accepted"] == 1


def test_fire_comes_first_and_offline_is_raised(
    client: TestClient, platform: Platform, admin: dict[str, str], crew: dict[str, str]
) -> None:
    key = add_station(client, admin, "IT900-3")
    send(client, key, 1, {"garbage.fill": 0.95, "recycling_can.fill": 0.1, "heartbeat": 1})
    send(client, key, 2, {"recycling_can.smoke": 1, "recycling_can.temp_c": 70})
    got = jobs(client, crew, lat=25.03, lon=121.56)
    assert [(j["kind"], j["priority"]) for j in got] == [("fire", 1), ("full", 3)]
    assert got[0]["compartment"] == "recycling_can" and got[0]["distance_m"] > 0

    svc = platform.services(WasteServices).jobs
    assert svc.check_offline() == 0  # just heard from
    assert svc.check_offline(utcnow() + timedelta(minutes=10)) >= 1
    offline = [j for j in jobs(client, crew) if j["kind"] == "offline"]
    assert len(offline) == 1 and offline[0]["compartment"] is None
    assert svc.check_offline(utcnow() + timedelta(minutes=11)) == 0  # one job, not two
    # Reporting again clears the condition; the job stays for the crew.
    send(client, key, 3, {"heartbeat": 1})
    again = next(j for j in jobs(client, crew) if j["kind"] == "offline")
    assert again["id"] == offline[0]["id"] and again["condition_cleared_at"] is not None
    # Closing the fire job tells the rules someone dealt with it.
    fire = got[0]["id"]
    r = client.post(f"/api/v1/waste/jobs/{fire}/close", headers=crew, json={"note": "put out"})
    assert r.status_code == 200, r.text
    status = client.get("/api/v1/waste/stations/IT900-3/status", headers=crew).json()
    assert "fire" not in [a["kind"] for a in status["alerts"]]


def test_an_overdue_job_is_escalated_to_the_supervisor(
    client: TestClient, platform: Platform, admin: dict[str, str], crew: dict[str, str]
) -> None:
    add_user(platform, "epb.boss", "supervisor", "epb")
    boss = login(client, "epb.boss")
    key = add_station(client, admin, "IT900-5")
    send(client, key, 1, {"garbage.fill": 0.9})
    (job,) = jobs(client, crew)
    svc = platform.services(WasteServices).jobs

    def overdue() -> list[dict[str, Any]]:
        r = client.get("/api/v1/alerts", headers=boss, params={"state": "open"})
        assert r.status_code == 200, r.text
        return [a for a in r.json()["items"] if a["kind"] == "job_overdue"]

    svc.check_offline(utcnow() + timedelta(hours=3))  # within the 4 h service target
    assert overdue() == []
    svc.check_offline(utcnow() + timedelta(hours=5))
    (alert,) = overdue()
    assert (
        alert["device_id"] == "IT900-5"
        and f"crew job {job['id']} (full, garbage)" in alert["message"]
    )
    assert next(j for j in jobs(client, crew) if j["id"] == job["id"])["escalated_at"]
    svc.check_offline(utcnow() + timedelta(hours=6))
    assert len(overdue()) == 1  # escalated once
    r = client.post(
        f"/api/v1/waste/jobs/{job['id']}/close", headers=crew, json={"collected_kg": 250}
    )
    assert r.status_code == 200, r.text
    assert overdue() == []  # the crew closed it: the supervisor's alert is resolved


# --- over MQTT, into PostgreSQL ----------------------------------------------------------------


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    with running_broker(tmp_path / "mosquitto") as b:
        yield b


@pytest.mark.mqtt
@pytest.mark.postgres
def test_station_job_over_mqtt(
    client: TestClient,
    platform: Platform,
    admin: dict[str, str],
    crew: dict[str, str],
    broker: Broker,
) -> None:
    if platform.db.dialect != "postgresql":
        pytest.skip("the MQTT path is checked against PostgreSQL")
    # The station logs in at the broker with its registry key, as in the field.
    key = add_station(client, admin, "IT900-4")["X-Device-Key"]
    broker.sync(platform.db)
    s = make_settings(
        platform.settings.database_url,
        modules="waste",
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_client_id=f"onecity-test-{uuid.uuid4().hex[:8]}",
    )
    p = start_platform(s, db=platform.db)
    ing = MqttIngester(p, relay_events=False).start()
    try:
        pub = Publisher(broker, {"IT900-4": key})
        now = clock.time_ms()
        for seq, values in (
            (1, {"garbage.fill": 1.5}),  # impossible: rejected, not stored
            (2, {"garbage.fill": 0.82, "garbage.weight_kg": 55}),
        ):
            body = {"seq": seq, "ts": now + seq, "values": values}
            pub.send("IT900-4", json.dumps(body).encode())
        pub.close()
        deadline = time.monotonic() + 30
        while not jobs(client, crew) and time.monotonic() < deadline:
            time.sleep(0.1)
        got = jobs(client, crew)
        assert [(j["station_id"], j["kind"]) for j in got] == [("IT900-4", "full")]
        assert ing.stats.rejected == 1
        with p.db.read() as sess:
            seqs = set(
                sess.execute(select(Reading.seq).where(Reading.device_id == "IT900-4")).scalars()
            )
        assert seqs == {2}
    finally:
        ing.stop()
