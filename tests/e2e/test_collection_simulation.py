"""The collection simulation page in a real browser: a stored run shows its three policies
and the clairvoyant yardstick, what each saved, and its server-drawn SVG charts as images
(data: URLs, nothing fetched from elsewhere)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from onecity.waste.simulation import reports as sim_reports
from onecity.waste.simulation.collection import simulate
from onecity.waste.simulation.plots import plots

from .conftest import LiveServer, expect_text, log_in, wait_js


def test_simulation_page_shows_the_policies_and_charts(
    page: Any, live_server: LiveServer, shots: Path, tmp_path: Path
) -> None:
    report = simulate(3, 8, seed=5, solve_s=0.2, warmup_days=1)
    svgs = {f.stem: f.read_text() for f in plots(report, tmp_path) if f.suffix == ".svg"}
    sim_reports.store(live_server.platform.db, "epb", "test", report.to_dict(), svgs)
    log_in(page, live_server.url, "epb.operator", "/waste/simulation")
    wait_js(page, "document.querySelectorAll('#sim-rows tr').length === 4")
    expect_text(page, "#sim-rows tr:last-child th", "Clairvoyant yardstick|全知基準")
    bound = report.to_dict()["km_saved_clairvoyant_pct"]
    # said in words with the size of the difference, never a signed percent ("saved -2 %")
    shown = re.escape(f"{abs(round(bound, 1)):g}")  # as Intl.NumberFormat writes it
    expect_text(page, "#sim-saved", rf"\D{shown}\s?%")
    assert not re.search(r"[-−]\d", page.locator("#sim-saved").inner_text())
    expect_text(page, "#sim-meta", r"3 \S*.*8")
    stops = page.locator("#sim-rows tr").first.locator("td").nth(1).inner_text()
    assert stops.replace(",", "") == str(report.result("fixed").stops)
    # the charts are drawn in the page's language: two daily charts and five totals
    wait_js(page, "document.querySelectorAll('#sim-charts svg.sim-svg').length === 7")
    expect_text(page, "#sim-charts", "Simulated day|模擬第幾天")
    page.screenshot(path=str(shots / "waste-simulation.png"), full_page=True)
