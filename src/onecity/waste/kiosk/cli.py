"""`onecity kiosk`: run a simulated iTrash station, look at its journal, close its batch."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # imported when run: `onecity --help` stays light
    from onecity.waste.kiosk.sim import FaultRates, RunSummary

kiosk_app = typer.Typer(
    help="The iTrash station software (kiosk): simulated hardware and citizens, a local "
    "journal, uploads to the server.",
    no_args_is_help=True,
)


def _say(text: str) -> None:
    print(text, flush=True)


@kiosk_app.command("run")
def run(
    station: Annotated[str, typer.Option(help="the station's device id, e.g. IT125")],
    server: Annotated[str, typer.Option(help="the OneCity server, e.g. http://127.0.0.1:8000")],
    key: Annotated[
        str | None, typer.Option(envvar="ONECITY_KIOSK_KEY", help="the station's device key")
    ] = None,
    journal: Annotated[
        Path | None, typer.Option(help="journal file [default: var/kiosk-<ID>.sqlite]")
    ] = None,
    wallet: Annotated[
        Path | None,
        typer.Option(help="the simulated cards [default: var/kiosk-<ID>-wallet.sqlite]"),
    ] = None,
    cards: Annotated[int, typer.Option(min=1, help="simulated cards in the wallet")] = 50,
    card_balance: Annotated[int, typer.Option(min=0, help="NT$ on each new card")] = 1000,
    rate: Annotated[float, typer.Option(min=0.0, help="citizens per minute")] = 2.0,
    max_sessions: Annotated[
        int | None, typer.Option(min=1, help="serve this many visits, upload, then exit")
    ] = None,
    drain_seconds: Annotated[
        float, typer.Option(help="with --max-sessions: wait at most this long for uploads")
    ] = 60.0,
    speed: Annotated[
        float, typer.Option(min=0.01, help="run waits this many times faster (times stay real)")
    ] = 1.0,
    batch_minutes: Annotated[
        float | None,
        typer.Option(help="close the batch every M minutes instead of at local midnight"),
    ] = None,
    settle_on_exit: Annotated[bool, typer.Option(help="close the open batch on exit")] = False,
    faults: Annotated[
        float, typer.Option(min=0.0, help="multiply every fault rate (0: nothing goes wrong)")
    ] = 1.0,
    paper_roll: Annotated[
        int, typer.Option(min=0, help="receipts per paper roll (0: never runs out)")
    ] = 400,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    lang: Annotated[str, typer.Option(help="screen language: en, zh or both")] = "en",
    quiet: Annotated[
        bool, typer.Option(help="print only restarts and the summary, not every screen")
    ] = False,
) -> None:
    """Run a station with simulated hardware and citizens, uploading to SERVER."""
    from onecity.waste.kiosk.sim import KioskBusy, KioskConfig, SimulatedKiosk

    rates = _fault_rates(faults, paper_roll)
    cfg = KioskConfig(
        station=station,
        server=server,
        key=key,
        journal=journal,
        wallet=wallet,
        cards=cards,
        card_balance=card_balance,
        rate=rate,
        max_sessions=max_sessions,
        speed=speed,
        batch_minutes=batch_minutes,
        seed=seed,
        drain_seconds=drain_seconds,
        settle_on_exit=settle_on_exit,
        faults=rates,
        lang=lang,
    )
    if not key:
        _say("warning: no device key (--key or ONECITY_KIOSK_KEY); the server will refuse uploads")
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second signal: stop now (the journal is safe)
        _say(f"{signal.Signals(signum).name}: stopping after this visit")
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    kiosk = SimulatedKiosk(cfg, out=_say, quiet=quiet)
    _say(
        f"kiosk {station} · journal {cfg.journal_path} · wallet {cfg.wallet_path} · server {server}"
    )
    try:
        s = kiosk.run(stop)
    except KioskBusy as e:
        _say(str(e))
        raise typer.Exit(2) from None
    _summary(s)
    if max_sessions is not None and not s.drained:
        _say("not everything was uploaded; the journal keeps it for the next run")
        raise typer.Exit(1)


def _fault_rates(faults: float, paper_roll: int) -> FaultRates:
    """The simulation's fault rates, each multiplied by `faults`."""
    from onecity.waste.kiosk.sim import FaultRates

    base = FaultRates()
    return FaultRates(
        card_pull=base.card_pull * faults,
        never_back=base.never_back,
        door_jam=base.door_jam * faults,
        scale_error=base.scale_error * faults,
        no_deposit=base.no_deposit * faults,
        blocked_card=base.blocked_card * faults,
        overweight=base.overweight * faults,
        paper_roll=paper_roll or None,
    )


def _summary(s: RunSummary) -> None:
    c = s.counts
    outcomes = ", ".join(f"{k} {v}" for k, v in s.outcomes.most_common())
    _say(f"{s.sessions} visits: {outcomes or 'none'}")
    _say(
        f"transactions: {c.get('stored', 0)} stored ({c.get('duplicate', 0)} duplicate) · "
        f"{c.get('pending', 0)} pending · {c.get('refused', 0)} refused · "
        f"{c.get('unknown_outcomes', 0)} unknown outcomes · open batch {s.batch_no}"
    )


def _status(path: Path) -> dict[str, Any]:
    from onecity.waste.kiosk.hardware import SystemClock
    from onecity.waste.kiosk.journal import Journal
    from onecity.waste.kiosk.records import JournalError

    if not path.exists():
        _say(f"no journal at {path}")
        raise typer.Exit(2)
    try:
        j = Journal(path, None, SystemClock())
    except JournalError as e:
        _say(str(e))
        raise typer.Exit(2) from None
    with j:
        batch = j.batch()
        refused = [
            {
                "terminal_seq": t["terminal_seq"],
                "card_id": t["card_id"],
                "error": t["_upload"]["error"],
                "detail": t["_upload"]["detail"],
            }
            for t in j.transactions()
            if t["_upload"]["status"] == "refused"
        ]
        return {
            "station": j.station,
            "journal": str(path),
            "counts": j.counts(),
            "open_batch": {"batch_no": batch.batch_no, "opened_at": batch.opened_at.isoformat()},
            "next_seq": j.next_seq,
            "last_upload_at": j.get("last_upload_at"),
            "last_contact_at": j.get("last_contact_at"),
            "last_upload_error": j.get("last_upload_error"),
            "signed_on_at": j.get("signed_on_at"),
            "blocklist_version": j.blocklist_version(),
            "blocked_cards": len(j.blocked_cards()),
            "out_of_service": j.out_of_service(),
            "paper_out": bool(j.get("paper_out", False)),
            "sessions": j.get("sessions", 0),
            "settlements": [
                {**s.payload(), "status": s.upload_status} for s in j.settlements()[-10:]
            ],
            "refused": refused[-20:],
            "unknown_outcomes": [
                {"terminal_seq": i.terminal_seq, "card_id": i.card_id, "amount": i.amount}
                for i in j.unknown_intents()[-20:]
            ],
            # What the screen last showed for linking a card (the demo's way to try it); the
            # code is masked unless the station is a simulated (demo) one (machine.py).
            "last_link_code": [
                {"card_id": e["card_id"], "terminal_seq": e["terminal_seq"], "en": e["en"]}
                for e in j.events(limit=1, code="link_code")
            ],
        }


@kiosk_app.command("status")
def status(
    journal: Annotated[Path, typer.Option(help="the kiosk's journal file")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The station and its link, its transactions and open batch, each batch's balance, what
    was refused, and the last one-time code shown, as tables (`--json`: as JSON)."""
    st = _status(journal)
    if as_json:
        _say(json.dumps(st, ensure_ascii=False, indent=2))
        return
    from onecity.waste.kiosk.status_view import show

    show(st)


@kiosk_app.command("settle")
def settle(
    journal: Annotated[Path, typer.Option(help="the kiosk's journal file")],
    wait: Annotated[float, typer.Option(help="seconds to wait for a running kiosk")] = 30.0,
) -> None:
    """Close the open batch now (a running kiosk closes it between two visits)."""
    from onecity.waste.kiosk.hardware import SystemClock
    from onecity.waste.kiosk.journal import Journal
    from onecity.waste.kiosk.machine import close_batch_now, recover_open_intents
    from onecity.waste.kiosk.records import BatchBusy, JournalError
    from onecity.waste.kiosk.store import JournalLock

    if not journal.exists():
        _say(f"no journal at {journal}")
        raise typer.Exit(2)
    lock = JournalLock(journal)
    try:
        j = Journal(journal, None, SystemClock())
    except JournalError as e:
        _say(str(e))
        raise typer.Exit(2) from None
    with j:
        if lock.acquire():  # no kiosk runs on this journal: close it here
            try:
                for it in recover_open_intents(j):
                    _say(f"seq {it.terminal_seq} ({it.card_id}): outcome unknown")
                s = close_batch_now(j)
            except BatchBusy as e:
                _say(str(e))
                raise typer.Exit(1) from None
            finally:
                lock.release()
        else:
            before = j.batch().batch_no
            j.put("settle_requested", True)
            _say(f"asked the running kiosk to close batch {before}")
            deadline = time.monotonic() + wait
            while j.batch().batch_no == before and time.monotonic() < deadline:
                time.sleep(0.2)
            if j.batch().batch_no == before:
                _say("the kiosk has not closed it yet; it will between two visits")
                return
            found = [x for x in j.settlements() if x.batch_no == before]
            if not found:
                return
            s = found[0]
    _say(
        f"batch {s.batch_no} closed: {s.count} transactions (seq {s.first_seq}–{s.last_seq}), "
        f"NT${s.debit_total} charged, NT${s.credit_total} rebated; it is sent once its "
        "transactions are uploaded"
    )


@kiosk_app.command("cards")
def cards_cmd(
    station: Annotated[str, typer.Option(help="the station's device id")],
    count: Annotated[int, typer.Option(min=1)] = 50,
    balance: Annotated[int, typer.Option(min=0)] = 1000,
) -> None:
    """Print the simulated cards a fresh wallet holds, as JSON to register on the server."""
    from onecity.waste.kiosk.sim import wallet_cards

    body = {
        "cards": [
            {"card_id": c, "balance": b, "counter": n}
            for c, b, n in wallet_cards(station, count, balance)
        ]
    }
    json.dump(body, sys.stdout, indent=2)
    print()
