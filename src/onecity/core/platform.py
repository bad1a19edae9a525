"""The platform object: settings, database, city profile, the core services and each enabled
module's services, built once per process (core.modules.start_platform) and handed to
whoever needs them.

A module's services are one frozen dataclass per module (its `Module.build`), found by their
type: `platform.services(WasteServices).ledger` is typed end to end, with no string keys."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TypeVar

from onecity.core import events
from onecity.core.auth.service import AuthService
from onecity.core.db import Database
from onecity.core.devices.ingest import Ingester, TelemetryHook
from onecity.core.devices.ranges import ranges_from_profile
from onecity.core.devices.service import DeviceService
from onecity.core.devices.telemetry import TelemetryQueries
from onecity.core.geo import CityProfile
from onecity.settings import Settings

S = TypeVar("S")


class Platform:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.database_url)
        hole_wait = events.holes(self.db)
        hole_wait.grace_s = settings.outbox_hole_grace_s
        hole_wait.max_wait_s = settings.outbox_hole_max_wait_s
        self.city = CityProfile.load(settings.city)
        # Checked now, so a wrong district code or language stops start-up naming its key.
        if not self.city.district_names:
            raise ValueError("city profile: the district boundaries hold no district")
        # Filled once by core.modules.start_platform: each enabled module's services and
        # telemetry hooks.
        self._services: dict[type, object] = {}
        self._hooks: dict[str, TelemetryHook] = {}
        self._departments: dict[str, str] = {}
        self.started = False

    def add_module(self, services: object | None, hooks: Mapping[str, TelemetryHook]) -> None:
        """Called by core.modules.start_platform for each enabled module, in dependency order."""
        if services is not None:
            if type(services) in self._services:
                raise ValueError(f"{type(services).__name__} is built twice on one platform")
            self._services[type(services)] = services
        for dtype, hook in hooks.items():
            if dtype in self._hooks:
                raise ValueError(f"two modules hook the telemetry of device type '{dtype}'")
            self._hooks[dtype] = hook

    def set_department(self, module: str, code: str) -> None:
        """Called by core.modules.install, before the module's services are built."""
        self._departments[module] = code

    def department(self, module: str) -> str:
        """The department that runs an enabled module in this city (checked at start-up)."""
        try:
            return self._departments[module]
        except KeyError:
            raise LookupError(f"module '{module}' is not enabled on this platform") from None

    def services(self, kind: type[S]) -> S:
        """The services of an enabled module, e.g. `platform.services(WasteServices)`."""
        found = self._services.get(kind)
        if not isinstance(found, kind):
            raise LookupError(
                f"no {kind.__name__} on this platform: is its module in ONECITY_MODULES, and was "
                "the platform built by onecity.core.modules.start_platform?"
            )
        return found

    @cached_property
    def auth(self) -> AuthService:
        return AuthService(self.db, self.settings)

    @cached_property
    def devices(self) -> DeviceService:
        return DeviceService(self.db, self.city, self.settings.heartbeat_grace_factor)

    @cached_property
    def telemetry(self) -> TelemetryQueries:
        return TelemetryQueries(self.devices)

    @cached_property
    def ingester(self) -> Ingester:
        # The enabled modules' telemetry hooks (added by core.modules.start_platform).
        ranges = ranges_from_profile(self.city.raw.get("device_types", {}))
        return Ingester(self.db, self.settings, dict(self._hooks), ranges)
