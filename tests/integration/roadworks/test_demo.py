"""The road works demo: seeding twice leaves the same books (112 real works, one scenario),
the synthetic pipes are on the map, and the scenario does what the printout promises: a
contractor filing on the same stretch is told of the clash and of the pipe owners to ask."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from onecity.core.platform import Platform
from onecity.roadworks.demo import city as demo
from onecity.roadworks.demo import todaywork as demo_import
from onecity.roadworks.permits.models import Permit, PermitStep
from onecity.roadworks.pipes.models import PipeRow
from tests.city_clock import city_today
from tests.conftest import add_user, login
from tests.integration.roadworks.helpers import count

API = "/api/v1/roadworks"
TABLES = (
    "roadworks_permits",
    "roadworks_permit_steps",
    "roadworks_orgs",
    "roadworks_org_members",
    "roadworks_pipes",
    "roadworks_dig_bans",
    "roadworks_embargoes",
    "roadworks_fee_tables",
)


def test_seeding_twice_keeps_the_same_books(platform: Platform) -> None:
    first = demo.seed(platform)
    counts = {t: count(platform, t) for t in TABLES}
    second = demo.seed(platform)
    assert {t: count(platform, t) for t in TABLES} == counts
    assert (second.permits, second.pipes, second.orgs) == (first.permits, first.pipes, first.orgs)
    assert second.scenario["ref"] == first.scenario["ref"]
    assert counts["roadworks_dig_bans"] == 1 and counts["roadworks_embargoes"] == 2
    assert counts["roadworks_fee_tables"] == 1
    with platform.db.read() as s:
        imported = s.scalars(select(Permit).where(Permit.created_by == demo.IMPORTER)).all()
        assert len(imported) == 112 and first.permits == 113  # and the scenario
        synthetic = s.scalar(select(func.count()).where(PipeRow.synthetic.is_(True)))
        assert synthetic == first.pipes > 1000
        steps = s.scalars(select(PermitStep).where(PermitStep.step == "imported")).all()
        # Dates moved by the same days for every work, durations kept.
        today = city_today()
        for p in imported:
            src = next(x.detail["source"] for x in steps if x.permit_id == p.id)
            start, end = date.fromisoformat(src["起始日期"]), date.fromisoformat(src["結束日期"])
            assert p.end_date - p.start_date == end - start
            assert abs((p.start_date - start) - (today - demo_import.SNAPSHOT)).days <= 1
            # How the footprint was made is a note stored with the record, not English text
            # glued to its Chinese description.
            assert "footprint" not in p.description
            assert "footprint_from_point" in {f["code"] for f in p.findings}
            assert 23 < p.area_m2 < 25  # 12 m x 2 m
            assert p.minx < p.maxx and p.maxx - p.minx < 13 and p.maxy - p.miny < 13


def test_the_scenario_clash_and_the_pipes_are_there(client: TestClient, platform: Platform) -> None:
    summary = demo.seed(platform)
    sc = summary.scenario
    add_user(platform, "pwd.contractor", "contractor", "pwd")
    who = login(client, "pwd.contractor")
    mine = demo_import.contractor_org(demo.CONTRACTOR_LOGIN[1]).code
    start = date.fromisoformat(sc["start_date"]) + timedelta(days=2)
    body = {
        "applicant": mine,
        "contractor": mine,
        "purpose": "telecom",
        "description": "lay a duct",
        "road": sc["road"],
        "road_class": "wide",
        "geometry": sc["geometry"],
        "depth_m": 1.5,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=3)).isoformat(),
    }
    r = client.post(f"{API}/permits/check", json=body, headers=who)
    assert r.status_code == 200, r.text
    got = r.json()
    clashes = [f["data"]["other"] for f in got["findings"] if f["code"] == "clash"]
    assert sc["ref"] in clashes
    assert "twc" in got["locate_owners"]  # the water main under the stretch
    assert got["district"] == "大安區"

    box = f"{sc['lon'] - 0.0005},{sc['lat'] - 0.0005},{sc['lon'] + 0.0005},{sc['lat'] + 0.0005}"
    pipes = client.get(f"{API}/pipes", params={"bbox": box}, headers=who).json()["features"]
    assert pipes and all(f["properties"]["synthetic"] for f in pipes)
    assert {f["properties"]["owner"] for f in pipes} >= {"twc", "sewer"}
    assert all(c[2] < 0 for f in pipes for c in f["geometry"]["coordinates"])


def test_demo_sites_are_watched_live_but_one(client: TestClient, platform: Platform) -> None:
    """The demo's monitor shows what RPIC reports: nearly every dug site on camera, and the
    one that is not listed for follow-up."""
    from onecity.roadworks.demo import sites as demo_sites

    demo.seed(platform)
    added = demo_sites.register_cameras(platform)
    assert demo_sites.register_cameras(platform) == 0  # once
    assert demo_sites.send_frames(platform) == added
    add_user(platform, "rpic.watch", "operator", "pwd")
    doc = client.get("/api/v1/roadworks/monitor", headers=login(client, "rpic.watch")).json()
    summary = doc["summary"]
    assert (
        summary["live_feeds"]
        == added
        == summary["active_sites"] - len(summary["sites_without_feed"])
    )
    assert 1 <= len(summary["sites_without_feed"]) <= 2
    assert summary["live_share_pct"] >= 98


def test_every_pipe_owner_of_the_demo_has_a_login_to_answer_locates(platform: Platform) -> None:
    """A locate request goes to each owner of a pipe under the works; in the demo each owner
    has someone who can log in and answer it."""
    from onecity.bootstrap import DEMO_USERS
    from onecity.roadworks.demo.pipe_gen import DEFAULT_UTILITIES
    from onecity.roadworks.registry.models import RoadOrgMember

    demo.seed(platform)
    logins = {u.username for u in DEMO_USERS}
    with platform.db.read() as s:
        members = {(m.org_code, m.username) for m in s.scalars(select(RoadOrgMember))}
        owners = set(s.scalars(select(PipeRow.owner_code).distinct()))
    assert owners == {u.owner for u in DEFAULT_UTILITIES}
    for owner in owners:
        assert any(org == owner and user in logins for org, user in members), owner


def test_implausible_real_records_are_withheld_from_the_public_with_a_count(
    client: TestClient, platform: Platform
) -> None:
    """The real 2016 → 2110 manhole record placed outside the city (labelled 中正區) is kept on
    the books with its flags, left off the public map, and counted there with its reasons."""
    demo.seed(platform)
    with platform.db.read() as s:
        steps = s.scalars(select(PermitStep).where(PermitStep.step == "imported")).all()
        (step,) = [x for x in steps if x.detail["index"] == 92]
        odd = s.get(Permit, step.permit_id)
        assert odd is not None and odd.district is None  # not the record's 中正區
        flags = {f["code"] for f in odd.findings if f["severity"] == "data"}
        assert flags == {"implausible_end", "outside_city"}
        assert set(step.detail["notes"]) == {"footprint_from_point", *flags}
        ref = odd.ref
    doc = client.get(f"{API}/public/works.geojson").json()
    shown = {f["properties"]["ref"] for f in doc["features"]}
    assert ref not in shown and len(shown) >= 100
    (withheld,) = doc["withheld"]
    assert withheld["ref"] == ref
    assert {n["code"] for n in withheld["notes"]} == {"implausible_end", "outside_city"}
    assert all(n["reason"]["en"] and n["reason"]["zh-TW"] for n in withheld["notes"])
    # What is shown carries its notes per language, as codes.
    some = doc["features"][0]["properties"]
    assert [n["code"] for n in some["notes"]] == ["footprint_from_point"]
