"""The iTrash ledger, one facade over its parts.

Stations upload the card writes they made; the server checks every figure against the tariff
and rebate rules, stores each transaction exactly once (by terminal and terminal number),
posts it double-entry, keeps each card's mirror, and reconciles each card's chain of
counters and balances. A break flags the card and puts it on the blocklist.

Each part is its own file: the station's sign-on and blocklist (station.py), uploads
(uploads.py, with its SQL in sql.py), writes a station could not confirm (unconfirmed.py),
reconciliation (reconcile.py, flags.py), settlement (settlement.py), the operators' card desk
(cards.py) and reads (reads.py, books.py), and citizens' cards (citizen.py). Every public
method here is one call to a part, which opens exactly one unit of work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from onecity.core.auth.permissions import Principal
from onecity.core.db import Database
from onecity.core.geo import CityProfile
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.access import LedgerContext
from onecity.waste.ledger.books import Books
from onecity.waste.ledger.cards import CardDesk
from onecity.waste.ledger.citizen import CitizenCards
from onecity.waste.ledger.reads import CardReads
from onecity.waste.ledger.reconcile import GAP_GRACE, Reconciler
from onecity.waste.ledger.settlement import Settlements
from onecity.waste.ledger.station import StationDesk
from onecity.waste.ledger.unconfirmed import Unconfirmed
from onecity.waste.ledger.uploads import Uploads
from onecity.waste.rules.money import POINTS_PER_ITEM, Material, TariffTable


class WasteService:
    def __init__(
        self,
        db: Database,
        city: CityProfile,
        tariffs: TariffTable | None = None,
        *,
        link_key: bytes,
        rebate_points: Mapping[Material, int] = POINTS_PER_ITEM,
        department: str = "epb",
    ) -> None:
        self.db = db
        self.city = city
        self.link_key = link_key
        self.tariffs = tariffs or TariffTable()
        self.tz = ZoneInfo(city.timezone)
        # The department that runs iTrash in this city (platform.department("waste")).
        self.department = department
        ctx = LedgerContext(db, self.department, self.tz, self.tariffs, rebate_points, link_key)
        self.station = StationDesk(ctx)
        self.uploads = Uploads(ctx)
        self.unconfirmed = Unconfirmed(ctx)
        self.reconciler = Reconciler(ctx)
        self.settling = Settlements(ctx)
        self.card_desk = CardDesk(ctx)
        self.reads = CardReads(ctx)
        self.books = Books(ctx)
        self.citizens = CitizenCards(ctx)

    # --- the station protocol ----------------------------------------------------------------
    def tariff_list(self) -> list[sc.TariffOut]:
        return self.station.tariff_list()

    def sign_on(self, terminal_id: str, body: sc.SignOnIn) -> sc.SignOnOut:
        return self.station.sign_on(terminal_id, body)

    def blocklist(self, terminal_id: str, since: int | None) -> sc.BlocklistOut:
        return self.station.blocklist(terminal_id, since)

    def upload(self, terminal_id: str, batch: sc.TxnBatchIn) -> sc.TxnBatchOut:
        return self.uploads.upload(terminal_id, batch)

    def report_unconfirmed(
        self, terminal_id: str, batch: sc.UnconfirmedBatchIn
    ) -> sc.UnconfirmedBatchOut:
        return self.unconfirmed.report(terminal_id, batch)

    def settle(self, terminal_id: str, body: sc.SettlementIn) -> sc.SettlementOut:
        return self.settling.settle(terminal_id, body)

    # --- reconciliation ----------------------------------------------------------------------
    def reconcile_gaps(self, now: datetime | None = None, grace: timedelta = GAP_GRACE) -> int:
        return self.reconciler.reconcile_gaps(now, grace)

    def recover_unconfirmed(self, card_ids: set[str] | None = None) -> int:
        return self.unconfirmed.recover(card_ids)

    def card_state(self, card_id: str) -> tuple[int, int, int] | None:
        return self.reconciler.card_state(card_id)

    # --- operators ---------------------------------------------------------------------------
    def issue_cards(self, who: Principal, body: sc.CardIssueBatchIn, source: str) -> sc.IssueOut:
        return self.card_desk.issue_cards(who, body, source)

    def issue(self, cards: Sequence[sc.CardIssueIn], actor: str, source: str = "") -> sc.IssueOut:
        return self.card_desk.issue(cards, actor, source)

    def set_blocked(
        self, who: Principal, card_id: str, blocked: bool, reason: str, source: str
    ) -> sc.BlockOut:
        return self.card_desk.set_blocked(who, card_id, blocked, reason, source)

    def blocklist_page(self, who: Principal) -> sc.BlockPage:
        return self.card_desk.blocklist_page(who)

    def transactions(
        self,
        who: Principal,
        *,
        card_id: str | None = None,
        terminal_id: str | None = None,
        kind: str | None = None,
        day: date | None = None,
        cursor: int | None = None,
        limit: int = 100,
    ) -> sc.TxnPage:
        return self.reads.transactions(
            who,
            card_id=card_id,
            terminal_id=terminal_id,
            kind=kind,
            day=day,
            cursor=cursor,
            limit=limit,
        )

    def cards(
        self,
        who: Principal,
        *,
        q: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> sc.CardPage:
        return self.reads.cards(who, q=q, status=status, cursor=cursor, limit=limit)

    def card(self, who: Principal, card_id: str) -> sc.CardDetail:
        return self.reads.card(who, card_id)

    def settlements(
        self, who: Principal, *, status: str | None = None, terminal_id: str | None = None
    ) -> sc.SettlementPage:
        return self.books.settlements(who, status=status, terminal_id=terminal_id)

    def ledger(self, who: Principal) -> sc.LedgerOut:
        return self.books.ledger(who)

    def ledger_totals(self) -> sc.LedgerOut:
        return self.books.ledger_totals()

    def stations(self, who: Principal) -> list[sc.StationOut]:
        return self.books.stations(who)

    # --- citizens ----------------------------------------------------------------------------
    def register_card(self, who: Principal, body: sc.RegisterCardIn, source: str) -> sc.CardDetail:
        return self.citizens.register_card(who, body, source)

    def card_notices(self, who: Principal) -> list[sc.CardNoticeOut]:
        return self.citizens.card_notices(who)

    def detach_card(self, who: Principal, card_id: str, reason: str, source: str) -> None:
        self.citizens.detach_card(who, card_id, reason, source)

    def my_cards(self, who: Principal) -> list[sc.CardDetail]:
        return self.citizens.my_cards(who)

    def unregister_card(self, who: Principal, card_id: str, source: str) -> None:
        self.citizens.unregister_card(who, card_id, source)
