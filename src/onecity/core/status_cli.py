"""`onecity status` and the long lists (`devices list`, `alerts list`, `users list`): Rich
tables a page at a time (--limit, --offset), times in the city's time zone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from onecity.core.cli_lists import Page
from onecity.settings import Settings

console = Console()

Limit = Annotated[int, typer.Option(help="rows per page (1-500)")]
Offset = Annotated[int, typer.Option(help="rows to skip: the next page starts at the offset shown")]


def _city_tz() -> ZoneInfo:
    """Times on the command line are the city's, as on its dashboard."""
    from onecity.core.geo import CityProfile

    return ZoneInfo(CityProfile.load(Settings().city).timezone)


def _show(title: str, page: Callable[[], Page]) -> None:
    try:
        console.print(page().table(title))
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None


def status() -> None:
    """The platform at a glance: database, modules, devices by connectivity, open alerts."""
    from onecity.core import cli_lists
    from onecity.core.db import Database

    s = Settings()
    mods = [m.strip() for m in s.modules.split(",") if m.strip()]
    console.print(cli_lists.status(Database(s.database_url), mods, _city_tz()))


def devices_list(
    type_: Annotated[str | None, typer.Option("--type", help="e.g. litter_bin")] = None,
    department: Annotated[str | None, typer.Option(help="department code, e.g. epb")] = None,
    connectivity: Annotated[str | None, typer.Option(help="online, offline or unknown")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> None:
    """The device registry, a page at a time."""
    from onecity.core import cli_lists
    from onecity.core.db import Database

    db = Database(Settings().database_url)
    _show(
        "Devices",
        lambda: cli_lists.devices(
            db,
            type_=type_,
            department=department,
            connectivity=connectivity,
            limit=limit,
            offset=offset,
            tz=_city_tz(),
        ),
    )


def alerts_list(
    state: Annotated[
        str, typer.Option(help="active (default), open, acknowledged, resolved or all")
    ] = "active",
    limit: Limit = 50,
    offset: Offset = 0,
) -> None:
    """Alerts, newest first, a page at a time."""
    from onecity.core import cli_lists
    from onecity.core.db import Database

    if state not in ("active", "open", "acknowledged", "resolved", "all"):
        console.print("[red]--state must be active, open, acknowledged, resolved or all[/red]")
        raise typer.Exit(2)
    db, tz = Database(Settings().database_url), _city_tz()
    _show("Alerts", lambda: cli_lists.alerts(db, state=state, limit=limit, offset=offset, tz=tz))


def users_list(limit: Limit = 50, offset: Offset = 0) -> None:
    """People who may log in, a page at a time."""
    from onecity.core import cli_lists
    from onecity.core.db import Database

    db = Database(Settings().database_url)
    _show("Users", lambda: cli_lists.users(db, limit=limit, offset=offset))


def install(app: typer.Typer, *, devices_app: typer.Typer, users_app: typer.Typer) -> None:
    app.command("status")(status)
    devices_app.command("list")(devices_list)
    users_app.command("list")(users_list)
    alerts_app = typer.Typer(help="Alerts.")
    alerts_app.command("list")(alerts_list)
    app.add_typer(alerts_app, name="alerts")
