"""`onecity roadworks …`: load the demo's road works, and grant overdue applications."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from onecity.core.modules import start_platform
from onecity.roadworks.services import RoadworksServices
from onecity.settings import Settings

roadworks_app = typer.Typer(
    help="RPIC road works: demo data and the permit books.", no_args_is_help=True
)
console = Console()


def print_demo(summary: object, base_url: str = "http://127.0.0.1:8000") -> None:
    """What the demo loaded and the scenario to try, for `seed-demo` and `onecity demo`."""
    from onecity.roadworks.demo.city import CONTRACTOR_LOGIN, DemoSummary
    from onecity.roadworks.demo.todaywork import contractor_org

    assert isinstance(summary, DemoSummary)
    sc = summary.scenario
    org = contractor_org(CONTRACTOR_LOGIN[1])
    console.print(
        f"road works: {summary.permits} permits (112 from Taipei's works of 2023-06-02, dates "
        f"moved to today), {summary.orgs} organisations, {summary.pipes} pipes "
        "(SYNTHETIC network under 大安區)"
    )
    console.print(
        f"  try a clash: {sc['ref']} (granted, {sc['road']}, {sc['start_date']} to "
        f"{sc['end_date']}) is a water main renewal at lon {sc['lon']}, lat {sc['lat']}. "
        f"Log in as pwd.contractor ({org.name_zh}, applicant code {org.code}) and file at "
        f"{base_url}/roadworks/apply, or POST {base_url}/api/v1/roadworks/permits/check, with "
        "that footprint (below) and overlapping dates: the answer names the clash and the "
        "pipe owners to ask."
    )
    console.print(f"  footprint: {json.dumps(sc['geometry'], ensure_ascii=False)}")


@roadworks_app.command("seed-demo")
def seed_demo() -> None:
    """Load the demo's road works into the configured database (safe to run again)."""
    from onecity.roadworks.demo import city as demo

    p = start_platform(Settings())
    try:
        summary = demo.seed(p)
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    finally:
        p.db.dispose()
    print_demo(summary)


@roadworks_app.command("deem-granted")
def deem_granted() -> None:
    """Grant every application the city did not answer in time (the loop does this too)."""

    p = start_platform(Settings())
    try:
        n = p.services(RoadworksServices).permits.deem_granted()
    finally:
        p.db.dispose()
    console.print(f"{n} applications deemed granted")
