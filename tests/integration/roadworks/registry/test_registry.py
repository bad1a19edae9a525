"""RPIC's registry through the API on both databases: pipes recorded in WGS84 or TWD97 and read
back in 3D, an as-built survey that retires and replaces records in one go (and what later
locates find), versioned fee tables, penalties up to a bar and its lifting, dig bans and
embargoes that later applications run into."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient

from onecity.core.platform import Platform
from onecity.core.workdays import add_years
from tests.city_clock import city_today
from tests.integration.roadworks.helpers import (
    LAT,
    LON,
    application,
    count,
    lay_pipe,
    setup_city,
    square,
)

API = "/api/v1/roadworks"


def _line(dx: float, y0: float = -0.0005, y1: float = 0.0005) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [[LON + dx, LAT + y0], [LON + dx, LAT + y1]]}


def _pipe(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "owner": "twc",
        "kind": "water",
        "geometry": _line(0.00005),
        "diameter_mm": 300,
        "material": "DIP",
        "year_laid": 1988,
        "survey": "GPR",
        "accuracy_m": 0.3,
        "depth_start_m": 1.2,
        "depth_end_m": 1.4,
    }
    body.update(over)
    return body


def _bbox(dx: float = 0.0, r: float = 0.001) -> str:
    return f"{LON + dx - r},{LAT - r},{LON + dx + r},{LAT + r}"


def test_pipes_in_wgs84_or_twd97_read_back_in_3d(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    a = client.post(f"{API}/pipes", json=_pipe(), headers=heads["rpic.op"])
    assert a.status_code == 201, a.text

    # The same line sent by the utility in TWD97 metres lands in the same place.
    ends = [platform.city.to_projected(x, y) for x, y in _line(0.00005)["coordinates"]]
    twd97 = {"type": "LineString", "coordinates": [list(e) for e in ends]}
    b = client.post(
        f"{API}/pipes",
        json=_pipe(geometry=twd97, crs="EPSG:3826", depth_start_m=2.0, depth_end_m=2.0),
        headers=heads["twc.staff"],
    )
    assert b.status_code == 201, b.text
    for (x0, y0), (x1, y1) in zip(
        a.json()["geometry"]["coordinates"], b.json()["geometry"]["coordinates"], strict=True
    ):
        assert abs(x0 - x1) < 1e-6 and abs(y0 - y1) < 1e-6

    before = (count(platform, "roadworks_pipes"), count(platform, "audit_log"))
    refused = [
        (_pipe(geometry=twd97), "rpic.op", 422, "geometry.coordinates"),  # metres without crs
        (_pipe(accuracy_m=6), "rpic.op", 422, None),
        (_pipe(depth_end_m=31), "rpic.op", 422, None),
        (_pipe(geometry=_line(-1.0)), "rpic.op", 422, "geometry"),  # outside the city
        (_pipe(crs="EPSG:4490"), "rpic.op", 422, "crs"),
        (_pipe(owner="nobody"), "rpic.op", 422, "owner"),
        (_pipe(owner="taipower", kind="power"), "twc.staff", 403, "owner"),  # not its pipe
    ]
    for body, who, status, field in refused:
        r = client.post(f"{API}/pipes", json=body, headers=heads[who])
        assert r.status_code == status, (body, r.text)
        if field:
            assert r.json()["field"] == field, r.json()
    assert (
        "EPSG:3826"
        in client.post(f"{API}/pipes", json=_pipe(geometry=twd97), headers=heads["rpic.op"]).json()[
            "detail"
        ]
    )
    assert (count(platform, "roadworks_pipes"), count(platform, "audit_log")) == before

    got = client.get(f"{API}/pipes", params={"bbox": _bbox()}, headers=heads["tp.staff"])
    assert got.status_code == 200 and got.headers["content-type"] == "application/geo+json"
    features = {f["id"]: f for f in got.json()["features"]}
    assert set(features) == {a.json()["id"], b.json()["id"]}
    first = features[a.json()["id"]]
    zs = [c[2] for c in first["geometry"]["coordinates"]]
    assert zs == [-1.2, -1.4]  # metres below the surface, at each end
    assert first["properties"]["owner"] == "twc" and first["properties"]["synthetic"] is False
    far = client.get(f"{API}/pipes", params={"bbox": _bbox(dx=0.01)}, headers=heads["rpic.op"])
    assert far.json()["features"] == []
    bad = client.get(f"{API}/pipes", params={"bbox": "1,2,3"}, headers=heads["rpic.op"])
    assert bad.status_code == 422 and bad.json()["field"] == "bbox"
    client.cookies.clear()  # the logins above left a session cookie
    assert client.get(f"{API}/pipes", params={"bbox": _bbox()}).status_code == 401


def _emergency_restored(client: TestClient, heads: dict[str, dict[str, str]]) -> str:
    """Emergency works by the water utility at the south end of the test street, restored."""
    body = application(
        emergency=True,
        geometry=square(dy=-0.0004),
        start_date=city_today().isoformat(),
        end_date=(city_today() + timedelta(days=2)).isoformat(),
    )
    r = client.post(f"{API}/permits", json=body, headers=heads["twc.staff"])
    assert r.status_code == 201, r.text
    ref: str = r.json()["ref"]
    assert r.json()["status"] == "in_progress"
    return ref


def test_as_built_retires_and_replaces_in_one_go(client: TestClient, platform: Platform) -> None:
    heads = setup_city(client, platform)
    old = lay_pipe(platform, "twc", "water", 0.00005, 1.2)
    ref = _emergency_restored(client, heads)
    # The main now jogs 35 m east north of the dig.
    moved = {
        "type": "LineString",
        "coordinates": [
            [LON + 0.00005, LAT - 0.0005],
            [LON + 0.00005, LAT - 0.0003],
            [LON + 0.0004, LAT - 0.0003],
            [LON + 0.0004, LAT + 0.0005],
        ],
    }
    survey = {
        "pipes": [
            {
                "replaces": old,
                "geometry": moved,
                "accuracy_m": 0.1,
                "depth_start_m": 1.3,
                "depth_end_m": 1.3,
            },
        ],
        "note": "main rerouted around a basement",
    }
    early = client.post(f"{API}/permits/{ref}/as-built", json=survey, headers=heads["twc.staff"])
    assert early.status_code == 409 and early.json()["error"] == "wrong_status"
    for step in ("stop", "restored"):
        r = client.post(
            f"{API}/permits/{ref}/progress", json={"step": step}, headers=heads["twc.staff"]
        )
        assert r.status_code == 200, r.text

    before = (count(platform, "roadworks_pipes"), count(platform, "audit_log"))
    other = client.post(f"{API}/permits/{ref}/as-built", json=survey, headers=heads["tp.staff"])
    assert other.status_code == 403
    # One good item and one far from the works: nothing at all is written.
    far = {
        "geometry": _line(0.003),
        "owner": "twc",
        "kind": "water",
        "diameter_mm": 200,
        "accuracy_m": 0.1,
        "depth_start_m": 1.0,
        "depth_end_m": 1.0,
    }
    half = client.post(
        f"{API}/permits/{ref}/as-built",
        json={"pipes": [survey["pipes"][0], far]},
        headers=heads["twc.staff"],
    )
    assert half.status_code == 422 and half.json()["field"] == "pipes[1].geometry"
    new_needs_kind = {**far, "geometry": _line(0.0001, -0.0005, -0.0003), "kind": None}
    r = client.post(
        f"{API}/permits/{ref}/as-built",
        json={"pipes": [new_needs_kind]},
        headers=heads["twc.staff"],
    )
    assert r.status_code == 422 and r.json()["field"] == "pipes[0].kind"
    assert (count(platform, "roadworks_pipes"), count(platform, "audit_log")) == before
    assert [f["id"] for f in _pipes_near(client, heads, 0.0)] == [old]

    done = client.post(f"{API}/permits/{ref}/as-built", json=survey, headers=heads["twc.staff"])
    assert done.status_code == 201, done.text
    out = done.json()
    assert out["retired"] == [old]
    (new,) = out["created"]
    assert new["survey"] == "as-built" and new["owner"] == "twc" and new["diameter_mm"] == 200
    permit = client.get(f"{API}/permits/{ref}", headers=heads["rpic.op"]).json()
    assert new["source_permit_id"] == permit["id"]
    assert permit["steps"][-1]["step"] == "as_built"
    assert permit["steps"][-1]["detail"] == {"retired": [old], "created": [new["id"]]}
    again = client.post(f"{API}/permits/{ref}/as-built", json=survey, headers=heads["twc.staff"])
    assert again.status_code == 409 and again.json()["error"] == "pipe_retired"

    # The map shows the new record only; the old one is kept, retired, pointing at it.
    assert [f["id"] for f in _pipes_near(client, heads, 0.0)] == [new["id"]]
    with platform.db.read() as s:
        from onecity.roadworks.pipes.models import PipeRow

        row = s.get(PipeRow, old)
        assert row is not None and row.retired_at is not None and row.replaced_by == new["id"]

    # Where the old pipe ran, nobody from twc is asked any more; where the new one runs, it is.
    where_old = application(applicant="taipower", purpose="power", geometry=square())
    b = client.post(f"{API}/permits", json=where_old, headers=heads["tp.staff"])
    assert b.status_code == 201, b.text
    assert [loc["owner"] for loc in b.json()["locates"]] == []
    where_new = application(applicant="taipower", purpose="power", geometry=square(dx=0.00035))
    c = client.post(f"{API}/permits", json=where_new, headers=heads["tp.staff"])
    assert [loc["owner"] for loc in c.json()["locates"]] == ["twc"]


def _pipes_near(
    client: TestClient, heads: dict[str, dict[str, str]], dx: float
) -> list[dict[str, Any]]:
    r = client.get(f"{API}/pipes", params={"bbox": _bbox(dx)}, headers=heads["rpic.op"])
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()["features"]
    return out


def _fees(version: str, valid_from: date, base: int) -> dict[str, Any]:
    return {
        "version": version,
        "valid_from": valid_from.isoformat(),
        "base": base,
        "daily": {"narrow": 250, "wide": 500, "congested": 700},
        "restoration": [[1.0, 2000], [2.0, 1700], [None, 1400]],
    }


def test_a_new_fee_version_charges_later_permits_only(
    client: TestClient, platform: Platform
) -> None:
    heads = setup_city(client, platform)
    today = city_today()
    listed = client.get(f"{API}/fees").json()
    assert [t["version"] for t in listed] == ["2026"] and listed[0]["base"] == 1000

    first = client.post(f"{API}/permits", json=application(), headers=heads["twc.staff"]).json()
    assert first["fee_version"] == "2026"

    before = count(platform, "roadworks_fee_tables")
    bad = [
        (_fees("2027", today, 2000), "twc.staff", 403),
        (_fees("2027", today - timedelta(days=1), 2000), "rpic.op", 422),  # retroactive
        ({**_fees("2027", today, 2000), "daily": {"wide": 1}}, "rpic.op", 422),
        ({**_fees("2027", today, 2000), "restoration": [[None, 1], [2.0, 1]]}, "rpic.op", 422),
    ]
    for body, who, status in bad:
        r = client.post(f"{API}/fees", json=body, headers=heads[who])
        assert r.status_code == status, (body, r.text)
    assert count(platform, "roadworks_fee_tables") == before

    new = client.post(f"{API}/fees", json=_fees("2026b", today, 2000), headers=heads["rpic.op"])
    assert new.status_code == 201, new.text
    same_day = client.post(f"{API}/fees", json=_fees("2026c", today, 9), headers=heads["rpic.op"])
    assert same_day.status_code == 409 and same_day.json()["error"] == "fee_order"
    dup = client.post(
        f"{API}/fees", json=_fees("2026b", today + timedelta(days=9), 9), headers=heads["rpic.op"]
    )
    assert dup.status_code == 409 and dup.json()["error"] == "fee_exists"

    second = client.post(
        f"{API}/permits", json=application(geometry=square(dx=0.002)), headers=heads["twc.staff"]
    ).json()
    assert second["fee_version"] == "2026b"
    # Same works, new table: base 2000, 5 days x NT$500, restoration over 2 m at NT$1,400.
    assert second["fee_total"] == 2000 + 5 * 500 + round(second["area_m2"] * 1400)
    again = client.get(f"{API}/permits/{first['ref']}", headers=heads["rpic.op"]).json()
    assert (again["fee_version"], again["fee_total"]) == ("2026", first["fee_total"])
    tables = {t["version"]: t for t in client.get(f"{API}/fees").json()}
    assert tables["2026"]["base"] == 1000 and tables["2026"]["daily"]["wide"] == 400
    assert tables["2026b"]["created_by"] == "rpic.op"


def _penalty(breach: str | None = "no_permit", fine: int | None = 60_000, **over: Any) -> Any:
    body = {
        "contractor": "builder",
        "breach": breach,
        "fine_twd": fine,
        "on_date": (city_today() - timedelta(days=1)).isoformat(),
        "note": "seen on site",
    }
    body.update(over)
    return body


def test_six_points_bar_a_contractor_and_a_void_lifts_it(
    client: TestClient, platform: Platform
) -> None:
    heads = setup_city(client, platform)
    rpic = heads["rpic.op"]
    before = (count(platform, "roadworks_penalties"), count(platform, "audit_log"))
    for body, status, field in [
        (_penalty(fine=29_999), 422, "fine_twd"),
        (_penalty(fine=150_001), 422, "fine_twd"),
        (_penalty(breach="littering"), 422, "breach"),
        (_penalty(contractor="twc"), 422, "contractor"),  # a utility, not a contractor
        (_penalty(on_date=(city_today() + timedelta(days=2)).isoformat()), 422, "on_date"),
        (_penalty(permit_ref="RW-2026-999999"), 422, "permit_ref"),
    ]:
        r = client.post(f"{API}/penalties", json=body, headers=rpic)
        assert r.status_code == status, (body, r.text)
        assert r.json()["field"] == field
    low = client.post(f"{API}/penalties", json=_penalty(fine=29_999), headers=rpic).json()
    assert "30,000" in low["detail"] and "150,000" in low["detail"]
    assert (
        client.post(f"{API}/penalties", json=_penalty(), headers=heads["twc.staff"]).status_code
        == 403
    )
    assert (count(platform, "roadworks_penalties"), count(platform, "audit_log")) == before

    ids = []
    for breach, points in (("no_permit", 3), ("poor_restoration", 2), ("overrun", 1)):
        r = client.post(f"{API}/penalties", json=_penalty(breach), headers=rpic)
        assert r.status_code == 201, r.text
        assert r.json()["points"] == points
        ids.append(r.json()["id"])
    barred = r.json()
    assert barred["barred_until"] is not None
    org = {o["code"]: o for o in client.get(f"{API}/orgs", headers=rpic).json()}["builder"]
    assert org["barred_until"] == barred["barred_until"]

    refused = client.post(f"{API}/permits", json=application(), headers=heads["twc.staff"])
    assert refused.status_code == 409 and refused.json()["error"] == "contractor_barred"

    # The poor restoration was someone else's: voided by a new row, never edited.
    no_reason = client.post(
        f"{API}/penalties", json=_penalty(None, None, voids=ids[1], note=""), headers=rpic
    )
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "note"
    void = client.post(
        f"{API}/penalties",
        json=_penalty(None, None, voids=ids[1], note="wrong contractor"),
        headers=rpic,
    )
    assert void.status_code == 201, void.text
    assert void.json()["barred_until"] is None and void.json()["standing_points"] == 4
    twice = client.post(
        f"{API}/penalties", json=_penalty(None, None, voids=ids[1], note="again"), headers=rpic
    )
    assert twice.status_code == 409

    ok = client.post(f"{API}/permits", json=application(), headers=heads["twc.staff"])
    assert ok.status_code == 201, ok.text
    book = client.get(
        f"{API}/penalties", params={"contractor": "builder"}, headers=heads["builder.staff"]
    ).json()
    by_id = {p["id"]: p for p in book}
    assert by_id[ids[1]]["voided_by"] == void.json()["id"] and by_id[ids[1]]["fine_twd"] == 60_000
    assert len(book) == 4
    other = client.get(
        f"{API}/penalties", params={"contractor": "builder"}, headers=heads["twc.staff"]
    )
    assert other.status_code == 403


def test_dig_bans_and_embargoes_stop_later_applications(
    client: TestClient, platform: Platform
) -> None:
    heads = setup_city(client, platform)
    road = {"type": "LineString", "coordinates": [[LON, LAT - 0.001], [LON, LAT + 0.001]]}
    ban = {
        "road": "復興南路一段",
        "geometry": road,
        "width_m": 30,
        "paved_on": (city_today() - timedelta(days=200)).isoformat(),
        "note": "repaved",
    }
    assert client.post(f"{API}/dig-bans", json=ban, headers=heads["twc.staff"]).status_code == 403
    bad = client.post(
        f"{API}/dig-bans", json={**ban, "geometry": {"type": "Point"}}, headers=heads["rpic.op"]
    )
    assert bad.status_code == 422 and count(platform, "roadworks_dig_bans") == 0
    made = client.post(f"{API}/dig-bans", json=ban, headers=heads["rpic.op"])
    assert made.status_code == 201, made.text
    assert made.json()["years"] == 5
    assert made.json()["until"] == add_years(city_today() - timedelta(days=200), 5).isoformat()
    listed = client.get(f"{API}/dig-bans", params={"active": True}, headers=heads["tp.staff"])
    assert [b["road"] for b in listed.json()] == ["復興南路一段"]

    found = client.post(f"{API}/permits/check", json=application(), headers=heads["twc.staff"])
    assert "dig_ban" in [f["code"] for f in found.json()["findings"]]

    start = city_today() + timedelta(days=60)
    exam = {
        "name_zh": "學測",
        "name_en": "Entrance exam",
        "kind": "exam",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=2)).isoformat(),
        "area": square(dx=0.003, dy=-0.001, size=0.002),
    }
    assert (
        client.post(
            f"{API}/embargoes", json={**exam, "end_date": "2020-01-01"}, headers=heads["rpic.op"]
        ).status_code
        == 422
    )
    r = client.post(f"{API}/embargoes", json=exam, headers=heads["rpic.op"])
    assert r.status_code == 201, r.text
    inside = application(
        geometry=square(dx=0.0035, dy=-0.0008),
        road="敦化南路",
        start_date=start.isoformat(),
        end_date=(start + timedelta(days=4)).isoformat(),
    )
    codes = [
        f["code"]
        for f in client.post(
            f"{API}/permits/check", json=inside, headers=heads["twc.staff"]
        ).json()["findings"]
    ]
    assert "embargo" in codes and "dig_ban" not in codes
    elsewhere = {**inside, "geometry": square(dx=0.008)}
    codes = [
        f["code"]
        for f in client.post(
            f"{API}/permits/check", json=elsewhere, headers=heads["twc.staff"]
        ).json()["findings"]
    ]
    assert "embargo" not in codes
    listed = client.get(f"{API}/embargoes", headers=heads["builder.staff"]).json()
    assert [e["name_en"] for e in listed] == ["Entrance exam"]
