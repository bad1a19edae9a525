"""RPIC's services, built once per platform at start-up (core.modules.start_platform calls
`build`). Routes, workers, the CLI and tests take them from the platform:
`platform.services(RoadworksServices).permits`."""

from __future__ import annotations

from dataclasses import dataclass

from onecity.core.platform import Platform
from onecity.core.workdays import WorkCalendar, calendar_from_profile
from onecity.roadworks.config import RoadworksConfig
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.pipes.service import PipeService
from onecity.roadworks.public.reference import Reference
from onecity.roadworks.public.service import PublicWorks
from onecity.roadworks.registry.orgs import OrgRegistry
from onecity.roadworks.registry.service import RegistryService
from onecity.roadworks.sites.service import SiteService


@dataclass(frozen=True)
class RoadworksServices:
    permits: PermitService  # applications, decisions, works and locate answers (permits/)
    orgs: OrgRegistry  # utilities, contractors and their staff (registry/)
    registry: RegistryService  # dig bans, embargoes, fee tables, penalties (registry/)
    pipes: PipeService  # the 3D pipeline map and as-built surveys (pipes/)
    sites: SiteService  # live sites: cameras, frames, stage photos (sites/)
    public: PublicWorks  # the public works map, no login (public/)
    reference: Reference  # lines and names to draw against without map tiles (public/)


def build(p: Platform) -> RoadworksServices:
    config = RoadworksConfig(calendar=city_calendar(p), department=p.department("roadworks"))
    permits = PermitService(p.db, p.city, config)
    return RoadworksServices(
        permits=permits,
        orgs=OrgRegistry(p.db, permits.config.department, permits.today),
        registry=RegistryService(permits),
        pipes=PipeService(permits),
        sites=SiteService(permits),
        public=PublicWorks(permits),
        reference=Reference(p.city),
    )


def city_calendar(p: Platform) -> WorkCalendar:
    """The city's working days; a wrong [calendar] in city.toml stops start-up, naming it."""
    try:
        return calendar_from_profile(p.city.raw)
    except ValueError as e:
        raise ValueError(f"{p.city.folder / 'city.toml'}: {e}") from None
