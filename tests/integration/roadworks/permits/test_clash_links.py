"""A contractor's permit names works they may not open: the permit says so (`related`), and
gives what they may see instead, the other works' public view, so the page's clash link goes
to a page that opens for them rather than to a refusal."""

from __future__ import annotations

from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from tests.integration.roadworks.helpers import application, setup_city, square

API = "/api/v1/roadworks"


def test_a_clash_links_to_what_the_contractor_may_open(
    client: TestClient, platform: Platform
) -> None:
    heads = setup_city(client, platform)
    a = client.post(f"{API}/permits", json=application(), headers=heads["twc.staff"]).json()
    body = application(applicant="taipower", contractor=None, geometry=square(dx=0.00002))
    b = client.post(f"{API}/permits", json=body, headers=heads["tp.staff"]).json()
    assert any(f["data"].get("other") == a["ref"] for f in b["findings"])

    # Taipower's staff may not open twc's application, and it is not public yet.
    assert client.get(f"{API}/permits/{a['ref']}", headers=heads["tp.staff"]).status_code == 404
    (other,) = client.get(f"{API}/permits/{b['ref']}", headers=heads["tp.staff"]).json()["related"]
    assert other == {
        "ref": a["ref"],
        "readable": False,
        "public": False,
        "start_date": None,
        "geometry": None,
    }

    granted = client.post(
        f"{API}/permits/{a['ref']}/decision", json={"decision": "grant"}, headers=heads["rpic.op"]
    )
    assert granted.status_code == 200, granted.text
    (other,) = client.get(f"{API}/permits/{b['ref']}", headers=heads["tp.staff"]).json()["related"]
    assert other["public"] and not other["readable"] and other["geometry"]
    # The link the page gives: the public works map on the works' first day, which shows it.
    day = other["start_date"]
    assert day == a["start_date"]
    page = client.get("/roadworks/map", params={"ref": a["ref"], "day": day})
    assert page.status_code == 200
    shown = client.get(f"{API}/public/works.geojson", params={"day": day}).json()
    assert a["ref"] in {f["properties"]["ref"] for f in shown["features"]}

    # RPIC reads both.
    (mine,) = client.get(f"{API}/permits/{b['ref']}", headers=heads["rpic.op"]).json()["related"]
    assert mine["readable"]
