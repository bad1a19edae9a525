"""The iTrash ledger's tables: cards, transactions, postings, the blocklist, card flags,
settlements, writes a station could not confirm and card links. Money rows are append-only:
transactions and postings are never updated or deleted; a card's mirror (balance, counter,
points) is a cache of its newest record that the reconciliation can always rebuild from the
transactions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from onecity.core.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

# Ledger accounts. Every transaction's postings sum to zero.
CARD_VALUE = "card_value"  # the stored value on citizens' cards (per card)
FEE_REVENUE = "garbage_fee_revenue"
REBATE_EXPENSE = "recycling_rebate_expense"
TOPUP_CASH = "topup_cash"
CARD_ISSUE = "card_issue"  # value a card already held when it entered the registry
ACCOUNTS = (CARD_VALUE, FEE_REVENUE, REBATE_EXPENSE, TOPUP_CASH, CARD_ISSUE)


class WasteCard(Base):
    __tablename__ = "waste_cards"

    card_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The card's state when it entered the registry: the start of its chain.
    opening_balance: Mapped[int] = mapped_column(Integer)
    opening_counter: Mapped[int] = mapped_column(BigInteger)
    opening_points: Mapped[int] = mapped_column(Integer, default=0)
    # Mirror of the newest record (highest counter) the server holds.
    balance: Mapped[int] = mapped_column(Integer)
    counter: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(Integer, default=0)
    txn_count: Mapped[int] = mapped_column(Integer, default=0)
    last_txn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    blocked: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The card counter of the transaction whose link code made the latest link: only a code
    # from a later transaction links the card again (waste/linkcode.py).
    link_counter: Mapped[int | None] = mapped_column(BigInteger)


class WasteTxn(Base):
    __tablename__ = "waste_txns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    terminal_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    terminal_seq: Mapped[int] = mapped_column(BigInteger)
    batch_no: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    card_id: Mapped[str] = mapped_column(ForeignKey("waste_cards.card_id"))
    card_counter: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(Integer)
    balance_before: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    points_before: Mapped[int] = mapped_column(Integer)
    points_after: Mapped[int] = mapped_column(Integer)
    grams: Mapped[int | None] = mapped_column(Integer)
    tariff_from: Mapped[date | None] = mapped_column(Date)
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rejected: Mapped[list[Any]] = mapped_column(JSON, default=list)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    payload_hash: Mapped[str] = mapped_column(String(64))
    # The hash of the link code the station printed with this transaction (never the code).
    link_code_hash: Mapped[str | None] = mapped_column(String(64))
    # Rebuilt by reconciliation from a write the station reported as unconfirmed: it is not in
    # the station's batch totals, so settlement leaves it out.
    recovered: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    __table_args__ = (
        # A terminal's transaction number identifies it: retries find the first result.
        UniqueConstraint("terminal_id", "terminal_seq", name="uq_waste_txns_terminal_seq"),
        # A card counter is used once: a second write with it is a replay or a clone.
        UniqueConstraint("card_id", "card_counter", name="uq_waste_txns_card_counter"),
        Index("ix_waste_txns_terminal_batch", "terminal_id", "batch_no"),
    )


class WasteCardLink(Base):
    """Every attempt to link a card and every change of who it is linked to: the throttle
    counts the failures here (shared by every API process), and a citizen whose card the staff
    detached reads it here. `card_id` is as typed, so it may name no card."""

    __tablename__ = "waste_card_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    card_id: Mapped[str] = mapped_column(String(32))
    # failed | linked | unlinked | detached (staff released the card from this user) | moved
    # (before link codes stopped moving linked cards: the card left this user for another)
    what: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_waste_card_links_user", "user_id", "what", "at"),
        Index("ix_waste_card_links_card", "card_id", "what", "at"),
    )


class WastePosting(Base):
    __tablename__ = "waste_postings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    txn_id: Mapped[int | None] = mapped_column(ForeignKey("waste_txns.id"), index=True)
    card_id: Mapped[str | None] = mapped_column(String(32), index=True)
    account: Mapped[str] = mapped_column(String(32), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WasteBlock(Base):
    """The blocklist's history. `version` orders the changes stations download."""

    __tablename__ = "waste_blocklist"

    version: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    card_id: Mapped[str] = mapped_column(ForeignKey("waste_cards.card_id"), index=True)
    blocked: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WasteCardFlag(Base):
    """A reconciliation break found on a card (possible clone or lost upload)."""

    __tablename__ = "waste_card_flags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    card_id: Mapped[str] = mapped_column(ForeignKey("waste_cards.card_id"), index=True)
    counter: Mapped[int] = mapped_column(BigInteger)
    problem: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    terminal_id: Mapped[str | None] = mapped_column(String(64))
    terminal_seq: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WasteSettlement(Base):
    __tablename__ = "waste_settlements"

    terminal_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    batch_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    count: Mapped[int] = mapped_column(Integer)
    debit_total: Mapped[int] = mapped_column(BigInteger)
    credit_total: Mapped[int] = mapped_column(BigInteger)
    first_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    payload_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    server_count: Mapped[int] = mapped_column(Integer)
    server_debit_total: Mapped[int] = mapped_column(BigInteger)
    server_credit_total: Mapped[int] = mapped_column(BigInteger)
    differences: Mapped[list[Any]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WasteUnconfirmed(Base):
    """A card write whose outcome the station could not learn (the card was pulled during the
    write and never brought back, or the station stopped in between). Reconciliation turns it
    into a transaction when the card's own chain shows the write happened."""

    __tablename__ = "waste_unconfirmed"

    terminal_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    terminal_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_no: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    card_id: Mapped[str] = mapped_column(ForeignKey("waste_cards.card_id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    points_after: Mapped[int | None] = mapped_column(Integer)
    grams: Mapped[int | None] = mapped_column(Integer)
    tariff_from: Mapped[date | None] = mapped_column(Date)
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload_hash: Mapped[str] = mapped_column(String(64))
    # open: not seen on the card's chain yet; recovered: became transaction txn_id.
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    txn_id: Mapped[int | None] = mapped_column(ForeignKey("waste_txns.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
