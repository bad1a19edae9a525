"""The station's uploader against a small in-test server that speaks the terminal protocol
(httpx.MockTransport): batching, isolating a refused transaction, backing off while the server
is away, duplicates, settlements after their transactions, telemetry — and a whole simulated
station run end to end. No network, no real waits (except the in-process station run)."""

from __future__ import annotations

import itertools
import json
import threading
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from onecity.waste.kiosk.cards import CardWrite, SimulatedEasyCard, reconcile
from onecity.waste.kiosk.hardware import TAIPEI, ManualClock, SimStation, SystemClock
from onecity.waste.kiosk.journal import Journal
from onecity.waste.kiosk.machine import KioskMachine
from onecity.waste.kiosk.records import tariffs_to_json
from onecity.waste.kiosk.sim import FaultRates, KioskConfig, SimulatedKiosk, wallet_cards
from onecity.waste.kiosk.states import Kind, Outcome
from onecity.waste.kiosk.uploader import TemporaryFailure, Uploader
from onecity.waste.rules.money import TAIPEI_TARIFFS, TariffTable

STATION = "IT125"
KEY = "dk_it125_secret"
BASE = "http://onecity.test"


def _err(status: int, error: str, detail: str, field: str | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "detail": detail, "field": field})


class FakeServer:
    """Just enough of the server's side of docs/waste-terminal-api.md."""

    def __init__(self) -> None:
        self.txns: dict[int, dict[str, Any]] = {}
        self.txn_ids: dict[int, int] = {}
        self._ids = itertools.count(1)
        self.requests: list[tuple[str, str, Any]] = []
        self.outage: dict[str, int] = defaultdict(int)  # path part -> 503s to answer first
        self.conn_errors = 0  # the next N requests fail to connect
        self.bad: dict[int, tuple[int, str]] = {}  # terminal_seq -> (status, error)
        self.max_batch = 200
        self.blocklist: list[tuple[int, str, bool]] = []  # (version, card, blocked)
        self.settlements: dict[int, dict[str, Any]] = {}
        self.telemetry: list[dict[str, Any]] = []
        self.keys: list[str | None] = []
        self.gets: list[str] = []
        self.table = TariffTable()
        self.unconfirmed: list[dict[str, Any]] = []
        self.unconfirmed_status = "open"

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def posted(self, part: str) -> list[Any]:
        return [body for m, p, body in self.requests if part in p and m == "POST"]

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, path, body))
        self.keys.append(request.headers.get("x-device-key"))
        if request.method == "GET":
            self.gets.append(str(request.url))
        if self.conn_errors:
            self.conn_errors -= 1
            raise httpx.ConnectError("connection refused", request=request)
        for part in list(self.outage):
            if part in path and self.outage[part] > 0:
                self.outage[part] -= 1
                return _err(503, "unavailable", "try later")
        if request.headers.get("x-device-key") != KEY:
            return _err(401, "unauthenticated", "unknown device key")
        if path.endswith("/sign-on"):
            return httpx.Response(
                200,
                json={
                    "terminal_id": STATION,
                    "server_time": datetime.now(TAIPEI).isoformat(),
                    "blocklist_version": self.blocklist[-1][0] if self.blocklist else 0,
                    "tariffs": tariffs_to_json(TAIPEI_TARIFFS),
                },
            )
        if path.endswith("/blocklist"):
            since = request.url.params.get("since")
            version = self.blocklist[-1][0] if self.blocklist else 0
            if since is None:
                state: dict[str, bool] = {}
                for _, card, blocked in self.blocklist:
                    state[card] = blocked
                cards = [{"card_id": c, "blocked": True} for c, b in state.items() if b]
            else:
                cards = [
                    {"card_id": c, "blocked": b} for v, c, b in self.blocklist if v > int(since)
                ]
            return httpx.Response(
                200, json={"version": version, "full": since is None, "cards": cards}
            )
        if path.endswith("/transactions"):
            return self._transactions(body["transactions"])
        if path.endswith("/settlements"):
            return self._settle(body)
        if path.endswith("/unconfirmed"):
            self.unconfirmed.extend(body["writes"])
            return httpx.Response(
                200,
                json={
                    "results": [
                        {
                            "terminal_seq": w["terminal_seq"],
                            "status": self.unconfirmed_status,
                            "txn_id": 99 if self.unconfirmed_status == "recovered" else None,
                        }
                        for w in body["writes"]
                    ]
                },
            )
        if path.endswith("/telemetry"):
            self.telemetry.extend(body["messages"])
            return httpx.Response(200, json={"accepted": 1, "duplicates": 0, "readings": 4})
        return _err(404, "not_found", path)

    def _transactions(self, batch: list[dict[str, Any]]) -> httpx.Response:
        if len(batch) > self.max_batch:
            return _err(413, "too_large", "send fewer")
        results = []
        for i, t in enumerate(batch):
            seq = t["terminal_seq"]
            if seq in self.bad:
                status, error = self.bad[seq]
                return _err(status, error, f"seq {seq} is wrong", f"transactions[{i}].amount")
            if t["balance_before"] + t["amount"] != t["balance_after"]:
                return _err(422, "invalid", "does not add up", f"transactions[{i}]")
            if t["kind"] == "garbage":
                day = datetime.fromisoformat(t["occurred_at"]).astimezone(TAIPEI).date()
                tariff = self.table.on(day)
                if (
                    -tariff.charge(t["grams"]) != t["amount"]
                    or tariff.effective_from.isoformat() != t["tariff_from"]
                ):
                    return _err(422, "tariff_mismatch", "wrong charge", f"transactions[{i}]")
            if seq in self.txns:
                if self.txns[seq] != t:
                    return _err(409, "payload_differs", "not what was sent first", None)
                results.append((seq, "duplicate"))
            else:
                results.append((seq, "stored"))
        out = []
        for (seq, status), t in zip(results, batch, strict=True):
            if status == "stored":
                self.txns[seq] = t
                self.txn_ids[seq] = next(self._ids)
            out.append(
                {
                    "terminal_seq": seq,
                    "status": status,
                    "txn_id": self.txn_ids[seq],
                    "card_flagged": False,
                }
            )
        return httpx.Response(200, json={"results": out})

    def _settle(self, s: dict[str, Any]) -> httpx.Response:
        mine = [t for t in self.txns.values() if t["batch_no"] == s["batch_no"]]
        server = {
            "count": len(mine),
            "debit_total": sum(-t["amount"] for t in mine if t["amount"] < 0),
            "credit_total": sum(t["amount"] for t in mine if t["amount"] > 0),
        }
        diffs = [f"{k}: terminal {s[k]}, server {v}" for k, v in server.items() if s[k] != v]
        self.settlements[s["batch_no"]] = s
        return httpx.Response(
            200,
            json={
                "batch_no": s["batch_no"],
                "status": "mismatch" if diffs else "matched",
                "server": server,
                "differences": diffs,
            },
        )


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 26, 9, 0, tzinfo=TAIPEI))


@pytest.fixture
def journal(tmp_path: Path, clock: ManualClock) -> Journal:
    return Journal(tmp_path / "kiosk.sqlite", STATION, clock)


def uploader(journal: Journal, server: FakeServer, clock: ManualClock, **kw: Any) -> Uploader:
    import random

    return Uploader(
        journal,
        BASE,
        kw.pop("key", KEY),
        clock=clock,
        transport=server.transport(),
        rng=random.Random(7),
        **kw,
    )


def add_txns(j: Journal, n: int, grams: int = 430) -> list[int]:
    """n garbage transactions journaled as the machine does (charge from the tariff)."""
    seqs = []
    tariff = TariffTable().on(date(2026, 11, 26))
    for _ in range(n):
        charge = tariff.charge(grams)
        at = "2026-11-26T09:00:00+08:00"
        it = j.open_intent("garbage", "EC-IT125-0001", -charge, None, at, {"grams": grams})
        j.record_transaction(
            it.terminal_seq,
            {
                "terminal_seq": it.terminal_seq,
                "batch_no": it.batch_no,
                "kind": "garbage",
                "occurred_at": at,
                "card_id": "EC-IT125-0001",
                "card_counter": it.terminal_seq,
                "amount": -charge,
                "balance_before": 5000,
                "balance_after": 5000 - charge,
                "points_before": 0,
                "points_after": 0,
                "grams": grams,
                "tariff_from": tariff.effective_from.isoformat(),
                "items": [],
                "rejected": [],
            },
        )
        seqs.append(it.terminal_seq)
    return seqs


def test_pending_transactions_go_up_in_number_order_100_at_a_time(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 250)
    rep = uploader(journal, server, clock).sync_once()
    batches = server.posted("/transactions")
    assert [len(b["transactions"]) for b in batches] == [100, 100, 50]
    sent = [t["terminal_seq"] for b in batches for t in b["transactions"]]
    assert sent == list(range(1, 251))
    assert (rep.stored, rep.first_seq, rep.last_seq) == (250, 1, 250)
    assert journal.counts()["stored"] == 250 and journal.drained()
    assert set(server.keys) == {KEY}
    assert server.txns[1] == journal.transaction(1)  # exactly the journaled payload


def test_a_refused_transaction_is_isolated_and_the_rest_go_on(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 5)
    server.bad[3] = (422, "tariff_mismatch")
    up = uploader(journal, server, clock)
    rep = up.sync_once()
    sizes = [len(b["transactions"]) for b in server.posted("/transactions")]
    assert sizes == [5, 1, 1, 1, 1, 1]
    assert (rep.stored, rep.refused) == (4, 1)
    assert sorted(server.txns) == [1, 2, 4, 5]
    (refused,) = [t for t in journal.transactions() if t["_upload"]["status"] == "refused"]
    assert refused["terminal_seq"] == 3
    assert refused["_upload"]["error"] == "tariff_mismatch"
    assert refused["_upload"]["detail"] == "seq 3 is wrong"
    add_txns(journal, 2)
    server.requests.clear()
    up.sync_once()
    assert [len(b["transactions"]) for b in server.posted("/transactions")] == [2]
    assert journal.drained()


def test_503_backs_off_exponentially_with_jitter_and_loses_nothing(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 30)
    server.outage["/transactions"] = 5
    up = uploader(journal, server, clock)
    assert up.run(threading.Event(), until_drained=True)
    backoffs = clock.slept[:5]
    for n, s in enumerate(backoffs, start=1):
        step = 2 ** (n - 1)
        assert step / 2 <= s <= step
    assert len(server.txns) == 30 and journal.drained()
    assert journal.get("last_upload_error") is None


def test_connection_errors_back_off_too(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 3)
    server.conn_errors = 3
    up = uploader(journal, server, clock)
    with pytest.raises(TemporaryFailure, match="ConnectError"):
        up.sync_once()
    assert journal.counts()["pending"] == 3
    assert up.run(threading.Event(), until_drained=True)
    assert len(clock.slept) >= 2 and len(server.txns) == 3


def test_the_backoff_is_capped_at_a_minute(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    up = uploader(journal, server, clock)
    delays = [up.backoff_s(n) for n in range(1, 200)]
    assert max(delays) <= 60
    assert min(delays[10:]) >= 30


def test_a_server_away_for_hours_gets_everything_when_it_returns(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 120)
    server.conn_errors = 400
    up = uploader(journal, server, clock)
    start = clock.now()
    assert up.run(threading.Event(), until_drained=True)
    assert (clock.now() - start).total_seconds() > 4 * 3600
    assert len(server.txns) == 120


def test_401_is_not_a_refusal_of_the_transactions(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 2)
    up = uploader(journal, server, clock, key="wrong")
    with pytest.raises(TemporaryFailure, match="401"):
        up.sync_once()
    assert journal.counts()["pending"] == 2 and journal.counts()["refused"] == 0


def test_413_sends_smaller_batches(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 100)
    server.max_batch = 30
    uploader(journal, server, clock).sync_once()
    sizes = [len(b["transactions"]) for b in server.posted("/transactions")]
    assert sizes == [100, 50, 25, 25, 25, 25]
    assert journal.drained()


def test_duplicates_are_marked_stored(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 3)
    for seq in (1, 2):  # the server stored these, but its answer was lost on the way
        server.txns[seq] = dict(journal.transaction(seq) or {})
        server.txn_ids[seq] = 100 + seq
    rep = uploader(journal, server, clock).sync_once()
    assert (rep.stored, rep.duplicates) == (1, 2)
    c = journal.counts()
    assert (c["stored"], c["duplicate"], c["pending"]) == (3, 2, 0)


def test_the_same_number_with_other_content_is_refused(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 2)
    server.txns[2] = {**(journal.transaction(2) or {}), "amount": -999}
    uploader(journal, server, clock).sync_once()
    (refused,) = [t for t in journal.transactions() if t["_upload"]["status"] == "refused"]
    assert (refused["terminal_seq"], refused["_upload"]["error"]) == (2, "payload_differs")


def test_a_settlement_is_sent_only_after_its_transactions(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 3)
    journal.close_batch()
    add_txns(journal, 1)  # batch 2 stays open
    server.outage["/transactions"] = 1
    up = uploader(journal, server, clock)
    with pytest.raises(TemporaryFailure):
        up.sync_once()
    assert server.posted("/settlements") == []
    up.sync_once()
    paths = [p for m, p, _ in server.requests if m == "POST"]
    last_txn = max(i for i, p in enumerate(paths) if p.endswith("/transactions"))
    assert paths.index("/api/v1/waste/terminal/settlements") > last_txn
    (sent,) = server.posted("/settlements")
    assert (sent["batch_no"], sent["count"], sent["first_seq"], sent["last_seq"]) == (1, 3, 1, 3)
    assert sent["debit_total"] == 33 and sent["credit_total"] == 0
    assert [s.upload_status for s in journal.settlements()] == ["matched"]
    up.sync_once()
    assert len(server.posted("/settlements")) == 1  # settled once


def test_a_refused_transaction_still_lets_its_batch_settle_as_a_mismatch(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 3)
    server.bad[2] = (409, "counter_replay")
    journal.close_batch()
    uploader(journal, server, clock).sync_once()
    (s,) = journal.settlements()
    assert s.upload_status == "mismatch"
    answer = journal.settlement_answer(1)
    assert answer is not None and answer["answer"]["server"]["count"] == 2


def test_sign_on_caches_tariffs_and_the_blocklist_refuses_cards(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    server.blocklist = [(1, "EC-LOST", True), (2, "EC-FOUND", True)]
    up = uploader(journal, server, clock)
    up.sync_once()
    sign_on = server.posted("/sign-on")[0]
    assert sign_on == {"software": "onecity-kiosk 0.1", "batch_no": 1}
    assert journal.get("tariffs") == tariffs_to_json(TAIPEI_TARIFFS)
    assert journal.blocked_cards() == ["EC-FOUND", "EC-LOST"]
    assert journal.blocklist_version() == 2
    server.blocklist.append((3, "EC-FOUND", False))
    clock.advance(301)
    up.sync_once()
    assert server.gets == [
        f"{BASE}/api/v1/waste/terminal/blocklist",
        f"{BASE}/api/v1/waste/terminal/blocklist?since=2",
    ]
    assert journal.blocked_cards() == ["EC-LOST"]
    sim = SimStation(clock)
    machine = KioskMachine(STATION, journal, sim.hardware(), clock)
    lost = SimulatedEasyCard("EC-LOST", 1000)
    sim.reader.insert(lost)
    assert machine.session(Kind.GARBAGE).outcome is Outcome.CARD_BLOCKED
    assert lost.counter == 0


def test_status_goes_up_as_telemetry_with_a_rising_sequence(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    add_txns(journal, 1)
    journal.put("paper_out", True)
    up = uploader(journal, server, clock)
    assert up.send_telemetry()
    up2 = uploader(journal, server, clock)
    assert up2.send_telemetry()
    first, second = server.telemetry
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["values"] == {
        "pending_uploads": 1,
        "sessions": 0,
        "out_of_service": False,
        "paper_out": True,
        "refused_uploads": 0,
        "unknown_outcomes": 0,
    }
    assert datetime.fromisoformat(first["ts"]).utcoffset() is not None
    assert any(p == "/api/v1/telemetry" for _, p, _ in server.requests)


def test_the_run_loop_posts_telemetry_about_every_30_s(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    up = uploader(journal, server, clock)
    stop = threading.Event()
    up.run(stop, deadline_s=95)
    assert 3 <= len(server.telemetry) <= 5
    seqs = [m["seq"] for m in server.telemetry]
    assert seqs == sorted(set(seqs))


# --- a whole simulated station ------------------------------------------------------------


def test_a_simulated_station_runs_uploads_and_settles_end_to_end(
    tmp_path: Path, server: FakeServer
) -> None:
    cfg = KioskConfig(
        station=STATION,
        server=BASE,
        key=KEY,
        journal=tmp_path / "kiosk.sqlite",
        wallet=tmp_path / "wallet.sqlite",
        cards=8,
        card_balance=1000,
        rate=6.0,
        max_sessions=40,
        seed=11,
        drain_seconds=30,
        settle_on_exit=True,
        faults=FaultRates(card_pull=0.2, never_back=0.2, scale_error=0.05, door_jam=0.02),
        repair_minutes=1,
    )
    lines: list[str] = []
    kiosk = SimulatedKiosk(
        cfg,
        clock=ManualClock(),
        net_clock=SystemClock(speed=20),
        transport=server.transport(),
        out=lines.append,
    )
    summary = kiosk.run()
    assert summary.sessions == 40
    assert summary.outcomes["charged"] > 0 and summary.outcomes["credited"] > 0
    assert summary.drained, lines[-20:]
    with Journal(cfg.journal_path, STATION, ManualClock()) as j:
        journaled = j.transactions()
        unknown = {i.card_id for i in j.unknown_intents()}
        settlements = j.settlements()
    assert len(server.txns) == len(journaled) > 0
    assert all(t["_upload"]["status"] == "stored" for t in journaled)
    assert [s.upload_status for s in settlements] == ["matched"]
    # every card's history on the server is whole (a card whose write ended unknown may
    # show a gap: that is what the server's reconciliation is for)
    by_card: dict[str, list[CardWrite]] = defaultdict(list)
    for t in server.txns.values():
        by_card[t["card_id"]].append(
            CardWrite(
                t["card_id"],
                STATION,
                t["terminal_seq"],
                t["card_counter"],
                t["amount"],
                t["balance_before"],
                t["balance_after"],
                t["points_before"],
                t["points_after"],
            )
        )
    for card_id, writes in by_card.items():
        if card_id not in unknown:
            assert reconcile(writes) == [], card_id
    ids = {c for c, _, _ in wallet_cards(STATION, 8, 1000)}
    assert set(by_card) <= ids
    assert any("upload ·" in ln for ln in lines)
    assert any("door open · deposit within 15 s" in ln for ln in lines)


def test_writes_with_an_unknown_outcome_are_reported_and_asked_again_while_open(
    journal: Journal, server: FakeServer, clock: ManualClock
) -> None:
    at = "2026-11-26T09:00:00+08:00"
    it = journal.open_intent("garbage", "EC-IT125-0002", -22, None, at, {"grams": 800})
    journal.resolve_intent(it.terminal_seq, "unknown", "card pulled and not brought back")
    up = uploader(journal, server, clock)
    up.sync_once()
    assert server.unconfirmed == [
        {
            "terminal_seq": it.terminal_seq,
            "batch_no": it.batch_no,
            "kind": "garbage",
            "occurred_at": at,
            "card_id": "EC-IT125-0002",
            "amount": -22,
            "points_after": None,
            "grams": 800,
            "tariff_from": "2026-01-01",
        }
    ]
    up.sync_once()  # still open on the server, but asked a moment ago: not again yet
    assert len(server.unconfirmed) == 1
    clock.advance(601)
    server.unconfirmed_status = "recovered"
    up.sync_once()  # ten minutes on: asked again, and now the card's chain showed it
    assert len(server.unconfirmed) == 2
    clock.advance(3600)
    up.sync_once()  # recovered is final
    assert len(server.unconfirmed) == 2
