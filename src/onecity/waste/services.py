"""iTrash's services, built once per platform at start-up (core.modules.start_platform calls
`build`). Routes, workers, the CLI and tests take them from the platform:
`platform.services(WasteServices).ledger`."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from onecity.core.modules import module_settings
from onecity.core.platform import Platform
from onecity.core.travel import provider
from onecity.waste.jobs.service import StationJobs
from onecity.waste.ledger.card_links import card_link_key
from onecity.waste.ledger.service import WasteService
from onecity.waste.monitoring.finder import PublicStations
from onecity.waste.planning.policy import TRUCK_CLASS
from onecity.waste.planning.service import CollectionPlanner, PlannerConfig
from onecity.waste.reporting.stats import Reports
from onecity.waste.rules.city_tariffs import tariffs_from_profile


@dataclass(frozen=True)
class WasteServices:
    ledger: WasteService  # stations' uploads, cards, settlements (ledger/)
    jobs: StationJobs  # crews' jobs from station alerts (jobs/)
    planner: CollectionPlanner  # collection plans and routes (planning/)
    finder: PublicStations  # the citizens' station finder (monitoring/)
    reports: Reports  # the department's reports and open data (reporting/)


def ledger_service(p: Platform) -> WasteService:
    """The ledger with the city's tariffs and rebates (city.toml [waste.tariffs]); a wrong or
    missing entry there stops start-up with a ValueError naming its key."""
    tariffs = tariffs_from_profile(p.city.raw)
    return WasteService(
        p.db,
        p.city,
        tariffs.garbage,
        link_key=card_link_key(p.settings),
        rebate_points=tariffs.rebate_points,
        department=p.department("waste"),
    )


def build(p: Platform) -> WasteServices:
    conf = module_settings(p.city, "waste")
    ledger = ledger_service(p)
    planner = CollectionPlanner(
        p.db,
        ZoneInfo(p.city.timezone),
        PlannerConfig(
            department=p.department("waste"),
            solve_s=float(conf.get("plan_seconds", 5.0)),
            replan_s=float(conf.get("replan_seconds", 2.0)),
        ),
        provider(p.city, TRUCK_CLASS, conf.get("osrm_url")),
        city=p.city,
    )
    return WasteServices(
        ledger=ledger,
        jobs=StationJobs(p.db),
        planner=planner,
        finder=PublicStations(p.db),
        reports=Reports(p.db, ZoneInfo(p.city.timezone), ledger.department),
    )
