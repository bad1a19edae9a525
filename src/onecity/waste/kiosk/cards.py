"""The card a station talks to, behind an interface, and a simulated EasyCard.

Stored value lives on the card; the card numbers its own transactions (a counter that rises
by one per write). A terminal identifies each of its transactions by (terminal id, terminal
sequence number) and retries an interrupted one with the same number: the card answers a
retry with the first result instead of charging twice. A real reader or an account-based
city card implements the same Protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Protocol

from onecity.waste.rules.money import CARD_MAX_BALANCE, POINTS_PER_NTD, RuleError


class CardError(Exception):
    """The card cannot do this (pulled out, blocked, not enough value, over its limit)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CardState:
    card_id: str
    balance: int
    counter: int
    blocked: bool
    points: int = 0  # recycling points carried to the next visit (below one NT$'s worth)


@dataclass(frozen=True)
class CardWrite:
    """One write on the card: what a receipt and the server's ledger record."""

    card_id: str
    terminal_id: str
    terminal_seq: int
    counter: int  # the card's transaction counter after this write
    amount: int  # + credit, - debit (NT$)
    balance_before: int
    balance_after: int
    points_before: int = 0
    points_after: int = 0


class CardAdapter(Protocol):
    def read(self) -> CardState: ...

    def debit(self, amount: int, terminal_id: str, terminal_seq: int) -> CardWrite: ...

    def credit(
        self, amount: int, terminal_id: str, terminal_seq: int, points_after: int | None = None
    ) -> CardWrite:
        """Add value; `points_after` also sets the carried recycling points (a recycling
        visit that earns less than NT$1 is a credit of 0 that only moves points)."""
        ...


@dataclass
class SimulatedEasyCard:
    """A real implementation of the card rules, kept in memory, for tests and the demo.

    `pull_after_write` simulates the citizen pulling the card at the worst moment: the write
    happens on the card but the terminal never hears back, so it must retry."""

    card_id: str
    balance: int = 0
    counter: int = 0
    blocked: bool = False
    points: int = 0
    pull_after_write: bool = False
    present: bool = True
    _done: dict[tuple[str, int], CardWrite] = field(default_factory=dict)

    def read(self) -> CardState:
        self._need_card()
        return CardState(self.card_id, self.balance, self.counter, self.blocked, self.points)

    def debit(self, amount: int, terminal_id: str, terminal_seq: int) -> CardWrite:
        return self._write(-amount, terminal_id, terminal_seq)

    def credit(
        self, amount: int, terminal_id: str, terminal_seq: int, points_after: int | None = None
    ) -> CardWrite:
        return self._write(amount, terminal_id, terminal_seq, points_after)

    def _need_card(self) -> None:
        if not self.present:
            raise CardError("card_removed", "the card was removed; insert it again")

    def _write(
        self, delta: int, terminal_id: str, terminal_seq: int, points_after: int | None = None
    ) -> CardWrite:
        self._need_card()
        key = (terminal_id, terminal_seq)
        points = self.points if points_after is None else points_after
        if key in self._done:
            done = self._done[key]
            if done.amount != delta or done.points_after != points:
                raise RuleError("a retry must repeat the same amount", field="amount")
            return done  # the retry of a write the card already made
        if self.blocked:
            raise CardError("card_blocked", "this card is blocked; please contact the city")
        if not 0 <= points < POINTS_PER_NTD:
            raise RuleError("carried points must be below one NT$'s worth", field="points")
        if delta == 0 and points == self.points:
            raise RuleError("a card write must move some value", field="amount")
        after = self.balance + delta
        if after < 0:
            raise CardError("insufficient_value", "not enough value on the card; please top up")
        if after > CARD_MAX_BALANCE:
            raise CardError("over_card_limit", f"a card holds at most NT${CARD_MAX_BALANCE:,}")
        self.counter += 1
        write = CardWrite(
            self.card_id,
            terminal_id,
            terminal_seq,
            self.counter,
            delta,
            self.balance,
            after,
            self.points,
            points,
        )
        self.balance = after
        self.points = points
        self._done[key] = write
        if self.pull_after_write:
            self.pull_after_write = False
            self.present = False
            raise CardError("card_removed", "the card was removed during the write")
        return write


@dataclass(frozen=True)
class Break:
    counter: int
    problem: str


def reconcile(writes: list[CardWrite]) -> list[Break]:
    """Check one card's history as the server received it: counters contiguous and each
    balance-before equal to the previous balance-after. A break means a lost upload or a
    cloned card; the caller flags the card."""
    found: list[Break] = []
    ordered = sorted(writes, key=lambda w: w.counter)
    for prev, cur in pairwise(ordered):
        if cur.counter == prev.counter:
            found.append(Break(cur.counter, "two writes with the same card counter (clone?)"))
        elif cur.counter != prev.counter + 1:
            found.append(Break(cur.counter, f"counter jumps from {prev.counter}"))
        elif cur.points_before != prev.points_after:
            found.append(
                Break(
                    cur.counter,
                    f"starts with {cur.points_before} points, previous ended "
                    f"with {prev.points_after}",
                )
            )
        elif cur.balance_before != prev.balance_after:
            found.append(
                Break(
                    cur.counter,
                    f"starts at NT${cur.balance_before}, previous ended at NT${prev.balance_after}",
                )
            )
    for w in ordered:
        if w.balance_after - w.balance_before != w.amount:
            found.append(Break(w.counter, "balance change does not equal the amount"))
    return found
