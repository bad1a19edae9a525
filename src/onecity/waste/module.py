"""iTrash: 24-hour smart garbage and recycling stations paid with stored-value cards.

This file wires the module: its routes, CLI, worker loops, telemetry hook and pages. By
aggregate: rules/ the pure money and station rules; ledger/ the server ledger of cards and
drops; monitoring/ the station alert rules and the public finder; jobs/ crews' jobs from
station telemetry; planning/ collection plans and routes; reporting/ reports and open data;
simulation/ the station and collection simulations; kiosk/ the station program (which no
server code imports). templates/, static/ and i18n/ are its dashboard pages (rendered by the
web shell, data from the */api.py routes)."""

from pathlib import Path

from onecity.core.auth.permissions import Perm, Principal, Role
from onecity.core.devices.ingest import TelemetryHook
from onecity.core.modules import Module, Page
from onecity.core.platform import Platform
from onecity.core.workers import Loop
from onecity.waste import overview, services
from onecity.waste.cli import waste_app
from onecity.waste.jobs import api as jobs_api
from onecity.waste.jobs import citizen_reports as reports
from onecity.waste.jobs.monitor import StationMonitor
from onecity.waste.ledger import api
from onecity.waste.monitoring import finder_api as public_api
from onecity.waste.monitoring import ngsi
from onecity.waste.monitoring import telemetry as jobs_telemetry
from onecity.waste.planning import api as plan_api
from onecity.waste.reporting import api as stats_api
from onecity.waste.rules.stations import STATION_TYPE
from onecity.waste.services import WasteServices

HERE = Path(__file__).parent


def sees_records(who: Principal, p: Platform) -> bool:
    """Operators' pages show the records of the department that runs the stations (the same
    rule the service applies to every operator call)."""
    return who.sees_department(p.services(WasteServices).ledger.department)


def _staff(path: str, template: str, title: str, nav: str | None) -> Page:
    return Page(
        path=path,
        template=f"waste/{template}",
        title=title,
        nav=nav,
        permission=Perm.WASTE_READ.value,
        check=sees_records,
        refused="waste.refused",
    )


PAGES = (
    _staff(
        "/waste/transactions", "transactions.html", "waste.txns.title", "waste.nav.transactions"
    ),
    _staff("/waste/cards", "cards.html", "waste.cards.title", "waste.nav.cards"),
    _staff("/waste/cards/{card_id}", "card.html", "waste.card.title", None),
    _staff("/waste/blocklist", "blocklist.html", "waste.blocklist.title", "waste.nav.blocklist"),
    _staff(
        "/waste/settlements", "settlements.html", "waste.settlements.title", "waste.nav.settlements"
    ),
    _staff("/waste/reports", "reports.html", "waste.reports.title", "waste.nav.reports"),
    _staff("/waste/simulation", "simulation.html", "waste.sim.title", "waste.nav.simulation"),
    _staff("/waste/planner", "planner.html", "waste.planner.title", "waste.nav.planner"),
    Page(
        path="/waste/my-cards",
        template="waste/my_cards.html",
        title="waste.my.title",
        nav="waste.nav.my_cards",
        permission=Perm.OWN_CARDS.value,
        home_for=(Role.CITIZEN.value,),
    ),
    # The tariff is public (like GET /api/v1/waste/tariffs): what a drop costs is no secret.
    Page(
        path="/waste/tariffs",
        template="waste/tariffs.html",
        title="waste.tariffs.title",
        nav="waste.nav.tariffs",
        public=True,
    ),
    # The crews' list in the truck: their own permission, for the department that runs the
    # stations (another department's crew or operator would only be refused its trucks).
    Page(
        path="/waste/jobs",
        template="waste/jobs.html",
        title="waste.jobs.title",
        nav="waste.nav.jobs",
        permission=Perm.WASTE_JOBS.value,
        check=sees_records,
        refused="waste.refused",
        home_for=(Role.CREW.value,),
    ),
    # Public like the tariffs: which station takes waste now is for everybody.
    Page(
        path="/waste/stations",
        template="waste/stations.html",
        title="waste.finder.title",
        nav="waste.nav.finder",
        public=True,
    ),
)


def reconcile_loop(p: Platform, every_s: float = 3600.0) -> Loop:
    """Flag cards whose missing counters stayed missing past the grace period, hourly."""
    return Loop(
        "waste-reconcile", every_s, lambda: p.services(WasteServices).ledger.reconcile_gaps()
    )


def offline_loop(p: Platform, every_s: float = 30.0) -> Loop:
    """Raise `offline` jobs for silent stations and escalate overdue jobs, every 30 s."""
    return Loop("waste-offline", every_s, lambda: p.services(WasteServices).jobs.check_offline())


def planner_loop(p: Platform, every_s: float = 30.0) -> Loop:
    """Make today's plan (and tomorrow's, in the evening) when there is none, and put urgent
    jobs raised mid-shift into the running routes."""

    def step() -> None:
        planner = p.services(WasteServices).planner
        planner.ensure_plans()
        planner.replan_urgent_jobs()

    return Loop("waste-planner", every_s, step)


# Station telemetry to crew jobs, in the ingest's own transaction (jobs/monitor.py).
STATION_HOOK = TelemetryHook(apply=StationMonitor().apply, validate=jobs_telemetry.validate)

MODULE = Module(
    name="waste",
    build=services.build,
    routers=(api.router, jobs_api.router, plan_api.router, public_api.router, stats_api.router),
    cli=waste_app,
    loops=(reconcile_loop, offline_loop, planner_loop),
    telemetry_hooks={STATION_TYPE: STATION_HOOK},
    open311_services=reports.SERVICES,
    department=reports.DEPARTMENT,
    ngsi_types=(ngsi.WASTE_CONTAINERS,),
    pages=PAGES,
    cards=overview.CARDS,
    templates=HERE / "templates",
    static=HERE / "static",
    i18n=HERE / "i18n",
)
