"""Separation of duties in road works (issue 14): nobody decides an application they filed or
amended, and only an owner's own staff answer that owner's locate requests — RPIC assessors
included, on both databases."""

from __future__ import annotations

from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from tests.conftest import add_user, login
from tests.integration.roadworks.helpers import application, lay_pipe, setup_city

API = "/api/v1/roadworks"


def _decide(client: TestClient, head: dict[str, str], ref: str, decision: str) -> tuple[int, str]:
    body = {"decision": decision, "note": "" if decision == "grant" else "see the note"}
    r = client.post(f"{API}/permits/{ref}/decision", json=body, headers=head)
    return r.status_code, r.json().get("error", r.json().get("status"))


def test_an_assessor_who_files_for_a_utility_cannot_decide_it(
    client: TestClient, platform: Platform
) -> None:
    heads = setup_city(client, platform)
    add_user(platform, "rpic.op2", "operator", "pwd")
    other = login(client, "rpic.op2")

    # Counter filing: RPIC staff enter a utility's application for it; who filed is recorded.
    filed = client.post(f"{API}/permits", json=application(), headers=heads["rpic.op"])
    assert filed.status_code == 201, filed.text
    ref = filed.json()["ref"]
    for decision in ("grant", "changes", "refuse"):
        assert _decide(client, heads["rpic.op"], ref, decision) == (403, "own_filing")
    got = client.get(f"{API}/permits/{ref}", headers=other).json()
    assert got["status"] == "applied"  # the refusals changed nothing
    applied = next(s for s in got["steps"] if s["step"] == "applied")
    assert applied["actor"] == "rpic.op"
    # Another assessor decides it.
    assert _decide(client, other, ref, "grant") == (200, "granted")


def test_whoever_amended_an_application_cannot_decide_it(
    client: TestClient, platform: Platform
) -> None:
    heads = setup_city(client, platform)
    add_user(platform, "rpic.op2", "operator", "pwd")
    other = login(client, "rpic.op2")
    ref = client.post(f"{API}/permits", json=application(), headers=heads["twc.staff"]).json()[
        "ref"
    ]
    assert _decide(client, heads["rpic.op"], ref, "changes") == (200, "changes_requested")
    # The same assessor amends it on the applicant's behalf, then may not grant what he wrote.
    again = client.post(
        f"{API}/permits/{ref}/resubmit",
        json=application(description="replace a water main, shorter"),
        headers=heads["rpic.op"],
    )
    assert again.status_code == 200, again.text
    assert _decide(client, heads["rpic.op"], ref, "grant") == (403, "own_filing")
    assert _decide(client, other, ref, "grant") == (200, "granted")


def test_only_the_owners_staff_answer_its_locate_requests(
    client: TestClient, platform: Platform
) -> None:
    heads = setup_city(client, platform)
    lay_pipe(platform, "taipower", "power", 0.00003, 1.4)
    p = client.post(f"{API}/permits", json=application(), headers=heads["twc.staff"]).json()
    [loc] = p["locates"]
    assert loc["owner"] == "taipower"
    url = f"{API}/locates/{loc['id']}/answer"
    # RPIC sees every request but answers none on an owner's behalf.
    queue = client.get(f"{API}/locates?pending=true", headers=heads["rpic.op"]).json()
    assert [x["id"] for x in queue] == [loc["id"]]
    for who in ("rpic.op", "twc.staff", "builder.staff"):
        r = client.post(url, json={"response": "clear"}, headers=heads[who])
        assert r.status_code == 403, (who, r.text)
        assert r.json()["error"] == "not_owner_staff"
    still = client.get(f"{API}/permits/{p['ref']}", headers=heads["rpic.op"]).json()
    assert still["locates"][0]["response"] == "pending"
    ok = client.post(url, json={"response": "clear"}, headers=heads["tp.staff"])
    assert ok.status_code == 200 and ok.json()["response"] == "clear"
