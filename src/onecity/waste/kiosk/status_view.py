"""`onecity kiosk status` as tables, for the station's operator: the station and its link to
the city, its transactions and open batch, each batch's balance, what went wrong, and the
last one-time code shown on the screen. `--json` keeps the machine-readable form."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _table(title: str, *columns: str) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold")
    for c in columns:
        t.add_column(c, justify="right" if c in NUMERIC else "left")
    return t


NUMERIC = {
    "pending",
    "stored",
    "duplicate",
    "refused",
    "unknown",
    "txns",
    "charged NT$",
    "rebated NT$",
    "net NT$",
    "seq",
    "NT$",
    "visits",
    "next seq",
}


def _when(iso: str | None) -> str:
    """'2026-12-05T20:16:02.123+08:00' as '2026-12-05 20:16:02' (the station's own clock)."""
    return iso[:19].replace("T", " ") if iso else "never"


def tables(st: dict[str, Any]) -> list[Table]:
    c = st["counts"]
    station = _table("Station", "station", "visits", "link", "last upload", "blocklist", "state")
    state = st["out_of_service"] and f"[red]out of service: {st['out_of_service']}[/]"
    if st["paper_out"]:
        state = (state + ", " if state else "") + "[yellow]receipt paper out[/]"
    link = f"last contact {_when(st['last_contact_at'])}"
    if st["last_upload_error"]:
        link += f"\n[red]last error: {st['last_upload_error']}[/]"
    station.add_row(
        f"{st['station']}\n[dim]{st['journal']}[/]",
        str(st["sessions"]),
        link,
        _when(st["last_upload_at"]),
        f"v{st['blocklist_version']}, {st['blocked_cards']} cards",
        state or "[green]in service[/]",
    )
    txns = _table(
        "Transactions",
        "pending",
        "stored",
        "duplicate",
        "refused",
        "unknown",
        "open batch",
        "next seq",
    )
    ob = st["open_batch"]
    txns.add_row(
        str(c["pending"]),
        str(c["stored"]),
        str(c["duplicate"]),
        f"[red]{c['refused']}[/]" if c["refused"] else "0",
        f"[yellow]{c['unknown_outcomes']}[/]" if c["unknown_outcomes"] else "0",
        f"{ob['batch_no']} since {_when(ob['opened_at'])}",
        str(st["next_seq"]),
    )
    out = [station, txns]
    if st["settlements"]:
        days = _table(
            "Batches (balance)", "batch", "txns", "charged NT$", "rebated NT$", "net NT$", "status"
        )
        for s in st["settlements"]:
            net = s["debit_total"] - s["credit_total"]
            days.add_row(
                str(s["batch_no"]),
                str(s["count"]),
                f"{s['debit_total']:,}",
                f"{s['credit_total']:,}",
                f"{net:,}",
                s["status"],
            )
        out.append(days)
    if st["refused"] or st["unknown_outcomes"]:
        bad = _table("To look at", "seq", "card", "what", "NT$")
        for r in st["refused"]:
            bad.add_row(
                str(r["terminal_seq"]), r["card_id"], f"refused: {r['error']}: {r['detail']}", ""
            )
        for u in st["unknown_outcomes"]:
            bad.add_row(str(u["terminal_seq"]), u["card_id"], "unknown outcome", f"{u['amount']:,}")
        out.append(bad)
    if st["last_link_code"]:
        codes = _table("Last one-time code on the screen", "seq", "card", "screen")
        for k in st["last_link_code"]:
            codes.add_row(str(k["terminal_seq"]), k["card_id"], k["en"])
        out.append(codes)
    return out


def show(st: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    for t in tables(st):
        console.print(t)
