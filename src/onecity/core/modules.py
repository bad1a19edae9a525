"""What a domain module hands the platform. Each module's package exposes `MODULE`.

The app mounts the routers of every enabled module (settings.modules, comma-separated) after
checking that the modules it depends on are enabled too; the MQTT ingester subscribes the
topic handlers; telemetry ingest hands each hooked device type's new messages to its module
(in the same transaction); the Open311 endpoint serves their service codes; the dashboard
adds the map layers and renders the module's pages (its templates, static files and strings
ride along).
Core never imports a module: modules are found by name at start-up."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from onecity.core.auth.permissions import Principal
from onecity.core.db import Database
from onecity.core.devices.ingest import TelemetryHook
from onecity.core.geo import CityProfile
from onecity.core.ngsi_entities import EntityType
from onecity.core.open311 import Open311Service
from onecity.core.overview import Card
from onecity.core.platform import Platform
from onecity.settings import Settings

# A topic filter (e.g. "onecity/waste/+/event") and a handler of (topic, payload).
MqttHandler = tuple[str, Callable[[str, bytes], None]]


@dataclass(frozen=True)
class MapLayer:
    id: str
    title: dict[str, str]  # per language
    geojson_url: str


# Beyond the permission: may this principal use the page on this platform (e.g. is the module's
# department one they see)? False gets the "not for you" page.
PageCheck = Callable[[Principal, Platform], bool]


@dataclass(frozen=True)
class Page:
    """A dashboard page a module ships. The web shell builds its route and renders `template`
    (a name under the module's own subfolder, "<module>/<file>.html", extending "base.html")
    with the page's path parameters in `config.page`.

    `title` and `nav` are keys of the module's string catalogs; a page with `nav` gets a link in
    the header for those who may open it. `permission` is a Perm value the user must hold
    (`None`: any logged-in user); `check` narrows that further. A `public` page needs no
    session at all (permission and check are then ignored)."""

    path: str
    template: str
    title: str
    nav: str | None = None
    permission: str | None = None
    public: bool = False
    check: PageCheck | None = None
    # The i18n key of the sentence the refusal page shows when `check` says no.
    refused: str | None = None
    # Roles (Role values) that land on this page after logging in: the page made for their
    # day (a crew's job list, a contractor's permits, a citizen's cards).
    home_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class Module:
    name: str
    depends_on: Sequence[str] = ()
    routers: Sequence[APIRouter] = ()
    mqtt_handlers: Sequence[MqttHandler] = ()
    cli: Any | None = None  # a typer.Typer mounted as `onecity <name> ...`
    layers: Sequence[MapLayer] = field(default_factory=tuple)
    pages: Sequence[Page] = ()
    # Folders: Jinja templates (holding a subfolder named after the module), static files
    # (served at /static/<name>/) and string catalogs (<lang>.json, merged into the web's).
    templates: Path | None = None
    static: Path | None = None
    i18n: Path | None = None
    # Background work: factories that build a started-later thread (core.workers.Loop) for a
    # platform. The app starts them when ONECITY_RUN_WORKERS is true; each step must be safe
    # to run in several processes at once.
    loops: Sequence[Callable[[Platform], Any]] = ()
    # Kinds of citizen report (Open311 service codes) that land in this module's department's
    # queue; the core serves them all at /open311/v2 (docs/open311.md).
    open311_services: Sequence[Open311Service] = ()
    # Device type -> what the module does with that type's telemetry, inside the ingest's
    # transaction (core.devices.ingest.TelemetryHook); e.g. waste: "waste_station".
    telemetry_hooks: Mapping[str, TelemetryHook] = field(default_factory=dict, hash=False)
    # NGSI-LD entity types the module serves through the core's read API (core.ngsi), made
    # from its devices' state; e.g. waste: WasteContainer.
    ngsi_types: Sequence[EntityType] = ()
    # The module's services, built once per platform at start-up (start below): a frozen
    # dataclass that routes, workers, the CLI and tests get with `platform.services(<type>)`.
    build: Callable[[Platform], object] | None = None
    # The department that runs the module unless the city profile's `[modules.<name>]` names
    # another (`department = "..."`); its staff see the module's records and its Open311
    # services land in that department's queue. Resolved and checked once at start-up:
    # `platform.department(<name>)`.
    department: str | None = None
    # The module's cards on the city overview (core.overview.Card): figures, chart, map
    # layer, freshness and who may see each; the core serves them at /api/v1/overview.
    cards: Sequence[Card] = ()


def start_platform(settings: Settings, db: Database | None = None) -> Platform:
    """The one place a process builds its platform: the core services, then every enabled
    module's services and telemetry hooks, in dependency order."""
    platform = Platform(settings, db)
    install(platform, load(settings.modules))
    return platform


def install(platform: Platform, modules: Sequence[Module]) -> None:
    if platform.started:
        raise ValueError("this platform's modules are installed already")
    for m in modules:
        if m.department:
            platform.set_department(m.name, department_of(platform.city, m.name, m.department))
        platform.add_module(m.build(platform) if m.build else None, m.telemetry_hooks)
    platform.started = True


def module_settings(city: CityProfile, name: str) -> Mapping[str, Any]:
    """The city profile's `[modules.<name>]` table (empty when the profile has none)."""
    table = city.raw.get("modules", {})
    if not isinstance(table, dict):
        raise ValueError("city profile: [modules] must be a table of per-module tables")
    conf = table.get(name, {})
    if not isinstance(conf, dict):
        raise ValueError(f"city profile: [modules.{name}] must be a table")
    return conf


def department_of(city: CityProfile, name: str, default: str) -> str:
    """The department that runs module `name` in this city: its profile's choice or the
    module's default, which must be one of the city's departments."""
    chosen = module_settings(city, name).get("department", default)
    known = {d.code for d in city.departments}
    if not isinstance(chosen, str) or chosen not in known:
        raise ValueError(
            f"city profile '{city.id}': [modules.{name}] department = {chosen!r} is not one of "
            f"its departments ({', '.join(sorted(known))})"
        )
    return chosen


def load(names: str) -> list[Module]:
    """Import `onecity.<name>` for each enabled module, in dependency order."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    found: dict[str, Module] = {}
    for name in wanted:
        mod = importlib.import_module(f"onecity.{name}.module")
        module = getattr(mod, "MODULE", None)
        if not isinstance(module, Module):
            raise ValueError(f"onecity.{name}.module has no MODULE")
        found[name] = module
    for m in found.values():
        missing = [d for d in m.depends_on if d not in found]
        if missing:
            raise ValueError(f"module '{m.name}' needs {', '.join(missing)} enabled too")
    ordered: list[Module] = []

    def visit(m: Module) -> None:
        if m in ordered:
            return
        for d in m.depends_on:
            visit(found[d])
        ordered.append(m)

    for m in found.values():
        visit(m)
    return ordered
