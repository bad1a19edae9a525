"""A test station: makes real card writes on simulated EasyCards and turns them into the
payloads the station protocol uploads (docs/waste-terminal-api.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from onecity.core.platform import Platform
from onecity.waste.kiosk.cards import CardWrite, SimulatedEasyCard
from onecity.waste.ledger.schemas import CardIssueIn
from onecity.waste.ledger.service import WasteService
from onecity.waste.rules.money import Material, TariffTable, rebate
from onecity.waste.services import WasteServices

TPE = ZoneInfo("Asia/Taipei")
TARIFFS = TariffTable()


def service(p: Platform) -> WasteService:
    return p.services(WasteServices).ledger


def add_station(client: TestClient, admin: dict[str, str], station_id: str) -> dict[str, str]:
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": station_id,
            "name": f"iTrash {station_id}",
            "type": "waste_station",
            "department": "epb",
            "location": {"type": "Point", "coordinates": [121.5645, 25.0375]},
        },
    )
    assert r.status_code == 201, r.text
    k = client.post(f"/api/v1/devices/{station_id}/keys", headers=admin, json={})
    assert k.status_code == 201, k.text
    return {"X-Device-Key": k.json()["key"]}


def issue(p: Platform, *cards: SimulatedEasyCard) -> None:
    service(p).issue(
        [CardIssueIn(card_id=c.card_id, balance=c.balance, counter=c.counter) for c in cards],
        actor="test",
    )


@dataclass
class Terminal:
    """Numbers its own transactions, like a real terminal."""

    terminal_id: str
    batch_no: int = 1
    seq: int = 0
    made: list[dict[str, Any]] = field(default_factory=list)

    def _txn(self, kind: str, w: CardWrite, at: datetime, **extra: Any) -> dict[str, Any]:
        t = {
            "terminal_seq": w.terminal_seq,
            "batch_no": self.batch_no,
            "kind": kind,
            "occurred_at": at.isoformat(),
            "card_id": w.card_id,
            "card_counter": w.counter,
            "amount": w.amount,
            "balance_before": w.balance_before,
            "balance_after": w.balance_after,
            "points_before": w.points_before,
            "points_after": w.points_after,
            **extra,
        }
        self.made.append(t)
        return t

    def garbage(self, card: SimulatedEasyCard, grams: int, at: datetime) -> dict[str, Any]:
        tariff = TARIFFS.on(at.astimezone(TPE).date())
        self.seq += 1
        w = card.debit(tariff.charge(grams), self.terminal_id, self.seq)
        return self._txn(
            "garbage", w, at, grams=grams, tariff_from=tariff.effective_from.isoformat()
        )

    def recycle(
        self, card: SimulatedEasyCard, materials: list[Material], at: datetime
    ) -> dict[str, Any]:
        r = rebate(card.points, materials)
        self.seq += 1
        w = card.credit(r.ntd, self.terminal_id, self.seq, points_after=r.points_left)
        items = [{"barcode": f"471{i:010d}", "material": m.value} for i, m in enumerate(materials)]
        return self._txn("recycle", w, at, items=items)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TPE)


def jobs(client: TestClient, who: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """The crew's job list, as GET /api/v1/waste/jobs answers it."""
    r = client.get("/api/v1/waste/jobs", headers=who, params=params)
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()["jobs"]
    return out


def count(p: Platform, what: Any) -> int:
    """Rows of a table (or a selectable) in the platform's database."""
    with p.db.read() as s:
        return int(s.execute(select(func.count()).select_from(what)).scalar_one())
