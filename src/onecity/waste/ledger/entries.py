"""Pure pieces of the ledger's bookkeeping: the hash that makes an upload idempotent and the
double entry of one transaction."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.models import CARD_VALUE, FEE_REVENUE, REBATE_EXPENSE, TOPUP_CASH


def payload_hash(t: sc.TxnIn | sc.UnconfirmedIn, dumped: dict[str, Any] | None = None) -> str:
    """What a station sent, independent of the offset it wrote the time in. `dumped` is
    `t.model_dump(mode="json")` when the caller already has it."""
    if dumped is None:
        dumped = t.model_dump(mode="json")
    if "link_code" in dumped:
        # Never in the hash: it is stored beside the transaction and would let whoever reads
        # it test guesses of the code. Stations from before link codes hash the same as then.
        dumped = {k: v for k, v in dumped.items() if k != "link_code"}
    return json_hash(dumped | {"occurred_at": t.occurred_at.astimezone(UTC).isoformat()})


def json_hash(obj: Any) -> str:
    raw = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def postings_for(kind: str, amount: int) -> list[tuple[str, int]]:
    """The double entry of one transaction: (account, signed NT$), summing to zero."""
    if amount == 0:
        return []
    if kind == "garbage":
        return [(CARD_VALUE, amount), (FEE_REVENUE, -amount)]
    if kind == "recycle":
        return [(CARD_VALUE, amount), (REBATE_EXPENSE, -amount)]
    return [(CARD_VALUE, amount), (TOPUP_CASH, -amount)]
