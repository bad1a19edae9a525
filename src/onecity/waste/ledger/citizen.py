"""Citizens and their cards: linking a card with the code a station printed, the notices of
linked cards, a citizen's own cards, and staff releasing a card from its account."""

from __future__ import annotations

from sqlalchemy import select

from onecity.core.auth.permissions import Perm, Principal, require
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.access import LedgerContext
from onecity.waste.ledger.card_links import CardLinks
from onecity.waste.ledger.models import WasteCard
from onecity.waste.ledger.reads import card_detail


class CitizenCards:
    def __init__(self, ctx: LedgerContext) -> None:
        self.ctx = ctx
        self.links = CardLinks(ctx.db, ctx.department, card_detail, ctx.link_key)

    def register_card(self, who: Principal, body: sc.RegisterCardIn, source: str) -> sc.CardDetail:
        """Link a card with the link code a station showed and printed (card_links.py)."""
        return self.links.link(who, body, source)

    def card_notices(self, who: Principal) -> list[sc.CardNoticeOut]:
        return self.links.notices(who)

    def detach_card(self, who: Principal, card_id: str, reason: str, source: str) -> None:
        """Staff release a card from its account (those who block lost cards)."""
        self.ctx.staff(who, Perm.WASTE_MANAGE)
        self.links.detach(who, card_id, reason, source)

    def my_cards(self, who: Principal) -> list[sc.CardDetail]:
        require(who, Perm.OWN_CARDS)
        with self.ctx.db.read() as s:
            cards = s.execute(
                select(WasteCard)
                .where(WasteCard.owner_user_id == who.user_id)
                .order_by(WasteCard.card_id)
            ).scalars()
            return [card_detail(s, c, history=100) for c in cards]

    def unregister_card(self, who: Principal, card_id: str, source: str) -> None:
        self.links.unlink(who, card_id, source)
