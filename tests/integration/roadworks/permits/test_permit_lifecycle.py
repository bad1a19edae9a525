"""The rest of a permit's life, with the service's clock moved by the test: locate answers,
works started, stopped, restored, inspected; deemed grants; emergency works; rules that block
a grant; who may see and do what; two operators deciding at once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from onecity.roadworks.registry.models import DigBanRow, EmbargoRow
from onecity.roadworks.services import RoadworksServices
from tests.conftest import add_user, login
from tests.integration.roadworks.helpers import application, count, lay_pipe, setup_city, square

API = "/api/v1/roadworks"


class Clock:
    """The service's idea of now, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tue 10:00 in Taipei

    def __call__(self) -> datetime:
        return self.now

    def local_today(self) -> date:
        return (self.now + timedelta(hours=8)).date()


@pytest.fixture
def clock(platform: Platform) -> Clock:
    c = Clock()
    # The platform's one permit service (and the registry, pipes and sites built on it) now
    # reads this clock.
    platform.services(RoadworksServices).permits.clock = c
    return c


def _file(client: TestClient, head: dict[str, str], **over: Any) -> dict[str, Any]:
    r = client.post(f"{API}/permits", json=application(**over), headers=head)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_from_application_to_closed(client: TestClient, platform: Platform, clock: Clock) -> None:
    heads = setup_city(client, platform)
    lay_pipe(platform, "taipower", "power", 0.00005, 1.2)
    start = clock.local_today() + timedelta(days=30)
    p = _file(
        client,
        heads["twc.staff"],
        start_date=start.isoformat(),
        end_date=(start + timedelta(days=2)).isoformat(),
    )
    ref = p["ref"]
    [loc] = p["locates"]
    assert loc["owner"] == "taipower" and loc["response"] == "pending"
    assert loc["due_by"] == "2026-12-03"  # two working days after Tuesday

    # The owner sees its request; the applicant's staff cannot answer it.
    mine = client.get(f"{API}/locates?pending=true", headers=heads["tp.staff"]).json()
    assert [x["permit_ref"] for x in mine] == [ref]
    wrong = client.post(
        f"{API}/locates/{loc['id']}/answer", json={"response": "clear"}, headers=heads["twc.staff"]
    )
    assert wrong.status_code == 403

    g = client.post(
        f"{API}/permits/{ref}/decision", json={"decision": "grant"}, headers=heads["rpic.op"]
    )
    assert g.status_code == 200 and g.json()["status"] == "granted"
    clock.now += timedelta(days=30)

    conflict = client.post(
        f"{API}/locates/{loc['id']}/answer",
        json={"response": "conflict", "note": "cable at 1.1 m, dig by hand"},
        headers=heads["tp.staff"],
    )
    assert conflict.status_code == 200
    blocked = client.post(
        f"{API}/permits/{ref}/progress", json={"step": "start"}, headers=heads["builder.staff"]
    )
    assert blocked.status_code == 409 and blocked.json()["error"] == "locates_pending"
    assert "taipower (conflict)" in blocked.json()["detail"]
    client.post(
        f"{API}/locates/{loc['id']}/answer", json={"response": "marked"}, headers=heads["tp.staff"]
    )

    for step, status in (
        ("start", "in_progress"),
        ("stop", "works_done"),
        ("restored", "restored"),
    ):
        r = client.post(
            f"{API}/permits/{ref}/progress", json={"step": step}, headers=heads["builder.staff"]
        )
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    failed = client.post(
        f"{API}/permits/{ref}/inspection",
        json={"result": "fail", "note": "patch sunk 3 cm"},
        headers=heads["rpic.op"],
    )
    assert failed.json()["status"] == "works_done"
    client.post(
        f"{API}/permits/{ref}/progress", json={"step": "restored"}, headers=heads["builder.staff"]
    )
    closed = client.post(
        f"{API}/permits/{ref}/inspection", json={"result": "pass"}, headers=heads["rpic.op"]
    ).json()
    assert closed["status"] == "closed"
    steps = [(s["step"], s["actor"]) for s in closed["steps"]]
    assert steps[0] == ("applied", "twc.staff")
    assert ("granted", "rpic.op") in steps and ("inspection_failed", "rpic.op") in steps
    assert steps[-1] == ("inspected", "rpic.op")
    # A contractor cannot inspect its own restoration.
    again = client.post(
        f"{API}/permits/{ref}/inspection", json={"result": "pass"}, headers=heads["builder.staff"]
    )
    assert again.status_code == 403


def test_unanswered_application_is_deemed_granted(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    heads = setup_city(client, platform)
    start = clock.local_today() + timedelta(days=30)
    p = _file(
        client,
        heads["twc.staff"],
        start_date=start.isoformat(),
        end_date=(start + timedelta(days=1)).isoformat(),
        geometry=square(size=0.00008),
    )
    svc = platform.services(RoadworksServices).permits
    assert p["category"] == "minor" and p["decide_by"] == "2026-12-03"
    clock.now += timedelta(days=2)  # Thursday: the last day to answer
    assert svc.deem_granted() == 0
    clock.now += timedelta(days=1)
    assert svc.deem_granted() == 1
    got = client.get(f"{API}/permits/{p['ref']}", headers=heads["twc.staff"]).json()
    assert got["status"] == "granted"
    assert got["steps"][-1]["step"] == "deemed_granted" and got["steps"][-1]["actor"] == "system"
    assert svc.deem_granted() == 0  # once only


def test_blocked_application_is_neither_granted_nor_deemed(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    heads = setup_city(client, platform)
    with platform.db.session() as s:
        s.add(
            DigBanRow(
                road="復興南路一段",
                geometry=None,
                paved_on=date(2025, 6, 1),
                years=5,
                note="resurfaced",
            )
        )
        s.add(
            EmbargoRow(
                name_zh="春節",
                name_en="Lunar New Year",
                kind="holiday",
                start_date=date(2027, 2, 5),
                end_date=date(2027, 2, 12),
                geometry=None,
            )
        )
    p = _file(client, heads["twc.staff"], start_date="2027-02-08", end_date="2027-02-09")
    codes = {f["code"]: f["severity"] for f in p["findings"]}
    assert codes["dig_ban"] == "block" and codes["embargo"] == "block"
    ban = next(f for f in p["findings"] if f["code"] == "dig_ban")
    assert "2030-06-01" in ban["reason"]["en"]
    r = client.post(
        f"{API}/permits/{p['ref']}/decision", json={"decision": "grant"}, headers=heads["rpic.op"]
    )
    assert r.status_code == 409 and r.json()["error"] == "rules_block"
    clock.now += timedelta(days=60)
    assert platform.services(RoadworksServices).permits.deem_granted() == 0
    refuse = client.post(
        f"{API}/permits/{p['ref']}/decision", json={"decision": "refuse"}, headers=heads["rpic.op"]
    )
    assert refuse.status_code == 422  # a refusal says why
    ok = client.post(
        f"{API}/permits/{p['ref']}/decision",
        json={"decision": "refuse", "note": "road resurfaced in 2025"},
        headers=heads["rpic.op"],
    )
    assert ok.json()["status"] == "refused"


def test_emergency_works_start_at_once_and_file_within_three_days(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    heads = setup_city(client, platform)
    today = clock.local_today()
    p = _file(
        client,
        heads["twc.staff"],
        emergency=True,
        purpose="water",
        start_date=(today - timedelta(days=2)).isoformat(),
        end_date=(today + timedelta(days=1)).isoformat(),
    )
    assert p["status"] == "in_progress" and p["category"] == "emergency"
    assert [s["step"] for s in p["steps"]] == ["applied", "emergency_started"]
    assert not any(f["severity"] == "block" for f in p["findings"])
    late = _file(
        client,
        heads["twc.staff"],
        emergency=True,
        geometry=square(dx=0.01),
        start_date=(today - timedelta(days=5)).isoformat(),
        end_date=today.isoformat(),
    )
    assert any(f["code"] == "late_emergency_filing" for f in late["findings"])


def test_short_notice_names_the_earliest_start(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    heads = setup_city(client, platform)
    start = clock.local_today() + timedelta(days=2)
    r = client.post(
        f"{API}/permits/check",
        json=application(
            start_date=start.isoformat(), end_date=(start + timedelta(days=1)).isoformat()
        ),
        headers=heads["twc.staff"],
    )
    assert r.status_code == 200
    short = [f for f in r.json()["findings"] if f["code"] == "short_notice"]
    assert short and short[0]["severity"] == "block"
    assert count(platform, "roadworks_permits") == 0  # a check files nothing


def test_who_sees_what(client: TestClient, platform: Platform, clock: Clock) -> None:
    heads = setup_city(client, platform)
    add_user(platform, "citizen.joe", "citizen", None)
    add_user(platform, "gas.staff", "contractor", "pwd")
    p = _file(client, heads["twc.staff"], start_date="2027-01-10", end_date="2027-01-12")
    ref = p["ref"]
    assert client.get(f"{API}/permits/{ref}", headers=heads["builder.staff"]).status_code == 200
    for who in ("citizen.joe", "gas.staff"):
        h = login(client, who)
        assert client.get(f"{API}/permits/{ref}", headers=h).status_code == 404
        assert client.get(f"{API}/permits", headers=h).json()["items"] == []
    # Filing for an organisation one is not staff of is refused.
    r = client.post(
        f"{API}/permits", json=application(applicant="taipower"), headers=heads["twc.staff"]
    )
    assert r.status_code == 403
    r = client.post(
        f"{API}/permits/{ref}/decision", json={"decision": "grant"}, headers=heads["twc.staff"]
    )
    assert r.status_code == 403


def test_two_operators_decide_at_once_one_wins(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    heads = setup_city(client, platform)
    p = _file(client, heads["twc.staff"], start_date="2027-01-10", end_date="2027-01-12")
    add_user(platform, "rpic.op2", "operator", "pwd")
    h2 = login(client, "rpic.op2")
    results: list[int] = []

    def decide(head: dict[str, str], body: dict[str, Any]) -> None:
        r = client.post(f"{API}/permits/{p['ref']}/decision", json=body, headers=head)
        results.append(r.status_code)

    threads = [
        threading.Thread(target=decide, args=(heads["rpic.op"], {"decision": "grant"})),
        threading.Thread(
            target=decide, args=(h2, {"decision": "refuse", "note": "road closed for a parade"})
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    got = client.get(f"{API}/permits/{p['ref']}", headers=heads["rpic.op"]).json()
    decisions = [s for s in got["steps"] if s["step"] in ("granted", "refused")]
    assert len(decisions) == 1 and got["status"] == decisions[0]["to_status"]


def test_joint_dig_starts_deepest_first(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    heads = setup_city(client, platform)
    start = clock.local_today() + timedelta(days=30)
    dates = {"start_date": start.isoformat(), "end_date": (start + timedelta(days=3)).isoformat()}
    water = _file(client, heads["twc.staff"], **dates)
    client.post(
        f"{API}/permits/{water['ref']}/decision",
        json={"decision": "grant"},
        headers=heads["rpic.op"],
    )
    power = _file(
        client,
        heads["tp.staff"],
        applicant="taipower",
        purpose="power",
        depth_m=2.0,
        geometry=square(dx=0.00002),
        **dates,
    )
    r = client.post(
        f"{API}/permits/{power['ref']}/decision",
        json={"decision": "grant", "joint_dig": True},
        headers=heads["rpic.op"],
    )
    assert r.json()["dig_order"] == 1
    clock.now += timedelta(days=30)

    early = client.post(
        f"{API}/permits/{water['ref']}/progress", json={"step": "start"}, headers=heads["twc.staff"]
    )
    assert early.status_code == 409 and early.json()["error"] == "dig_order"
    assert power["ref"] in early.json()["detail"]
    for ref, head in ((power["ref"], heads["tp.staff"]), (water["ref"], heads["twc.staff"])):
        r = client.post(f"{API}/permits/{ref}/progress", json={"step": "start"}, headers=head)
        assert r.status_code == 200 and r.json()["status"] == "in_progress", r.text


def test_an_owner_silent_past_the_due_day_is_reported_once(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    from onecity.roadworks.permits.locate_desk import escalate_overdue

    heads = setup_city(client, platform)
    lay_pipe(platform, "taipower", "power", 0.00005, 1.2)
    lay_pipe(platform, "twc", "water", 0.00003, 1.0)
    p = _file(client, heads["twc.staff"], start_date="2027-01-10", end_date="2027-01-12")
    svc = platform.services(RoadworksServices).permits
    answered = next(x for x in p["locates"] if x["owner"] == "twc")
    client.post(
        f"{API}/locates/{answered['id']}/answer",
        json={"response": "clear"},
        headers=heads["twc.staff"],
    )
    clock.now += timedelta(days=2)  # Thursday 3 December: the due day itself
    assert escalate_overdue(svc) == 0
    clock.now += timedelta(days=1)
    events_before = count(platform, "events")
    assert escalate_overdue(svc) == 1
    assert escalate_overdue(svc) == 0  # once only
    assert count(platform, "events") > events_before
    got = client.get(f"{API}/permits/{p['ref']}", headers=heads["rpic.op"]).json()
    late = [s for s in got["steps"] if s["step"] == "locate_overdue"]
    assert len(late) == 1 and late[0]["detail"]["owner"] == "taipower"
    assert next(x for x in got["locates"] if x["owner"] == "taipower")["overdue"] is True


def test_changes_requested_then_amended_and_checked_again(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    heads = setup_city(client, platform)
    lay_pipe(platform, "taipower", "power", 0.00005, 1.2)
    start = clock.local_today() + timedelta(days=30)
    dates = {"start_date": start.isoformat(), "end_date": (start + timedelta(days=2)).isoformat()}
    p = _file(client, heads["twc.staff"], **dates)
    ref = p["ref"]
    assert [x["owner"] for x in p["locates"]] == ["taipower"]
    # Not before RPIC asks for changes.
    early = client.post(
        f"{API}/permits/{ref}/resubmit", json=application(**dates), headers=heads["twc.staff"]
    )
    assert early.status_code == 409
    r = client.post(
        f"{API}/permits/{ref}/decision",
        json={"decision": "changes", "note": "move the pit 200 m east, off the cable"},
        headers=heads["rpic.op"],
    )
    assert r.json()["status"] == "changes_requested"

    moved = application(geometry=square(dx=0.002), depth_m=1.0, **dates)
    bad = client.post(
        f"{API}/permits/{ref}/resubmit",
        json={**moved, "applicant": "taipower"},
        headers=heads["twc.staff"],
    )
    assert bad.status_code in (403, 422)
    r = client.post(f"{API}/permits/{ref}/resubmit", json=moved, headers=heads["twc.staff"])
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["ref"] == ref and got["status"] == "applied"
    assert got["geometry"] != p["geometry"]
    # The cable is no longer reached: Taipower's request is cancelled, not left pending.
    assert [(x["owner"], x["response"]) for x in got["locates"]] == [("taipower", "cancelled")]
    assert got["steps"][-1]["step"] == "resubmitted"
    assert got["steps"][-1]["detail"]["before"]["fee"] == p["fee_total"]
    answer = client.post(
        f"{API}/locates/{got['locates'][0]['id']}/answer",
        json={"response": "clear"},
        headers=heads["tp.staff"],
    )
    assert answer.status_code == 409
    # Granted as amended; it does not clash with its own earlier footprint.
    g = client.post(
        f"{API}/permits/{ref}/decision", json={"decision": "grant"}, headers=heads["rpic.op"]
    )
    assert g.status_code == 200 and g.json()["status"] == "granted", g.text
