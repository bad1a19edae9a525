"""The station's states, the kinds of visit and how a visit ends (machine.py drives them)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_ITEMS_PER_VISIT = 500  # the protocol's limit on items in one transaction


class State(StrEnum):
    IDLE = "idle"
    CARD_READ = "card_read"
    DOOR_OPEN = "door_open"
    WEIGHING = "weighing"
    SETTLED = "settled"
    RECEIPT = "receipt"
    RECYCLING = "recycling"
    OUT_OF_SERVICE = "out_of_service"


class Kind(StrEnum):
    GARBAGE = "garbage"
    RECYCLE = "recycle"


class Outcome(StrEnum):
    NO_CARD = "no_card"
    CHARGED = "charged"
    CREDITED = "credited"
    OUT_OF_SERVICE = "out_of_service"
    CARD_PULLED = "card_pulled"
    CARD_BLOCKED = "card_blocked"
    NOT_SIGNED_ON = "not_signed_on"
    LOW_BALANCE = "low_balance"
    COMPARTMENT_FULL = "compartment_full"
    BIN_FULL = "bin_full"
    TARIFF_UNAVAILABLE = "tariff_unavailable"
    NO_DEPOSIT = "no_deposit"
    DOOR_JAM = "door_jam"
    SCALE_ERROR = "scale_error"
    INSUFFICIENT_VALUE = "insufficient_value"
    OVER_CARD_LIMIT = "over_card_limit"
    NOTHING_ACCEPTED = "nothing_accepted"
    CARD_REFUSED = "card_refused"
    UNKNOWN_OUTCOME = "unknown_outcome"


@dataclass(frozen=True)
class Timeouts:
    deposit_s: float = 15.0  # the citizen has this long to deposit once the door opens
    reinsert_s: float = 20.0  # per request to put a pulled card back
    item_s: float = 20.0  # between bottles; after that the visit is over


class Stop(Exception):
    """Ends a visit early with its outcome (the screen already said why)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome
