"""The platform object: settings, database, city profile and the core services, built once
per process by create_app or the CLI and handed to whoever needs them."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from onecity.core import events
from onecity.core.auth.service import AuthService
from onecity.core.db import Database
from onecity.core.devices.ingest import Ingester, TelemetryHook
from onecity.core.devices.ranges import ranges_from_profile
from onecity.core.devices.service import DeviceService
from onecity.core.devices.telemetry import TelemetryQueries
from onecity.core.geo import CityProfile
from onecity.settings import Settings


class Platform:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.database_url)
        hole_wait = events.holes(self.db)
        hole_wait.grace_s = settings.outbox_hole_grace_s
        hole_wait.max_wait_s = settings.outbox_hole_max_wait_s
        self.city = CityProfile.load(settings.city)
        # Services of domain modules, built once per platform by the module (by name).
        self.modules: dict[str, Any] = {}

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
        # The enabled modules' telemetry hooks, found when first needed (core.modules imports
        # this file, hence the late import).
        from onecity.core import modules

        hooks: dict[str, TelemetryHook] = {}
        for m in modules.load(self.settings.modules):
            for dtype, hook in m.telemetry_hooks.items():
                if dtype in hooks:
                    raise ValueError(f"two modules hook the telemetry of device type '{dtype}'")
                hooks[dtype] = hook
        ranges = ranges_from_profile(self.city.raw.get("device_types", {}))
        return Ingester(self.db, self.settings, hooks, ranges)
