"""A permit's life through the API on both databases: a clash found and explained, a joint
dig granted, pipe owners answering, works that cannot start before they do, inspection."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from tests.city_clock import city_today
from tests.integration.roadworks.helpers import application, count, lay_pipe, setup_city, square

API = "/api/v1/roadworks"


def test_clash_joint_dig_locates_and_closing(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    water_pipe = lay_pipe(platform, "twc", "water", 0.00005, 1.2)
    lay_pipe(platform, "taipower", "power", 0.00003, 1.4)
    lay_pipe(platform, "taipower", "power", 0.003, 1.4)  # 300 m away: not asked

    first = client.post(f"{API}/permits", json=application(), headers=heads["twc.staff"])
    assert first.status_code == 201, first.text
    a = first.json()
    assert a["status"] == "applied" and a["ref"].startswith("RW-")
    # A 10 m x 3.7 m pit on a wide road for 5 days: base, 5 x NT$400, restoration over 2 m wide.
    assert 3.5 < a["width_m"] < 3.9
    assert a["fee_total"] == 1000 + 5 * 400 + round(a["area_m2"] * 1200)
    assert sorted(loc["owner"] for loc in a["locates"]) == ["taipower", "twc"]
    assert water_pipe > 0

    # Taipower digs the same stretch at the same time, deeper.
    clash_body = application(
        applicant="taipower", purpose="power", depth_m=2.0, geometry=square(dx=0.00002)
    )
    second = client.post(f"{API}/permits", json=clash_body, headers=heads["tp.staff"])
    assert second.status_code == 201, second.text
    b = second.json()
    clash = [f for f in b["findings"] if f["code"] == "clash"]
    assert clash and clash[0]["data"]["other"] == a["ref"]
    assert a["ref"] in clash[0]["reason"]["en"]

    ref = b["ref"]
    plain = client.post(
        f"{API}/permits/{ref}/decision", json={"decision": "grant"}, headers=heads["rpic.op"]
    )
    assert plain.status_code == 409 and plain.json()["error"] == "clash"
    joint = client.post(
        f"{API}/permits/{ref}/decision",
        json={"decision": "grant", "joint_dig": True},
        headers=heads["rpic.op"],
    )
    assert joint.status_code == 200, joint.text
    jb = joint.json()
    assert jb["status"] == "granted" and jb["joint_group"]
    assert jb["dig_order"] == 1  # deepest first
    other = client.get(f"{API}/permits/{a['ref']}", headers=heads["rpic.op"]).json()
    assert other["joint_group"] == jb["joint_group"] and other["dig_order"] == 2

    # Works cannot start before the owners answer.
    tooearly = client.post(
        f"{API}/permits/{ref}/progress", json={"step": "start"}, headers=heads["tp.staff"]
    )
    assert tooearly.status_code == 409
    assert tooearly.json()["error"] in ("locates_pending", "too_early")


def test_bad_applications_write_nothing(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    before = (count(platform, "roadworks_permits"), count(platform, "audit_log"))
    x, y = platform.city.to_projected(121.5435, 25.0330)
    bad = [
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[x, y], [x + 9, y], [x + 9, y + 3], [x, y + 3], [x, y]]],
                }
            },
            422,
        ),
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [121.54, 25.03],
                            [121.541, 25.031],
                            [121.541, 25.03],
                            [121.54, 25.031],
                            [121.54, 25.03],
                        ]
                    ],
                }
            },
            422,
        ),
        ({"geometry": {"type": "Polygon", "coordinates": []}}, 422),
        ({"geometry": square(dx=-1.0)}, 422),
        ({"end_date": (city_today() + timedelta(days=1)).isoformat()}, 422),
        ({"applicant": "nobody"}, 422),
        ({"contractor": "twc"}, 422),
        ({"purpose": "magic"}, 422),
    ]
    for over, status in bad:
        r = client.post(f"{API}/permits", json=application(**over), headers=heads["twc.staff"])
        assert r.status_code == status, (over, r.text)
        assert set(r.json()) >= {"error", "detail"}
    assert (count(platform, "roadworks_permits"), count(platform, "audit_log")) == before
