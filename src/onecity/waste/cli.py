"""`onecity waste …`: the ledger's operations from the command line."""

from __future__ import annotations

import typer
from rich.console import Console

from onecity.core.platform import Platform
from onecity.settings import Settings
from onecity.waste.service import GAP_GRACE, WasteService

waste_app = typer.Typer(help="iTrash ledger operations.", no_args_is_help=True)
console = Console()


@waste_app.command()
def reconcile(
    grace_days: float = typer.Option(
        GAP_GRACE.total_seconds() / 86400, help="how long a missing card counter may stay missing"
    ),
) -> None:
    """Flag (and block) cards whose missing counters stayed missing past the grace period,
    then print the ledger's totals. Exits 1 if the ledger does not balance."""
    from datetime import timedelta

    p = Platform(Settings())
    svc = WasteService(p.db, p.city)
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
