"""`onecity waste …`: the ledger, collection plans and the collection simulation from the
command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.settings import Settings
from onecity.waste.ledger.reconcile import GAP_GRACE
from onecity.waste.services import WasteServices

waste_app = typer.Typer(
    help="iTrash operations: the ledger, collection plans, simulation.", no_args_is_help=True
)
console = Console()


def _platform() -> Platform:
    """The platform with waste enabled, whatever ONECITY_MODULES says: `onecity waste …` is
    this module's own command and takes its services from it."""
    settings = Settings()
    names = [m.strip() for m in settings.modules.split(",") if m.strip()]
    if "waste" not in names:
        settings = settings.model_copy(update={"modules": ",".join([*names, "waste"])})
    return start_platform(settings)


@waste_app.command()
def reconcile(
    grace_days: float = typer.Option(
        GAP_GRACE.total_seconds() / 86400, help="how long a missing card counter may stay missing"
    ),
) -> None:
    """Flag (and block) cards whose missing counters stayed missing past the grace period,
    then print the ledger's totals. Exits 1 if the ledger does not balance."""
    from datetime import timedelta

    p = _platform()
    svc = p.services(WasteServices).ledger
    flagged = svc.reconcile_gaps(grace=timedelta(days=grace_days))
    ledger = svc.ledger_totals()
    console.print(f"{flagged} missing counters flagged")
    for a in ledger.accounts:
        console.print(f"{a.account:<26} NT${a.total:>12,}")
    console.print(
        f"sum NT${ledger.sum:,} · unexplained card value NT${ledger.unexplained_card_value:,} "
        f"· {ledger.txns:,} transactions · {'balanced' if ledger.balanced else 'NOT BALANCED'}"
    )
    p.db.dispose()
    raise typer.Exit(0 if ledger.balanced else 1)


@waste_app.command()
def plan(
    date: str = typer.Option(..., "--date", help="the local day to plan, YYYY-MM-DD"),
    seconds: float = typer.Option(5.0, help="the solver's time budget"),
) -> None:
    """Plan a day's collection routes from what the stations report now; print each truck's
    route and, as the last line, a JSON summary."""
    import json
    from datetime import date as Date

    from onecity.core.errors import AppError

    try:
        day = Date.fromisoformat(date)
    except ValueError:
        console.print(f"--date must be YYYY-MM-DD, not '{date}'")
        raise typer.Exit(2) from None
    p = _platform()
    planner = p.services(WasteServices).planner
    try:
        out = planner.plan_day(day, "cli", seconds, source="cli")
    except AppError as e:
        console.print(f"cannot plan {day}: {e}")
        raise typer.Exit(2) from None
    finally:
        p.db.dispose()

    def hhmm(at: object) -> str:
        from datetime import datetime

        return at.astimezone(planner.tz).strftime("%H:%M") if isinstance(at, datetime) else "-"

    console.print(
        f"plan {out.id} for {out.day}, version {out.version}: {out.distance_km:.1f} km, "
        f"solved in {out.solve_s:.1f} s ({out.travel})"
    )
    for r in out.routes:
        console.print(
            f"\n{r.truck_name} ({r.truck_id}) {hhmm(r.leaves_at)}–{hhmm(r.back_at)}, "
            f"{r.distance_km:.1f} km, "
            f"up to {r.load_kg:,.0f} of {r.capacity_kg:,.0f} kg"
        )
        for st in r.stops:
            console.print(
                f"  {st.seq:>2}. {hhmm(st.arrive_at)} {st.station_name} ({st.station_id}) "
                f"{st.kind}, {st.kg:.0f} kg, load {st.load_kg or 0:,.0f} kg: {st.reason}"
            )
    for st in out.left_out:
        console.print(f"  left out: {st.station_name} ({st.status}): {st.reason}")
    summary = {
        "plan_id": out.id,
        "day": str(out.day),
        "version": out.version,
        "routes": len(out.routes),
        "stops": sum(len(r.stops) for r in out.routes),
        "km": out.distance_km,
        "unserved": out.summary.get("unserved", []),
    }
    print(json.dumps(summary, ensure_ascii=False))


@waste_app.command()
def simulate(
    days: int = typer.Option(30, min=1, help="days to simulate (after the warm-up)"),
    stations: int = typer.Option(..., min=1, help="stations, placed at real garbage-truck stops"),
    seed: int = typer.Option(0, help="the city's and its citizens' seed"),
    trucks: int | None = typer.Option(
        None, min=1, help="the fleet (default: the smallest the fixed schedule needs)"
    ),
    solve_seconds: float = typer.Option(1.0, help="the route solver's budget per shift"),
    out: str = typer.Option("var/simulation", help="where the charts and JSON go"),
) -> None:
    """Compare the collection policies (fixed daily schedule, emptied at 80 %, forecast-driven
    routes, and a clairvoyant yardstick) on one simulated Taipei: print the table, write the
    charts (PNG, SVG) and a JSON report, and print a JSON summary as the last line."""
    import json
    import time
    from pathlib import Path

    from onecity.waste.simulation import reports as sim_reports
    from onecity.waste.simulation.collection import simulate as run
    from onecity.waste.simulation.plots import plots

    warmup = 7
    began = time.monotonic()
    with _day_progress(f"simulating {days} days at {stations} stations") as tell:
        report = run(
            days,
            stations,
            seed=seed,
            trucks=trucks,
            solve_s=solve_seconds,
            warmup_days=warmup,
            progress=tell,
        )
    elapsed = time.monotonic() - began
    console.print(report.table(), highlight=False)
    folder = Path(out)
    charts = plots(report, folder)
    params = sim_reports.parameters(
        days=days,
        stations=stations,
        warmup_days=warmup,
        solve_s=solve_seconds,
        seed=seed,
        demo=False,
    )
    data = {**report.to_dict(), **params, "run_s": round(elapsed, 1)}
    (folder / "report.json").write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    stored = _store_simulation(data, charts)
    summary = {
        "stored": stored,
        "days": report.days,
        "stations": report.stations,
        "trucks": report.trucks,
        "seed": report.seed,
        "km_saved_vs_fixed_pct": data["km_saved_vs_fixed_pct"],
        "km_saved_clairvoyant_pct": data.get("km_saved_clairvoyant_pct"),
        "truck_km": {r.policy: r.truck_km for r in report.results},
        "overflow_hours": {r.policy: r.overflow_hours for r in report.results},
        "fires_late": {r.policy: r.fires_late for r in report.results},
        "run_s": data["run_s"],
        "report": str(folder / "report.json"),
        "charts": [str(p) for p in charts],
    }
    print(json.dumps(summary, ensure_ascii=False))


@contextmanager
def _day_progress(what: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar over the simulated days, on stderr (stdout keeps the table and the
    JSON summary a script reads); gone when the run ends."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=None)

        def tell(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield tell


def _store_simulation(data: dict[str, Any], charts: Sequence[object]) -> int | None:
    """Keep the report and its SVG charts in the database for the dashboard's simulation
    page. Without a migrated database (no demo run yet) the files are all there is."""
    from pathlib import Path

    from sqlalchemy.exc import SQLAlchemyError

    from onecity.waste.simulation import reports as sim_reports

    svgs = {Path(str(c)).stem: Path(str(c)).read_text() for c in charts if str(c).endswith(".svg")}
    p = _platform()
    try:
        department = p.services(WasteServices).planner.config.department
        return sim_reports.store(p.db, department, "cli", data, svgs)
    except SQLAlchemyError as e:
        console.print(f"not stored for the dashboard (is the database migrated?): {e}")
        return None
    finally:
        p.db.dispose()


@waste_app.command("solve-vrplib")
def solve_vrplib(
    path: str = typer.Argument(..., help="a VRPLIB CVRP (.vrp) or Solomon VRPTW (.txt) file"),
    seconds: float = typer.Option(10.0, min=0.0, help="the solver's time budget"),
    seed: int = typer.Option(0, help="the solver's seed"),
    workers: int = typer.Option(
        1, min=1, max=64, help="parallel searches from different seeds; the best one wins"
    ),
) -> None:
    """Solve a benchmark instance through the product's route planner (`routing.solve`);
    print a summary and, as the last line, `{"cost": ..., "routes": N}` in the instance's
    units. Exits 2 if the file cannot be read, 1 if some customers are left unserved."""
    import json
    from pathlib import Path

    from onecity.waste.planning import routing, vrplib_io

    file = Path(path)
    try:
        inst = vrplib_io.load(file)
    # the vrplib reader raises these (not only ValueError) for files that are not instances
    except (routing.PlanError, OSError, ValueError, RuntimeError, TypeError, KeyError) as e:
        why = str(e) if isinstance(e, routing.PlanError) else f"{file}: not an instance ({e})"
        console.print(f"cannot read it: {why}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        plan = routing.solve(inst.problem, seconds, seed, workers=workers)
    except routing.PlanError as e:
        console.print(f"cannot solve {inst.name}: {e}", highlight=False)
        raise typer.Exit(1) from None
    cost: float = plan.distance_m / inst.scale
    if inst.scale == 1:
        cost = int(plan.distance_m)
    best = vrplib_io.best_known(file)
    gap = f", {100 * (cost - best) / best:+.2f} % against the best known {best:g}" if best else ""
    console.print(
        f"{inst.name}: {len(inst.problem.stops)} customers, {len(plan.routes)} routes, "
        f"cost {cost:g}{gap}, solved in {plan.solve_s:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    for u in plan.unserved:
        console.print(f"  unserved customer {inst.problem.stops[u.stop].ref}: {u.detail}")
    print(json.dumps({"cost": cost, "routes": len(plan.routes)}))
    if plan.unserved:
        raise typer.Exit(1)
