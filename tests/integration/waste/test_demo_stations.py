"""The demo's stations on both databases: their simulated telemetry goes in with each
station's own key and raises crew jobs, and a crew that accepts a job empties the
compartment, which the next telemetry (not the close button) shows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from onecity.core import clock
from onecity.core.platform import Platform
from onecity.waste import demo
from onecity.waste.models import WasteJob
from onecity.waste.simulation.station_config import SimConfig
from onecity.waste.simulation.stations import StationSim
from tests.conftest import add_user, login


def test_demo_station_fills_raises_a_job_and_the_crew_empties_it(
    client: TestClient, platform: Platform, tmp_path: Path
) -> None:
    keys = demo.seed(platform, tmp_path / "keys.json")
    site = demo.sites()[0].id
    # A station so busy it is full after the warm-up, at any hour: Taipei's night hours see
    # a twentieth of the evening's visits, which once left it half full when run at 03:00.
    now = clock.now()
    busy = SimConfig(visits_per_day=20000.0, hour_weights=(1.0,) * 24)
    sim = StationSim(site, seed=1, config=busy, start=now - timedelta(hours=2))
    sim.advance(now - timedelta(seconds=30))
    sims = {site: sim}

    demo._report(client, sims, keys)
    with platform.db.read() as s:
        (job,) = s.execute(
            select(WasteJob).where(
                WasteJob.station_id == site,
                WasteJob.kind == "full",
                WasteJob.compartment == "garbage",
            )
        ).scalars()
    assert job.condition_cleared_at is None

    add_user(platform, "crew.demo", "crew", "epb")
    crew = login(client, "crew.demo")
    assert client.post(f"/api/v1/waste/jobs/{job.id}/accept", headers=crew).status_code == 200
    handled: set[int] = set()
    demo._crews_at_work(platform, sims, handled)
    assert handled == set()  # the crew is not there yet
    with platform.db.session() as s:  # ...until it has had time to arrive
        s.execute(
            update(WasteJob)
            .where(WasteJob.id == job.id)
            .values(accepted_at=clock.now() - timedelta(seconds=demo.CREW_ARRIVES_S + 1))
        )
    demo._crews_at_work(platform, sims, handled)
    assert handled == {job.id}
    assert sim.stats("garbage").fill < 0.1

    # The station's next report, a report interval later, shows the emptied compartment.
    demo._report(client, sims, keys, now=clock.now() + sim.config.report_every)
    with platform.db.read() as s:
        after = s.get(WasteJob, job.id)
        assert after is not None
        assert after.condition_cleared_at is not None  # the telemetry says it is empty
        assert after.status == "accepted"  # and the crew still closes it
