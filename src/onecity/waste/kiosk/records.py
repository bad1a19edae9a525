"""What the station's journal hands out: its errors, an intent, the open batch, a settlement,
the server's answer for one transaction, and the tariffs as the protocol carries them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from onecity.waste.rules.money import RuleError, Tariff, TariffTable


class JournalError(Exception):
    pass


class BatchBusy(JournalError):
    """The open batch has a card write in flight; close it once the write is journaled."""


@dataclass(frozen=True)
class Intent:
    terminal_seq: int
    batch_no: int
    kind: str
    card_id: str
    amount: int
    points_after: int | None
    occurred_at: str
    detail: dict[str, Any]
    status: str = "open"


@dataclass(frozen=True)
class OpenBatch:
    batch_no: int
    opened_at: datetime


@dataclass(frozen=True)
class Settlement:
    batch_no: int
    opened_at: str
    closed_at: str
    count: int
    debit_total: int
    credit_total: int
    first_seq: int | None
    last_seq: int | None
    upload_status: str = "pending"

    def payload(self) -> dict[str, Any]:
        """The protocol's settlement body."""
        return {
            "batch_no": self.batch_no,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "count": self.count,
            "debit_total": self.debit_total,
            "credit_total": self.credit_total,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
        }


@dataclass(frozen=True)
class Answer:
    """The server's answer for one transaction."""

    terminal_seq: int
    status: str  # "stored" | "duplicate"
    txn_id: int | None = None
    card_flagged: bool = False


def tariffs_from_json(raw: Sequence[dict[str, Any]]) -> tuple[Tariff, ...]:
    """Tariffs as the server sends them (sign-on, GET /tariffs) into domain Tariffs."""
    out = []
    for t in raw:
        out.append(
            Tariff(
                effective_from=date.fromisoformat(str(t["effective_from"])),
                steps=tuple((int(g), int(p)) for g, p in t["steps"]),
                increment_g=int(t["increment_g"]),
                per_increment=int(t["per_increment"]),
                name=str(t.get("name", "")),
            )
        )
    if not out:
        raise RuleError("an empty tariff table")
    TariffTable(tuple(out))  # same-day versions are refused here
    return tuple(out)


def tariffs_to_json(tariffs: Sequence[Tariff]) -> list[dict[str, Any]]:
    return [
        {
            "effective_from": t.effective_from.isoformat(),
            "name": t.name,
            "steps": [[g, p] for g, p in t.steps],
            "increment_g": t.increment_g,
            "per_increment": t.per_increment,
        }
        for t in tariffs
    ]
