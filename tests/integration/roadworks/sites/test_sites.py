"""Live sites through the API on both databases: a camera registered and moved (the old URL
kept in the audit), frames that never move back in time, RPIC's live-feed share over three
dug sites, and photo check-ins refused when far away, at the wrong stage, not a photo, or
from the future, with nothing written when refused."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from onecity.core import clock
from onecity.core.models import AuditRecord
from onecity.core.platform import Platform
from tests.city_clock import city_today
from tests.conftest import add_user, login
from tests.integration.roadworks.helpers import LAT, LON, application, count, setup_city, square

API = "/api/v1/roadworks"


def emergency(client: TestClient, heads: dict[str, dict[str, str]], dx: float = 0.0) -> str:
    """A burst main being repaired now (emergency works are in progress at once)."""
    today = city_today()
    body = application(
        emergency=True,
        description="burst water main",
        geometry=square(dx=dx),
        start_date=today.isoformat(),
        end_date=(today + timedelta(days=3)).isoformat(),
    )
    r = client.post(f"{API}/permits", json=body, headers=heads["twc.staff"])
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "in_progress"
    ref: str = r.json()["ref"]
    return ref


def iso(dt: datetime) -> str:
    return dt.isoformat()


def frame(client: TestClient, head: dict[str, str], ref: str, at: datetime | None) -> Any:
    return client.post(
        f"{API}/permits/{ref}/camera/frame",
        json={} if at is None else {"at": iso(at)},
        headers=head,
    )


def test_camera_register_frames_and_replace(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    ref = emergency(client, heads)
    cam = f"{API}/permits/{ref}/camera"

    for bad in ("ftp://cam.example/feed", "javascript:alert(1)", "rtsp://", "http://" + "a" * 500):
        r = client.put(cam, json={"url": bad}, headers=heads["builder.staff"])
        assert r.status_code == 422 and r.json()["field"] == "url", (bad, r.text)
    # Taipower's staff do not report Taipei Water's works.
    r = client.put(cam, json={"url": "rtsp://cam.example/1"}, headers=heads["tp.staff"])
    assert r.status_code == 403
    # No camera yet: a frame has nowhere to go, and the permit's readers see none.
    assert frame(client, heads["builder.staff"], ref, None).status_code == 409
    assert client.get(cam, headers=heads["builder.staff"]).json() is None

    r = client.put(cam, json={"url": "rtsp://cam.example/1"}, headers=heads["builder.staff"])
    assert r.status_code == 200, r.text
    assert r.json()["live"] is False and r.json()["last_frame_at"] is None

    now = clock.now()
    r = frame(client, heads["builder.staff"], ref, now - timedelta(minutes=2))
    assert r.status_code == 200 and r.json()["live"] is True
    kept = r.json()["last_frame_at"]
    # A retried or late frame from earlier does not move the time back.
    r = frame(client, heads["builder.staff"], ref, now - timedelta(minutes=4))
    assert r.status_code == 200 and r.json()["last_frame_at"] == kept
    # A gateway whose clock is 10 minutes ahead is refused and changes nothing.
    r = frame(client, heads["builder.staff"], ref, now + timedelta(minutes=10))
    assert r.status_code == 422 and r.json()["field"] == "at"
    assert "future" in r.json()["detail"]
    r = frame(client, heads["twc.staff"], ref, None)
    assert r.status_code == 200
    # The contractor's page reads the state; a stranger's read is "no such permit".
    seen = client.get(cam, headers=heads["builder.staff"]).json()
    assert seen["live"] is True and seen["url"] == "rtsp://cam.example/1"
    add_user(platform, "stranger", "contractor", "pwd")
    assert client.get(cam, headers=login(client, "stranger")).status_code == 404
    assert datetime.fromisoformat(r.json()["last_frame_at"]) >= datetime.fromisoformat(kept)

    # Moving the camera: a new feed, not live until it sends; the old URL stays in the audit.
    r = client.put(cam, json={"url": "https://cam2.example/live"}, headers=heads["rpic.op"])
    assert r.status_code == 200 and r.json()["url"] == "https://cam2.example/live"
    assert r.json()["live"] is False
    with platform.db.read() as s:
        trail = s.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "roadworks.camera")
            .order_by(AuditRecord.seq)
        ).all()
        assert [(a.detail["url"], a.detail["previous"]) for a in trail] == [
            ("rtsp://cam.example/1", None),
            ("https://cam2.example/live", "rtsp://cam.example/1"),
        ]


def test_live_share_counts_dug_sites(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    refs = [emergency(client, heads, dx=0.003 * i) for i in range(3)]
    now = clock.now()
    ages = [timedelta(minutes=1), timedelta(seconds=20), timedelta(minutes=10)]
    for i, (ref, age) in enumerate(zip(refs, ages, strict=True)):
        url = f"rtsp://cam{i}.example/site"
        r = client.put(f"{API}/permits/{ref}/camera", json={"url": url}, headers=heads["twc.staff"])
        assert r.status_code == 200, r.text
        assert frame(client, heads["twc.staff"], ref, now - age).status_code == 200
    # Tomorrow's application is on the map for RPIC, but is not a dug site.
    tomorrow = city_today() + timedelta(days=1)
    later = application(
        applicant="taipower",
        purpose="power",
        geometry=square(dx=-0.004),
        start_date=tomorrow.isoformat(),
        end_date=(tomorrow + timedelta(days=2)).isoformat(),
    )
    applied = client.post(f"{API}/permits", json=later, headers=heads["tp.staff"])
    assert applied.status_code == 201, applied.text

    r = client.get(f"{API}/monitor", headers=heads["rpic.op"])
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    assert doc["summary"] == {
        "active_sites": 3,
        "live_feeds": 2,
        "live_share_pct": 66.6,
        "sites_without_feed": [refs[2]],
        "overrunning": [],
    }
    props = {f["properties"]["ref"]: f["properties"] for f in doc["features"]}
    assert [props[x]["live"] for x in refs] == [True, True, False]
    assert props[refs[0]]["camera_url"] == "rtsp://cam0.example/site"
    assert props[refs[0]]["applicant_zh"] == "臺北自來水事業處"
    assert props[refs[0]]["contractor_en"] == "Builder Co"
    assert props[refs[0]]["when"] == "today"
    tmr = props[applied.json()["ref"]]
    assert tmr["status"] == "applied" and tmr["when"] == "tomorrow" and tmr["live"] is False

    # A contractor is not RPIC: the city-wide picture is not theirs.
    assert client.get(f"{API}/monitor", headers=heads["builder.staff"]).status_code == 403
    bad = client.get(f"{API}/monitor?day=2026-13-01", headers=heads["rpic.op"])
    assert bad.status_code == 422


PNG = b"\x89PNG\r\n\x1a\n"


def photo(tag: str) -> bytes:
    return PNG + tag.encode() + os.urandom(16)


def check_in(
    client: TestClient,
    head: dict[str, str],
    ref: str,
    data: bytes,
    *,
    stage: str = "digging",
    lon: float = LON + 0.00005,
    lat: float = LAT + 0.00001,
    taken_at: datetime | None = None,
) -> Any:
    return client.post(
        f"{API}/permits/{ref}/photos",
        files={"file": ("site.png", data, "image/png")},
        data={
            "stage": stage,
            "lon": str(lon),
            "lat": str(lat),
            "taken_at": iso(taken_at or clock.now()),
        },
        headers=head,
    )


def written(p: Platform) -> tuple[int, int, int, int]:
    return (
        count(p, "roadworks_photos"),
        count(p, "media"),
        count(p, "audit_log"),
        count(p, "events"),
    )


def test_works_past_their_end_are_listed_as_overrunning(
    client: TestClient, platform: Platform
) -> None:
    heads = setup_city(client, platform)
    on_time = emergency(client, heads)
    today = city_today()
    body = application(
        emergency=True,
        description="gas leak, repair still open",
        geometry=square(dx=0.003),
        start_date=(today - timedelta(days=3)).isoformat(),
        end_date=(today - timedelta(days=1)).isoformat(),
    )
    late = client.post(f"{API}/permits", json=body, headers=heads["twc.staff"]).json()["ref"]
    doc = client.get(f"{API}/monitor", headers=heads["rpic.op"]).json()
    assert doc["summary"]["overrunning"] == [late]
    props = {f["properties"]["ref"]: f["properties"] for f in doc["features"]}
    assert props[late]["overrun"] is True and props[on_time]["overrun"] is False


def test_photo_check_ins(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    ref = emergency(client, heads)
    staff = heads["builder.staff"]
    before = written(platform)

    # About a kilometre east: refused, saying how far.
    far_lon = LON + 0.01
    r = check_in(client, staff, ref, photo("far"), lon=far_lon)
    assert r.status_code == 422 and r.json()["error"] == "too_far"
    detail = r.json()["detail"]
    metres = int(detail.split(" m from")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert 900 < metres < 1100 and "200 m" in detail
    # Not a photo, whatever it says it is.
    r = client.post(
        f"{API}/permits/{ref}/photos",
        files={"file": ("site.jpg", b"%PDF-1.4 not an image", "image/jpeg")},
        data={
            "stage": "digging",
            "lon": str(LON),
            "lat": str(LAT),
            "taken_at": iso(clock.now()),
        },
        headers=staff,
    )
    assert r.status_code == 422 and r.json()["field"] == "file"
    # From the future, from before the permit was filed, an unknown stage, another org.
    future = clock.now() + timedelta(minutes=30)
    assert check_in(client, staff, ref, photo("f"), taken_at=future).status_code == 422
    old = clock.now() - timedelta(days=2)
    r = check_in(client, staff, ref, photo("o"), taken_at=old)
    assert r.status_code == 422 and r.json()["field"] == "taken_at"
    assert check_in(client, staff, ref, photo("s"), stage="painting").status_code == 422
    assert check_in(client, heads["tp.staff"], ref, photo("x")).status_code == 403
    assert written(platform) == before

    data = photo("dig")
    first = check_in(client, staff, ref, data)
    assert first.status_code == 201, first.text
    rec = first.json()
    assert rec["stage"] == "digging" and rec["distance_m"] < 10
    assert rec["url"] == f"/media/{rec['media_id']}"
    after_one = written(platform)
    assert after_one == (before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 1)
    # The same photo again (a retry): the record already kept, nothing new.
    again = check_in(client, staff, ref, data)
    assert again.status_code == 200 and again.json()["id"] == rec["id"]
    assert written(platform) == after_one

    listed = client.get(f"{API}/permits/{ref}/photos", headers=heads["rpic.op"])
    assert listed.status_code == 200 and [p["id"] for p in listed.json()] == [rec["id"]]
    served = client.get(rec["url"])
    assert served.status_code == 200 and served.content == data
    assert client.get(f"{API}/permits/{ref}/photos", headers=heads["tp.staff"]).status_code == 404


def test_photo_stages_follow_the_permit(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    staff = heads["twc.staff"]
    r = client.post(f"{API}/permits", json=application(), headers=staff)
    assert r.status_code == 201, r.text
    ref = r.json()["ref"]
    before = written(platform)
    # Only applied for: no site yet.
    r = check_in(client, staff, ref, photo("a"), stage="before")
    assert r.status_code == 409 and r.json()["error"] == "wrong_status"
    assert written(platform) == before

    ok = client.post(
        f"{API}/permits/{ref}/decision", json={"decision": "grant"}, headers=heads["rpic.op"]
    )
    assert ok.status_code == 200, ok.text
    # Granted: the "before" photo is taken, but nobody is digging yet.
    assert check_in(client, staff, ref, photo("b"), stage="before").status_code == 201
    r = check_in(client, staff, ref, photo("c"), stage="digging")
    assert r.status_code == 409 and "granted" in r.json()["detail"]
    assert count(platform, "roadworks_photos") == before[0] + 1
