"""What a domain module hands the platform. Each module's package exposes `MODULE`.

The app mounts the routers of every enabled module (settings.modules, comma-separated) after
checking that the modules it depends on are enabled too; the MQTT ingester subscribes the
topic handlers; the dashboard adds the map layers. Core never imports a module: modules are
found by name at start-up."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter

# A topic filter (e.g. "onecity/waste/+/event") and a handler of (topic, payload).
MqttHandler = tuple[str, Callable[[str, bytes], None]]


@dataclass(frozen=True)
class MapLayer:
    id: str
    title: dict[str, str]  # per language
    geojson_url: str


@dataclass(frozen=True)
class Module:
    name: str
    depends_on: Sequence[str] = ()
    routers: Sequence[APIRouter] = ()
    mqtt_handlers: Sequence[MqttHandler] = ()
    cli: Any | None = None  # a typer.Typer mounted as `onecity <name> ...`
    layers: Sequence[MapLayer] = field(default_factory=tuple)


def load(names: str) -> list[Module]:
    """Import `onecity.<name>` for each enabled module, in dependency order."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    found: dict[str, Module] = {}
    for name in wanted:
        mod = importlib.import_module(f"onecity.{name}")
        module = getattr(mod, "MODULE", None)
        if not isinstance(module, Module):
            raise ValueError(f"onecity.{name} has no MODULE")
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
