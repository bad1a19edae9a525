"""Properties of the ledger, on SQLite and PostgreSQL: whatever order, duplication, batching,
lateness or concurrency the uploads come in, and across a price change, the ledger balances
to zero, every card's mirror equals its newest record, and nothing is counted twice."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from onecity.core.models import Device
from onecity.core.platform import Platform
from onecity.waste.kiosk.cards import SimulatedEasyCard
from onecity.waste.ledger.models import WasteCardFlag, WastePosting, WasteTxn
from onecity.waste.ledger.schemas import SettlementIn, TxnBatchIn
from onecity.waste.ledger.service import WasteService
from onecity.waste.rules.money import Material
from tests.integration.waste.helpers import Terminal, at, issue, service

DAYS = ["2025-12-31T22:00:00", "2026-01-01T07:30:00", "2026-06-15T12:00:00"]
_run = itertools.count()

op = st.tuples(
    st.integers(0, 2),  # card
    st.integers(0, 1),  # terminal
    st.booleans(),  # garbage (True) or recycling
    st.integers(1, 6000),  # grams
    st.lists(st.sampled_from(list(Material)), min_size=1, max_size=15),
    st.integers(0, len(DAYS) - 1),
)


def _stations(p: Platform, ids: list[str]) -> None:
    with p.db.session() as s:
        for i in ids:
            s.add(Device(id=i, name=i, type="waste_station", department_code="epb"))


def _make(
    p: Platform, ops: list[tuple[int, int, bool, int, list[Material], int]]
) -> tuple[list[Terminal], list[SimulatedEasyCard], list[dict[str, Any]]]:
    run = next(_run)
    terms = [Terminal(f"P{run}-T{i}") for i in range(2)]
    cards = [SimulatedEasyCard(f"P{run}-C{i}", balance=2000) for i in range(3)]
    _stations(p, [t.terminal_id for t in terms])
    issue(p, *cards)
    made: list[dict[str, Any]] = []
    for n, (c, t, garbage, grams, items, day) in enumerate(ops):
        when = at(DAYS[day]).replace(minute=n % 60)
        if garbage:
            made.append(terms[t].garbage(cards[c], grams, when))
        else:
            made.append(terms[t].recycle(cards[c], items, when))
    return terms, cards, made


def _upload(svc: WasteService, txn: list[dict[str, Any]]) -> None:
    by_terminal: dict[str, list[dict[str, Any]]] = {}
    for t in txn:
        by_terminal.setdefault(t["_terminal"], []).append(
            {k: v for k, v in t.items() if k != "_terminal"}
        )
    for terminal, items in by_terminal.items():
        svc.upload(terminal, TxnBatchIn.model_validate({"transactions": items}))


def _check(
    p: Platform,
    svc: WasteService,
    terms: list[Terminal],
    cards: list[SimulatedEasyCard],
    made: list[dict[str, Any]],
) -> None:
    ids = [t.terminal_id for t in terms]
    with p.db.read() as s:
        stored = s.execute(
            select(func.count()).select_from(WasteTxn).where(WasteTxn.terminal_id.in_(ids))
        ).scalar()
        assert stored == len(made), "every transaction stored exactly once"
        flags = s.execute(
            select(func.count())
            .select_from(WasteCardFlag)
            .where(WasteCardFlag.card_id.in_([c.card_id for c in cards]))
        ).scalar()
        assert flags == 0, "an honest history never flags a card"
        for c in cards:
            posted = s.execute(
                select(func.coalesce(func.sum(WastePosting.amount), 0)).where(
                    WastePosting.card_id == c.card_id
                )
            ).scalar()
            assert posted == c.balance, f"{c.card_id}: postings add up to the card's value"
        total = s.execute(select(func.coalesce(func.sum(WastePosting.amount), 0))).scalar()
        assert total == 0, "the ledger balances to zero"
    for c in cards:
        got = svc.card_state(c.card_id)
        assert got == (c.balance, c.counter, c.points), f"{c.card_id} mirror = newest record"
    for term in terms:
        mine = [t for t in made if t["_terminal"] == term.terminal_id]
        if not mine:
            continue
        out = svc.settle(
            term.terminal_id,
            SettlementIn(
                batch_no=1,
                opened_at=datetime.fromisoformat("2025-12-31T00:00:00+08:00"),
                closed_at=datetime.fromisoformat("2026-06-16T00:00:00+08:00"),
                count=len(mine),
                debit_total=sum(-t["amount"] for t in mine if t["amount"] < 0),
                credit_total=sum(t["amount"] for t in mine if t["amount"] > 0),
                first_seq=1,
                last_seq=len(mine),
            ),
        )
        assert out.status == "matched", out.differences


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.lists(op, min_size=1, max_size=25),
    order_seed=st.integers(0, 2**32),
    dup_rate=st.floats(0, 0.5),
    max_chunk=st.integers(1, 8),
)
def test_any_upload_order_reconciles(
    platform: Platform,
    ops: list[tuple[int, int, bool, int, list[Material], int]],
    order_seed: int,
    dup_rate: float,
    max_chunk: int,
) -> None:
    svc = service(platform)
    terms, cards, made = _make(platform, ops)
    for t in made:
        t["_terminal"] = next(x.terminal_id for x in terms if t in x.made)
    rng = random.Random(order_seed)
    sends = list(made) + [t for t in made if rng.random() < dup_rate]  # retries and duplicates
    rng.shuffle(sends)  # out of order, some very late
    while sends:
        n = rng.randint(1, max_chunk)
        _upload(svc, sends[:n])
        sends = sends[n:]
    _check(platform, svc, terms, cards, made)
    _upload(svc, made)  # everything once more: all duplicates, nothing changes
    _check(platform, svc, terms, cards, made)


def test_concurrent_uploads_of_overlapping_batches_store_each_once(platform: Platform) -> None:
    """Eight stations' uploaders (and their retries) racing on the same database."""
    svc = service(platform)
    rng = random.Random(7)
    ops = [
        (
            rng.randrange(3),
            rng.randrange(2),
            rng.random() < 0.6,
            rng.randint(50, 4000),
            [rng.choice(list(Material)) for _ in range(rng.randint(1, 12))],
            rng.randrange(3),
        )
        for _ in range(120)
    ]
    terms, cards, made = _make(platform, ops)
    for t in made:
        t["_terminal"] = next(x.terminal_id for x in terms if t in x.made)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        r = random.Random(seed)
        mine = list(made)
        r.shuffle(mine)
        try:
            for i in range(0, len(mine), 10):
                _upload(svc, mine[i : i + 10])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    _check(platform, svc, terms, cards, made)
