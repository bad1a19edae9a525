"""Linking a card to a citizen account needs proof of holding it (issue 14, card takeover).

Before: card id, station and transaction number were enough, all three sequential, so a loop
found a stranger's card in a few dozen guesses, showed its history and locked the owner out.
Now a station prints (and shows) a one-time link code with each transaction; the code links
a card no account holds, once, for 48 hours, and guessing is throttled per account and per
card in the database, with the same answer whatever was wrong. A linked card leaves its
account only when that account unlinks it or staff detach it: any later receipt of the
owner's, found in a bin, moved it to the finder with a first version of the fix."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from onecity.app import create_app
from onecity.core.models import AuditRecord, Event
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.waste.kiosk.cards import SimulatedEasyCard
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.entries import payload_hash
from onecity.waste.ledger.models import WasteTxn
from onecity.waste.rules.money import Material
from tests.conftest import add_user, login
from tests.integration.waste.helpers import Terminal, add_station, issue

UP = "/api/v1/waste/terminal/transactions"
MY = "/api/v1/waste/my/cards"


def _recent(minutes_ago: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes_ago)


@pytest.fixture
def station(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> tuple[dict[str, str], Terminal, SimulatedEasyCard]:
    key = add_station(client, admin, "IT-125")
    card = SimulatedEasyCard("EC-0001", balance=500)
    neighbour = SimulatedEasyCard("EC-0002", balance=100)
    issue(platform, card, neighbour)
    term = Terminal("IT-125")
    for n in range(4):  # the station served a neighbour first
        _visit(client, key, term, neighbour, f"N{n}NN-NNNN")
    return key, term, card


def _visit(
    client: TestClient, key: dict[str, str], term: Terminal, card: SimulatedEasyCard, code: str
) -> dict[str, Any]:
    """One garbage drop whose receipt shows `code`, uploaded by the station."""
    t = term.garbage(card, 300, _recent(60 - term.seq))
    t["link_code"] = code
    r = client.post(UP, headers=key, json={"transactions": [t]})
    assert r.status_code == 200, r.text
    return t


def _citizen(client: TestClient, platform: Platform, name: str) -> dict[str, str]:
    add_user(platform, name, "citizen", None)
    return login(client, name)


def _audit(platform: Platform, action: str) -> list[AuditRecord]:
    with platform.db.read() as s:
        q = select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)
        return list(s.scalars(q))


def test_guessing_finds_no_card_and_is_throttled(
    client: TestClient, platform: Platform, station: Any
) -> None:
    key, term, card = station
    for n in range(3):
        _visit(client, key, term, card, f"K7Q{n}-X2MA")
    mallory = _citizen(client, platform, "mallory")
    answers: list[tuple[int, dict[str, Any], str | None]] = []
    found_after = None
    # The audited attack: sequential station transaction numbers, then guessed codes.
    guesses: list[dict[str, Any]] = [
        {"card_id": "EC-0001", "terminal_id": "IT-125", "terminal_seq": n} for n in range(1, 31)
    ] + [{"card_id": "EC-0001", "link_code": f"{n:04d}-0000"} for n in range(30)]
    for i, body in enumerate(guesses, start=1):
        r = client.post(MY, headers=mallory, json=body)
        answers.append((r.status_code, r.json(), r.headers.get("retry-after")))
        if r.status_code == 201:
            found_after = i
            break
    assert found_after is None, f"a stranger's card was linked after {found_after} guesses"
    assert client.get(MY, headers=mallory).json() == []
    limited = [a for a in answers if a[0] == 429]
    assert limited, "guessing was never throttled"
    first = next(i for i, a in enumerate(answers) if a[0] == 429)
    assert first <= 35  # the first 30 old-style bodies are refused as malformed, 5 codes tried
    _, body, retry = limited[0]
    assert body["error"] == "too_many_attempts" and retry is not None and int(retry) > 0
    failed = [a for a in answers[:first] if a[0] != 422 or a[1]["error"] != "invalid"]
    assert {a[1]["error"] for a in failed} == {"link_refused"}
    assert len(_audit(platform, "waste.card.link_failed")) == 5


def test_a_failure_says_nothing_about_whether_the_card_exists(
    client: TestClient, platform: Platform, station: Any
) -> None:
    key, term, card = station
    _visit(client, key, term, card, "AB12-CD34")
    eve = _citizen(client, platform, "eve")
    bodies = [
        {"card_id": "EC-0001", "link_code": "ZZZZ-ZZZZ"},  # the card exists, the code is wrong
        {"card_id": "EC-9999", "link_code": "AB12-CD34"},  # no such card
        {"card_id": "EC-0002", "link_code": "AB12-CD34"},  # another card's code
    ]
    answers = [client.post(MY, headers=eve, json=b) for b in bodies]
    assert {r.status_code for r in answers} == {422}
    assert len({r.text for r in answers}) == 1  # word for word the same


def test_the_limit_per_card_holds_across_accounts_and_api_processes(
    client: TestClient, platform: Platform, station: Any
) -> None:
    key, term, card = station
    _visit(client, key, term, card, "AB12-CD34")
    heads = [_citizen(client, platform, f"sybil{n}") for n in range(3)]
    codes = iter(f"{n:04d}-1111" for n in range(100))
    statuses = [
        client.post(
            MY, headers=h, json={"card_id": "EC-0001", "link_code": next(codes)}
        ).status_code
        for h in heads
        for _ in range(4)
    ]
    assert statuses[:10] == [422] * 10 and set(statuses[10:]) == {429}
    # A second API process (its own app and platform on the same database) agrees.
    other = start_platform(platform.settings)
    try:
        with TestClient(create_app(other.settings, other)) as c2:
            fresh = _citizen(c2, other, "fresh")
            r = c2.post(MY, headers=fresh, json={"card_id": "EC-0001", "link_code": "AB12-CD34"})
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            # Other cards are not held up by the attack on this one.
            r = c2.post(MY, headers=fresh, json={"card_id": "EC-0002", "link_code": "0000-0000"})
            assert r.status_code == 422
    finally:
        other.db.dispose()


def test_the_receipt_code_links_once_and_the_owner_unlinks(
    client: TestClient, platform: Platform, station: Any
) -> None:
    key, term, card = station
    _visit(client, key, term, card, "K7QM-X2MA")
    amy = _citizen(client, platform, "amy")
    bob = _citizen(client, platform, "bob")
    # Typed as people type it: lower case, no dash.
    r = client.post(MY, headers=amy, json={"card_id": "EC-0001", "link_code": "k7qmx2ma"})
    assert r.status_code == 201, r.text
    assert r.json()["card_id"] == "EC-0001" and len(r.json()["history"]) == 1
    assert [c["card_id"] for c in client.get(MY, headers=amy).json()] == ["EC-0001"]
    # Sent again by the same account: still linked, nothing new.
    again = client.post(MY, headers=amy, json={"card_id": "EC-0001", "link_code": "K7QM-X2MA"})
    assert again.status_code == 201
    # The same receipt picked up by someone else does not move the card.
    r = client.post(MY, headers=bob, json={"card_id": "EC-0001", "link_code": "K7QM-X2MA"})
    assert r.status_code == 422 and r.json()["error"] == "link_refused"
    assert [c["card_id"] for c in client.get(MY, headers=amy).json()] == ["EC-0001"]

    assert client.delete(f"{MY}/EC-0001", headers=bob).status_code == 404
    assert client.delete(f"{MY}/EC-0001", headers=amy).status_code == 204
    assert client.get(MY, headers=amy).json() == []
    # A used code does not link again; the next visit's code does.
    r = client.post(MY, headers=amy, json={"card_id": "EC-0001", "link_code": "K7QM-X2MA"})
    assert r.status_code == 422
    _visit(client, key, term, card, "P3RT-7VWY")
    r = client.post(MY, headers=amy, json={"card_id": "EC-0001", "link_code": "P3RT-7VWY"})
    assert r.status_code == 201
    assert len(_audit(platform, "waste.card.register")) == 2
    assert len(_audit(platform, "waste.card.unregister")) == 1
    assert len(_audit(platform, "waste.card.link_failed")) == 2


def test_a_later_receipt_does_not_take_a_linked_card(
    client: TestClient, platform: Platform, station: Any
) -> None:
    """Every receipt carries a code: the owner's next visits' receipts, found in a bin, are
    no proof against the account that holds the card."""
    key, term, card = station
    _visit(client, key, term, card, "AAAA-1111")
    owner = _citizen(client, platform, "owner")
    finder = _citizen(client, platform, "finder")
    r = client.post(MY, headers=owner, json={"card_id": "EC-0001", "link_code": "AAAA-1111"})
    assert r.status_code == 201
    _visit(client, key, term, card, "BBBB-2222")  # the owner's next receipt, thrown away
    r = client.post(MY, headers=finder, json={"card_id": "EC-0001", "link_code": "BBBB-2222"})
    wrong = client.post(MY, headers=finder, json={"card_id": "EC-0001", "link_code": "ZZZZ-ZZZZ"})
    assert r.status_code == 422 and r.text == wrong.text  # no hint that the code was right
    assert "service desk" in r.json()["detail"]
    assert client.get(MY, headers=finder).json() == []
    assert [c["card_id"] for c in client.get(MY, headers=owner).json()] == ["EC-0001"]
    assert client.get("/api/v1/waste/my/card-notices", headers=owner).json() == []
    # The owner typing the newer code is told the card is theirs, as with the first one.
    r = client.post(MY, headers=owner, json={"card_id": "EC-0001", "link_code": "BBBB-2222"})
    assert r.status_code == 201 and r.json()["card_id"] == "EC-0001"


def test_staff_detach_a_card_and_its_holder_links_it_with_a_newer_code(
    client: TestClient, platform: Platform, station: Any
) -> None:
    key, term, card = station
    _visit(client, key, term, card, "AAAA-1111")  # a receipt left in the bin
    _visit(client, key, term, card, "BBBB-2222")
    finder = _citizen(client, platform, "finder")
    owner = _citizen(client, platform, "owner")
    r = client.post(MY, headers=finder, json={"card_id": "EC-0001", "link_code": "AAAA-1111"})
    assert r.status_code == 201
    # The card's holder cannot take it back with a code alone...
    r = client.post(MY, headers=owner, json={"card_id": "EC-0001", "link_code": "BBBB-2222"})
    assert r.status_code == 422 and r.json()["error"] == "link_refused"
    # ...but shows it at the service desk, whose staff detach it (not a citizen, nor a crew).
    add_user(platform, "epb.op", "operator", "epb")
    add_user(platform, "epb.crew", "crew", "epb")
    staff, crew = login(client, "epb.op"), login(client, "epb.crew")
    url, why = "/api/v1/waste/cards/EC-0001/detach", {"reason": "holder showed the card"}
    assert client.post(url, headers=owner, json=why).status_code == 403
    assert client.post(url, headers=crew, json=why).status_code == 403
    assert client.post(url, headers=staff, json={}).status_code == 422  # a reason is required
    assert client.post(url, headers=staff, json=why).status_code == 204
    assert client.post(url, headers=staff, json=why).status_code == 409  # no longer linked
    assert client.get(MY, headers=finder).json() == []
    notices = client.get("/api/v1/waste/my/card-notices", headers=finder).json()
    assert [(n["card_id"], n["what"]) for n in notices] == [("EC-0001", "detached")]
    [detached] = _audit(platform, "waste.card.detach")
    assert detached.actor == "epb.op" and detached.target == "EC-0001"
    assert detached.detail["reason"] == "holder showed the card"
    with platform.db.read() as s:
        [event] = s.scalars(select(Event).where(Event.type == "waste.card_detached")).all()
    # The event reaches webhooks and relays: it names neither the card nor an account.
    assert "EC-0001" not in str(event.payload) and "user" not in str(event.payload)
    # Now the holder's newer code links it; the finder's older one never again.
    r = client.post(MY, headers=owner, json={"card_id": "EC-0001", "link_code": "BBBB-2222"})
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/waste/my/card-notices", headers=owner).json() == []
    assert client.delete(f"{MY}/EC-0001", headers=owner).status_code == 204
    r = client.post(MY, headers=finder, json={"card_id": "EC-0001", "link_code": "AAAA-1111"})
    assert r.status_code == 422


def test_a_database_dump_gives_no_link_code(
    client: TestClient, platform: Platform, station: Any
) -> None:
    """The stored hash is keyed with a secret outside the database, and the payload hash
    leaves the code out: trying every code against a dump finds none."""
    key, term, card = station
    t = _visit(client, key, term, card, "Q7KM-X2MA")
    with platform.db.read() as s:
        row = s.scalars(select(WasteTxn).where(WasteTxn.link_code_hash.is_not(None))).all()[-1]
        stored, payload = row.link_code_hash, row.payload_hash
    # The attacker's loop over the 2^40 codes, here over a few including the real one.
    for code in ("0000-0000", "Q7KM-X2MA", "ZZZZ-ZZZZ"):
        plain = hashlib.sha256(f"onecity-card-link\0EC-0001\0{code}".encode()).hexdigest()
        assert plain != stored, f"the dump gives the code {code}"
    assert payload == payload_hash(sc.TxnIn.model_validate(t | {"link_code": None}))


def test_a_code_expires(client: TestClient, platform: Platform, station: Any) -> None:
    key, term, card = station
    t = term.recycle(card, [Material.PET] * 2, _recent(49 * 60))  # 48 hours and a bit
    t["link_code"] = "R9D1-C0DE"
    assert client.post(UP, headers=key, json={"transactions": [t]}).status_code == 200
    amy = _citizen(client, platform, "amy")
    r = client.post(MY, headers=amy, json={"card_id": "EC-0001", "link_code": "R9D1-C0DE"})
    assert r.status_code == 422 and r.json()["error"] == "link_refused"


def test_concurrent_guesses_from_one_account_get_exactly_the_allowance(
    client: TestClient, platform: Platform, station: Any
) -> None:
    """Several API workers answering one account's guesses at once still count each."""
    key, term, card = station
    _visit(client, key, term, card, "AB12-CD34")
    mallory = _citizen(client, platform, "mallory")
    statuses: list[int] = []

    def guess(n: int) -> None:
        # A different card number each time: only the account's own count holds them back.
        body = {"card_id": f"EC-{n:04d}", "link_code": f"{n:04d}-2222"}
        statuses.append(client.post(MY, headers=mallory, json=body).status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [422] * 5 + [429] * 7
