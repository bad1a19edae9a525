"""Card flagging and blocking: a break in a card's chain of counters and balances is recorded
on the card; evidence of a clone also puts it on the blocklist the stations download."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from onecity.core import audit, events
from onecity.core.db import utcnow
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.models import WasteBlock, WasteCard, WasteCardFlag
from onecity.waste.ledger.sql import CardRow, Neighbours

RECONCILER = "reconciliation"


@dataclass(frozen=True)
class Break:
    """Where a card's chain does not follow: the flag to record on the card."""

    card_id: str
    counter: int
    problem: str
    detail: str
    terminal_id: str | None = None
    terminal_seq: int | None = None


def chain_breaks(card: CardRow, t: sc.TxnIn, known: Neighbours) -> list[tuple[str, str]]:
    """(problem, detail) for each side of `t` whose stored neighbour does not meet it."""
    found: list[tuple[str, str]] = []
    prev_c = t.card_counter - 1
    if prev_c == card.opening_counter:
        prev: tuple[int, int, int, int] | None = (
            card.opening_balance,
            card.opening_balance,
            card.opening_points,
            card.opening_points,
        )
    else:
        prev = known.get((t.card_id, prev_c))
    if prev is not None and (prev[1] != t.balance_before or prev[3] != t.points_before):
        found.append(
            (
                "balance_break",
                f"counter {t.card_counter} starts at NT${t.balance_before} "
                f"({t.points_before} pts); counter {prev_c} ended at NT${prev[1]} "
                f"({prev[3]} pts)",
            )
        )
    nxt = known.get((t.card_id, t.card_counter + 1))
    if nxt is not None and (nxt[0] != t.balance_after or nxt[2] != t.points_after):
        found.append(
            (
                "balance_break",
                f"counter {t.card_counter} ends at NT${t.balance_after} "
                f"({t.points_after} pts); counter {t.card_counter + 1} starts at "
                f"NT${nxt[0]} ({nxt[2]} pts)",
            )
        )
    return found


def flag(s: Session, department: str, card: WasteCard, b: Break, block: bool = True) -> None:
    """Record a break on a card. Evidence of a clone or a forged card (a reused counter,
    a balance that does not follow) also blocks it; a counter that never arrived only
    flags it for review, because far more often than a clone it is a write the station
    could not confirm (the card pulled mid-write and never brought back)."""
    s.add(
        WasteCardFlag(
            card_id=card.card_id,
            counter=b.counter,
            problem=b.problem,
            detail=b.detail,
            terminal_id=b.terminal_id,
            terminal_seq=b.terminal_seq,
        )
    )
    first = not card.flagged
    card.flagged = True
    if block and not card.blocked:
        set_block(s, card, True, f"{b.problem}: {b.detail}", RECONCILER)
    if first:
        audit.append(
            s,
            actor=RECONCILER,
            action="waste.card.flag",
            target=card.card_id,
            outcome="flagged",
            detail={"problem": b.problem, "detail": b.detail, "counter": b.counter},
        )
        events.emit(
            s,
            "waste.card_flagged",
            {"card_id": card.card_id, "problem": b.problem, "detail": b.detail},
            department,
        )


def set_block(s: Session, card: WasteCard, blocked: bool, reason: str, actor: str) -> WasteBlock:
    """Put a card on the blocklist or take it off: a new blocklist version."""
    card.blocked = blocked
    card.blocked_at = utcnow() if blocked else None
    entry = WasteBlock(card_id=card.card_id, blocked=blocked, reason=reason, actor=actor)
    s.add(entry)
    s.flush()
    return entry
