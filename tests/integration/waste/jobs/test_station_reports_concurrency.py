"""Citizens reporting the same full stations at the same moment through two API processes
(two apps, each with its own engine, on one database): each station gets exactly one open
crew job, and every report is on it, so every reporter hears back when the crew closes it.
Before the database enforced it, 4 of 7 stations got two jobs (check, then insert)."""

from __future__ import annotations

import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from onecity.app import create_app
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.settings import Settings
from onecity.waste.jobs.models import WasteJob
from tests.conftest import make_settings, serving
from tests.integration.waste.helpers import add_station

STATIONS = [f"IT970-{i}" for i in range(1, 8)]
REPORTS_PER_STATION = 4


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Many citizens, here all on one address: lift the per-client limits."""
    return make_settings(
        db_url, modules="waste", open311_reports_per_window=1000, open311_reports_per_day=1000
    )


def test_simultaneous_reports_open_one_job_per_station(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    for sid in STATIONS:
        add_station(client, admin, sid)
    # A second process: its own app, its own platform, its own connection pool.
    other = start_platform(platform.settings)
    try:
        with (
            serving(create_app(platform.settings)) as one,
            serving(create_app(other.settings, other)) as two,
        ):
            answers = _report_all_at_once([one, two])
    finally:
        other.db.dispose()
    assert sorted(a[0] for a in answers) == [201] * len(answers), answers
    filed = {int(a[1]) for a in answers}

    with platform.db.read() as s:
        rows = list(
            s.execute(select(WasteJob).where(WasteJob.status != "closed").order_by(WasteJob.id))
            .scalars()
            .all()
        )
    per_station = {sid: [j for j in rows if j.station_id == sid] for sid in STATIONS}
    doubled = {sid: len(js) for sid, js in per_station.items() if len(js) != 1}
    assert doubled == {}, f"stations without exactly one open job: {doubled}"
    # Every report rides on its station's one job: no reporter is left out of the answer.
    on_jobs = {rid for j in rows for rid in j.params["reports"]}
    assert on_jobs == filed


def _report_all_at_once(bases: list[str]) -> list[tuple[int, str]]:
    plan = [
        (bases[(i + n) % len(bases)], sid)
        for i, sid in enumerate(STATIONS)
        for n in range(REPORTS_PER_STATION)
    ]
    go = threading.Barrier(len(plan))
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def file(base: str, sid: str) -> None:
        form = {
            "service_code": "waste.station_full",
            "lat": "25.0375",
            "long": "121.5645",
            "attribute[station_id]": sid,
            "attribute[compartment]": "garbage",
        }
        with httpx.Client(base_url=base, timeout=60) as http:
            go.wait()
            r = http.post("/open311/v2/requests.json", data=form)
        rid = r.json()[0]["service_request_id"] if r.status_code == 201 else r.text
        with lock:
            answers.append((r.status_code, str(rid)))

    threads = [threading.Thread(target=file, args=p) for p in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return answers
