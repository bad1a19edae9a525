"""Citizens report iTrash stations through the city's Open311 endpoint, on both databases: the
report opens a crew job (or joins the open one), a bad station number is refused with nothing
written, and the crew's closing of the job closes every report it carries."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from onecity.core import clock
from onecity.core.models import Media, Open311Request
from onecity.core.platform import Platform
from onecity.waste.jobs.models import WasteJob
from tests.conftest import add_user, login
from tests.integration.waste.helpers import add_station, count, jobs

OPEN311 = "/open311/v2"


@pytest.fixture
def crew(client: TestClient, platform: Platform) -> dict[str, str]:
    add_user(platform, "crew.two", "crew", "epb")
    return login(client, "crew.two")


def report(client: TestClient, code: str, **attributes: str) -> Any:
    """Filed as an Open311 client does: a form, with attribute[...] fields."""
    form = {
        "service_code": code,
        "lat": "25.0375",
        "long": "121.5645",
        "description": "reported from the street",
        **{f"attribute[{k}]": v for k, v in attributes.items()},
    }
    return client.post(f"{OPEN311}/requests.json", data=form)


def test_the_waste_services_are_listed(client: TestClient) -> None:
    got = {s["service_code"]: s for s in client.get(f"{OPEN311}/services.json").json()}
    assert {"waste.station_full", "waste.station_broken"} <= set(got)
    assert got["waste.station_broken"]["metadata"] is True
    definition = client.get(f"{OPEN311}/services/waste.station_broken.json").json()
    codes = {a["code"]: a for a in definition["attributes"]}
    assert codes["station_id"]["required"] is True
    assert {v["key"] for v in codes["problem"]["values"]} >= {"card_reader", "door", "other"}


def test_reports_open_one_job_and_its_closing_answers_them(
    client: TestClient, platform: Platform, admin: dict[str, str], crew: dict[str, str]
) -> None:
    key = add_station(client, admin, "IT910-1")
    first = report(client, "waste.station_full", station_id="IT910-1", compartment="garbage")
    assert first.status_code == 201, first.text
    second = report(client, "waste.station_full", station_id="IT910-1", compartment="garbage")
    assert second.status_code == 201, second.text
    ids = [int(first.json()[0]["service_request_id"]), int(second.json()[0]["service_request_id"])]

    # Two people, one problem: one job, carrying both reports.
    (job,) = jobs(client, crew)
    assert (job["kind"], job["compartment"], job["station_id"]) == ("full", "garbage", "IT910-1")
    assert job["params"]["reports"] == ids and job["params"]["source"] == "citizen"

    # The station's own telemetry then says the same: still one job, the reports kept.
    msg = {"seq": 1, "ts": clock.time_ms(), "values": {"garbage.fill": 0.9}}
    r = client.post("/api/v1/telemetry", headers=key, json={"messages": [msg]})
    assert r.status_code == 200, r.text
    (job,) = jobs(client, crew)
    assert job["params"]["reports"] == ids and job["params"]["fill"] == 0.9

    assert client.post(f"/api/v1/waste/jobs/{job['id']}/accept", headers=crew).status_code == 200
    closed = client.post(
        f"/api/v1/waste/jobs/{job['id']}/close",
        headers=crew,
        json={"collected_kg": 212.5, "note": "emptied at 14:10"},
    )
    assert closed.status_code == 200, closed.text
    for rid in ids:
        (seen,) = client.get(f"{OPEN311}/requests/{rid}.json").json()
        assert (seen["status"], seen["status_notes"]) == ("closed", "emptied at 14:10")


def test_a_broken_station_report_is_a_repair_job(
    client: TestClient, platform: Platform, admin: dict[str, str], crew: dict[str, str]
) -> None:
    add_station(client, admin, "IT920-1")
    r = report(client, "waste.station_broken", station_id="IT920-1", problem="card_reader")
    assert r.status_code == 201, r.text
    (job,) = jobs(client, crew)
    assert (job["kind"], job["detail"], job["compartment"]) == ("fault", "card_reader", None)
    assert job["priority"] < 3  # a broken station outranks a full compartment


@pytest.mark.parametrize(
    "code,attributes",
    [
        ("waste.station_full", {"station_id": "NO-SUCH-STATION"}),
        ("waste.station_full", {"station_id": "IT930-1", "compartment": "glass"}),
        ("waste.station_broken", {"station_id": "IT930-1"}),  # the problem is required
        ("waste.station_broken", {"station_id": "IT930-1", "problem": "fire!"}),
        ("waste.station_broken", {"problem": "door"}),  # no station
    ],
)
def test_a_bad_report_is_refused_and_writes_nothing(
    client: TestClient,
    platform: Platform,
    admin: dict[str, str],
    code: str,
    attributes: dict[str, str],
) -> None:
    add_station(client, admin, "IT930-1")
    r = report(client, code, **attributes)
    assert r.status_code == 400, r.text
    (err,) = r.json()
    assert err["code"] == 400 and err["description"]
    assert count(platform, Open311Request) == 0
    assert count(platform, WasteJob) == 0


# The smallest valid PNG: a 1x1 transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def report_with_photo(client: TestClient, photo: bytes, name: str = "photo.png") -> Any:
    form = {
        "service_code": "waste.station_broken",
        "lat": "25.0375",
        "long": "121.5645",
        "description": "the card reader is smashed",
        "attribute[station_id]": "IT950-1",
        "attribute[problem]": "card_reader",
    }
    return client.post(
        f"{OPEN311}/requests.json", data=form, files={"media": (name, photo, "image/png")}
    )


def test_a_report_carries_its_photo(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    add_station(client, admin, "IT950-1")
    r = report_with_photo(client, PNG)
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    (seen,) = client.get(f"{OPEN311}/requests/{rid}.json").json()
    digest = hashlib.sha256(PNG).hexdigest()
    assert seen["media_url"].endswith(f"/media/{digest}")
    photo = client.get(f"/media/{digest}")
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/png" and photo.content == PNG
    # The same photo again is stored once.
    assert report_with_photo(client, PNG).status_code == 201
    assert count(platform, Media) == 1


@pytest.mark.parametrize(
    "photo",
    [
        b"<html>not a photo</html>",  # whatever the name and type say
        b"",
        PNG + b"\0" * (3 * 1024 * 1024),  # over 3 MB
    ],
)
def test_a_bad_photo_is_refused_and_writes_nothing(
    client: TestClient, platform: Platform, admin: dict[str, str], photo: bytes
) -> None:
    add_station(client, admin, "IT950-1")
    r = report_with_photo(client, photo)
    assert r.status_code == 400, r.text
    assert "photo" in r.json()[0]["description"]
    assert count(platform, Open311Request) == 0
    assert count(platform, Media) == 0
    assert count(platform, WasteJob) == 0


def test_unknown_media_is_404(client: TestClient) -> None:
    assert client.get("/media/" + "0" * 64).status_code == 404
    assert client.get("/media/not-a-digest").status_code == 404
