"""A small collection simulation run in the background when the demo starts (a few seconds:
few stations, few days), so the simulation page shows a run from the first minute. It is
stored as a demo run with its real parameters; the page says so and how to run a full one.
A database that has a simulation already (a restart, or a full run) keeps it."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select

from onecity.core.platform import Platform
from onecity.waste.services import WasteServices
from onecity.waste.simulation import reports as sim_reports
from onecity.waste.simulation.collection import simulate
from onecity.waste.simulation.models import WasteSimReport

log = logging.getLogger(__name__)


def run_small(p: Platform) -> int | None:
    """Run and store the demo's small simulation unless one is stored; its id, or None."""
    department = p.services(WasteServices).planner.config.department
    with p.db.read() as s:
        if s.scalar(select(WasteSimReport.id).limit(1)) is not None:
            return None
    run = sim_reports.DEMO_RUN
    began = time.monotonic()
    report = simulate(
        int(run["days"]),
        int(run["stations"]),
        seed=int(run["seed"]),
        solve_s=float(run["solve_s"]),
        warmup_days=int(run["warmup_days"]),
    )
    data = {
        **report.to_dict(),
        **sim_reports.parameters(
            days=report.days,
            stations=report.stations,
            warmup_days=int(run["warmup_days"]),
            solve_s=float(run["solve_s"]),
            seed=report.seed,
            demo=True,
        ),
        "run_s": round(time.monotonic() - began, 1),
    }
    return sim_reports.store(p.db, department, "demo", data, {})


def start(p: Platform) -> threading.Thread:
    """`run_small` in a background thread (the demo serves meanwhile)."""

    def go() -> None:
        try:
            run_small(p)
        except Exception:  # the demo keeps going; the log says what went wrong
            log.exception("demo collection simulation")

    t = threading.Thread(target=go, name="demo-simulation", daemon=True)
    t.start()
    return t
