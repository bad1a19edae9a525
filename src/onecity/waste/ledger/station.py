"""What a station asks before it uploads: it signs on (and learns the server's time, the
tariffs and the blocklist's version) and downloads the blocklist, whole or since a version."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onecity.core.db import utcnow
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.access import LedgerContext, terminal
from onecity.waste.ledger.models import WasteBlock, WasteCard


class StationDesk:
    def __init__(self, ctx: LedgerContext) -> None:
        self.ctx = ctx

    def tariff_list(self) -> list[sc.TariffOut]:
        return [
            sc.TariffOut(
                effective_from=t.effective_from,
                name=t.name,
                names=dict(t.names),
                steps=list(t.steps),
                increment_g=t.increment_g,
                per_increment=t.per_increment,
            )
            for t in sorted(self.ctx.tariffs.versions, key=lambda t: t.effective_from)
        ]

    def sign_on(self, terminal_id: str, body: sc.SignOnIn) -> sc.SignOnOut:
        with self.ctx.db.session() as s:
            dev = terminal(s, terminal_id)
            meta = dict(dev.meta or {})
            meta["signed_on_at"] = utcnow().isoformat()
            meta["software"] = body.software
            meta["batch_no"] = body.batch_no
            dev.meta = meta
            version = block_version(s)
        return sc.SignOnOut(
            terminal_id=terminal_id,
            server_time=utcnow(),
            blocklist_version=version,
            tariffs=self.tariff_list(),
        )

    def blocklist(self, terminal_id: str, since: int | None) -> sc.BlocklistOut:
        with self.ctx.db.read() as s:
            terminal(s, terminal_id)
            version = block_version(s)
            if since is None:
                ids = s.execute(
                    select(WasteCard.card_id).where(WasteCard.blocked).order_by(WasteCard.card_id)
                ).scalars()
                cards = [sc.BlockEntry(card_id=c, blocked=True) for c in ids]
                return sc.BlocklistOut(version=version, full=True, cards=cards)
            rows = s.execute(
                select(WasteBlock.card_id, WasteBlock.blocked)
                .where(WasteBlock.version > since, WasteBlock.version <= version)
                .order_by(WasteBlock.version)
            ).all()
        latest = {card: blocked for card, blocked in rows}  # the newest change per card wins
        cards = [sc.BlockEntry(card_id=c, blocked=b) for c, b in sorted(latest.items())]
        return sc.BlocklistOut(version=version, full=False, cards=cards)


def block_version(s: Session) -> int:
    """The blocklist's newest version (0 before the first entry)."""
    return int(s.execute(select(func.max(WasteBlock.version))).scalar() or 0)
