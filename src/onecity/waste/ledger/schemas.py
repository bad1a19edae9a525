"""What the iTrash API accepts and returns. The station protocol is in
docs/waste-terminal-api.md; these models are its single definition in code."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from onecity.core.dates import CityDate
from onecity.waste.rules.linkcode import PATTERN as LINK_CODE_PATTERN
from onecity.waste.rules.money import MAX_DROP_GRAMS, POINTS_PER_NTD, Material

CardId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,32}$")]
Barcode = Annotated[str, StringConstraints(pattern=r"^[\x20-\x7e]{0,64}$")]
Points = Annotated[int, Field(ge=0, lt=POINTS_PER_NTD)]
Money = Annotated[int, Field(ge=0, le=10_000_000)]
Seq = Annotated[int, Field(ge=1, le=2**62)]
Batch = Annotated[int, Field(ge=1, le=2**31 - 1)]
# As a station prints it (Crockford base 32, no I, L, O or U).
StationLinkCode = Annotated[
    str, StringConstraints(pattern=r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")
]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    barcode: Barcode
    material: Material


class RejectedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    barcode: Barcode
    reason: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TxnIn(BaseModel):
    """One card write a station made. Arithmetic that does not add up is refused here."""

    model_config = ConfigDict(extra="forbid")
    terminal_seq: Seq
    batch_no: Batch
    kind: Literal["garbage", "recycle", "topup"]
    occurred_at: AwareDatetime
    card_id: CardId
    card_counter: Seq
    amount: Annotated[int, Field(ge=-10_000, le=10_000)]
    balance_before: Money
    balance_after: Money
    points_before: Points = 0
    points_after: Points = 0
    grams: Annotated[int, Field(ge=1, le=MAX_DROP_GRAMS)] | None = None
    tariff_from: CityDate | None = None
    items: Annotated[list[ItemIn], Field(max_length=500, default_factory=list)]
    rejected: Annotated[list[RejectedIn], Field(max_length=500, default_factory=list)]
    # The one-time code the station showed and printed for linking the card to an account
    # (optional: stations from before it send none; the server stores only its hash).
    link_code: StationLinkCode | None = None

    @model_validator(mode="after")
    def _adds_up(self) -> TxnIn:
        if self.balance_before + self.amount != self.balance_after:
            raise ValueError("balance_before + amount must equal balance_after")
        if self.kind == "garbage":
            if self.grams is None or self.tariff_from is None:
                raise ValueError("a garbage transaction needs grams and tariff_from")
            if self.amount >= 0:
                raise ValueError("a garbage transaction charges the card (amount < 0)")
            if self.items or self.rejected or self.points_before != self.points_after:
                raise ValueError("a garbage transaction has no recycling items or points")
        elif self.kind == "recycle":
            if self.grams is not None or self.tariff_from is not None:
                raise ValueError("a recycling transaction has no grams or tariff")
            if self.amount < 0:
                raise ValueError("a recycling transaction credits the card (amount ≥ 0)")
            if not self.items and not self.rejected:
                raise ValueError("a recycling transaction lists its items")
        else:
            if self.amount <= 0:
                raise ValueError("a top-up adds value (amount > 0)")
            if self.grams is not None or self.items or self.rejected:
                raise ValueError("a top-up has no weight or items")
            if self.points_before != self.points_after:
                raise ValueError("a top-up does not move points")
        return self


class UnconfirmedIn(BaseModel):
    """A card write the station started but could not confirm. What it meant to write is
    known; whether the card took it, and at which counter, is what reconciliation finds out."""

    model_config = ConfigDict(extra="forbid")
    terminal_seq: Seq
    batch_no: Batch
    kind: Literal["garbage", "recycle", "topup"]
    occurred_at: AwareDatetime
    card_id: CardId
    amount: Annotated[int, Field(ge=-10_000, le=10_000)]
    points_after: Points | None = None
    grams: Annotated[int, Field(ge=1, le=MAX_DROP_GRAMS)] | None = None
    tariff_from: CityDate | None = None
    items: Annotated[list[ItemIn], Field(max_length=500, default_factory=list)]

    @model_validator(mode="after")
    def _sense(self) -> UnconfirmedIn:
        if self.kind == "garbage" and (self.amount >= 0 or self.grams is None):
            raise ValueError("a garbage write charges the card and has a weight")
        if self.kind != "garbage" and self.amount < 0:
            raise ValueError("only a garbage write takes value from the card")
        return self


class UnconfirmedBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    writes: Annotated[list[UnconfirmedIn], Field(min_length=1, max_length=200)]


class UnconfirmedResult(BaseModel):
    terminal_seq: int
    status: Literal["open", "recovered"]
    txn_id: int | None


class UnconfirmedBatchOut(BaseModel):
    results: list[UnconfirmedResult]


class TxnBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transactions: Annotated[list[TxnIn], Field(min_length=1, max_length=200)]


class TxnResult(BaseModel):
    terminal_seq: int
    status: Literal["stored", "duplicate"]
    txn_id: int
    card_flagged: bool


class TxnBatchOut(BaseModel):
    results: list[TxnResult]


class SignOnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    software: Annotated[str, StringConstraints(max_length=100)] = ""
    batch_no: Batch


class TariffOut(BaseModel):
    effective_from: date
    name: str
    names: dict[str, str] = {}  # per language, when the city profile gives them
    steps: list[tuple[int, int]]
    increment_g: int
    per_increment: int


class SignOnOut(BaseModel):
    terminal_id: str
    server_time: datetime
    blocklist_version: int
    tariffs: list[TariffOut]


class BlockEntry(BaseModel):
    card_id: str
    blocked: bool


class BlocklistOut(BaseModel):
    version: int
    full: bool
    cards: list[BlockEntry]


class SettlementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_no: Batch
    opened_at: AwareDatetime
    closed_at: AwareDatetime
    count: Annotated[int, Field(ge=0, le=10_000_000)]
    debit_total: Annotated[int, Field(ge=0, le=10**12)]
    credit_total: Annotated[int, Field(ge=0, le=10**12)]
    first_seq: Seq | None = None
    last_seq: Seq | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SettlementIn:
        if self.closed_at < self.opened_at:
            raise ValueError("a batch closes after it opens")
        if (self.first_seq is None) != (self.last_seq is None):
            raise ValueError("first_seq and last_seq go together")
        if (
            self.first_seq is not None
            and self.last_seq is not None
            and (self.last_seq < self.first_seq)
        ):
            raise ValueError("last_seq must not be below first_seq")
        if self.count == 0 and self.first_seq is not None:
            raise ValueError("an empty batch has no first_seq")
        return self


class Totals(BaseModel):
    count: int
    debit_total: int
    credit_total: int


class SettlementDifference(BaseModel):
    """One way a station's batch totals differ from the server's, with its figures."""

    code: Literal["count", "charged", "rebated", "missing", "text"]
    text: str  # the same in English
    station: int | None = None
    server: int | None = None
    seqs: list[int] = Field(default_factory=list)  # missing station numbers (first 20)
    more: int = 0  # missing beyond those


class SettlementOut(BaseModel):
    terminal_id: str
    batch_no: int
    status: Literal["matched", "mismatch"]
    opened_at: datetime
    closed_at: datetime
    terminal: Totals
    server: Totals
    differences: list[str]
    difference_details: list[SettlementDifference]
    received_at: datetime
    checked_at: datetime


class SettlementPage(BaseModel):
    items: list[SettlementOut]


class TxnOut(BaseModel):
    id: int
    terminal_id: str
    terminal_seq: int
    batch_no: int
    kind: str
    card_id: str
    card_counter: int
    amount: int
    balance_before: int
    balance_after: int
    points_before: int
    points_after: int
    grams: int | None
    tariff_from: date | None
    items: list[ItemIn]
    rejected: list[RejectedIn]
    occurred_at: datetime
    received_at: datetime


class TxnPage(BaseModel):
    items: list[TxnOut]
    next_cursor: str | None


class CardIssueIn(BaseModel):
    """A card entering the registry with the state it has now (from the card issuer)."""

    model_config = ConfigDict(extra="forbid")
    card_id: CardId
    balance: Annotated[int, Field(ge=0, le=10_000)]
    counter: Annotated[int, Field(ge=0, le=2**62)] = 0
    points: Points = 0


class CardIssueBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cards: Annotated[list[CardIssueIn], Field(min_length=1, max_length=5000)]


class IssueOut(BaseModel):
    issued: int
    already: int


class FlagOut(BaseModel):
    counter: int
    problem: str
    detail: str
    terminal_id: str | None
    terminal_seq: int | None
    at: datetime


class CardOut(BaseModel):
    card_id: str
    balance: int
    counter: int
    points: int
    txn_count: int
    missing: int  # counters the server has no record of yet (late uploads or lost ones)
    last_txn_at: datetime | None
    blocked: bool
    flagged: bool
    registered: bool
    issued_at: datetime


class CardDetail(CardOut):
    opening_balance: int
    opening_counter: int
    flags: list[FlagOut]
    missing_counters: list[int]
    history: list[TxnOut]
    rebate_ntd: int
    charged_ntd: int


class CardPage(BaseModel):
    items: list[CardOut]
    next_cursor: str | None


class BlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500, strip_whitespace=True)]


class BlockOut(BaseModel):
    version: int
    card_id: str
    blocked: bool
    reason: str
    actor: str
    at: datetime


class DetachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500, strip_whitespace=True)]


class BlockPage(BaseModel):
    version: int
    blocked: list[BlockOut]  # cards on the list now, with the entry that put them there
    history: list[BlockOut]


class AccountTotal(BaseModel):
    account: str
    total: int


class RecoveryOut(BaseModel):
    recovered: int  # unconfirmed writes found on their card's chain and now transactions
    flagged: int  # missing counters flagged for review


class LedgerOut(BaseModel):
    accounts: list[AccountTotal]
    sum: int  # always 0 in a balanced ledger
    cards_value: int  # the mirrors' total, which must equal the card_value account
    # Value the cards hold beyond what the ledger posted to them (forged or lost records).
    unexplained_card_value: int
    balanced: bool
    txns: int


class RegisterCardIn(BaseModel):
    """A citizen proves they hold the card with the link code a station showed and printed
    after a transaction of that card (valid for 48 hours, once; only for a card no account
    holds)."""

    model_config = ConfigDict(extra="forbid")
    card_id: CardId
    link_code: Annotated[str, StringConstraints(pattern=LINK_CODE_PATTERN)]


class CardNoticeOut(BaseModel):
    """Something that happened to one of the citizen's cards without them: `detached` (the
    department's staff released it from the account at the holder's request), or `moved`
    (before 2026-12: linked to another account with a newer link code)."""

    card_id: str
    what: Literal["moved", "detached"]
    at: datetime


class StationOut(BaseModel):
    id: str
    name: str
    lon: float | None
    lat: float | None
    district: str | None
    connectivity: str
    last_upload_at: datetime | None
    txns_today: int
    open_mismatches: int
