"""A collection simulation's report and charts stored for the dashboard, on both databases:
nothing before the first run, then the newest report with its SVG charts, for staff only."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from onecity.waste import demo_sim
from onecity.waste.simulation import reports as sim_reports
from onecity.waste.simulation.collection import simulate
from onecity.waste.simulation.plots import plots
from tests.conftest import add_user, login


def test_latest_simulation_with_its_charts(
    client: TestClient, platform: Platform, admin: dict[str, str], tmp_path: Path
) -> None:
    r = client.get("/api/v1/waste/simulations/latest", headers=admin)
    assert r.status_code == 200 and r.json() is None  # the page's empty state, not an error
    report = simulate(2, 6, seed=3, solve_s=0.2, warmup_days=1)
    files = plots(report, tmp_path)
    svgs = {f.stem: f.read_text() for f in files if f.suffix == ".svg"}
    first = sim_reports.store(platform.db, "epb", "test", report.to_dict(), svgs)
    second = sim_reports.store(platform.db, "epb", "test", {**report.to_dict(), "seed": 9}, svgs)
    assert second > first
    r = client.get("/api/v1/waste/simulations/latest", headers=admin)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == second and got["report"]["seed"] == 9
    policies = [p["policy"] for p in got["report"]["results"]]
    assert policies == ["fixed", "threshold", "forecast", "clairvoyant"]
    assert sorted(got["charts"]) == ["km_per_day", "overflow_per_day", "totals"]
    assert all("<svg" in svg for svg in got["charts"].values())
    page = client.get("/waste/simulation", headers=admin)
    assert page.status_code == 200 and "/static/waste/js/simulation.js" in page.text
    # a citizen sees no staff figures
    add_user(platform, "someone", "citizen", None)
    assert (
        client.get("/api/v1/waste/simulations/latest", headers=login(client, "someone")).status_code
        == 403
    )


def test_the_demo_leaves_a_small_run_with_its_real_parameters(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    """`onecity demo` runs a small simulation in the background, so the page is not empty;
    it says what was run (3 days, not the 30 the page once claimed) and that it is a demo."""
    first = demo_sim.run_small(platform)
    assert first is not None
    assert demo_sim.run_small(platform) is None  # a restart keeps the run it has
    got = client.get("/api/v1/waste/simulations/latest", headers=admin).json()
    run = got["report"]
    assert got["id"] == first and got["created_by"] == "demo"
    assert (run["days"], run["stations"]) == (
        sim_reports.DEMO_RUN["days"],
        sim_reports.DEMO_RUN["stations"],
    )
    assert run["demo"] is True and run["warmup_days"] == sim_reports.DEMO_RUN["warmup_days"]
    assert run["command"].startswith("onecity waste simulate --days")
    assert len(run["results"][0]["daily_km"]) == run["days"]
