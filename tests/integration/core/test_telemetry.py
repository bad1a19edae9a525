"""Telemetry over HTTP on both databases: exactly-once storage, delivery accounts, bad input."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from onecity.core.platform import Platform


def _device(client: TestClient, admin: dict[str, str], device_id: str = "bin-1") -> str:
    r = client.post(
        "/api/v1/devices",
        headers=admin,
        json={
            "id": device_id,
            "name": "Bin at City Hall",
            "type": "litter_bin",
            "department": "epb",
            "location": {"type": "Point", "coordinates": [121.5645, 25.0375]},
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["district"] == "信義區"
    k = client.post(f"/api/v1/devices/{device_id}/keys", headers=admin, json={"label": "t"})
    assert k.status_code == 201, k.text
    key: str = k.json()["key"]
    return key


# One time base for the module: a device's retry resends the message as it was (same time);
# the same seq at another time is a restart, not a retry (test_telemetry_epochs.py).
_BASE = int(time.time() * 1000)


def _msgs(seqs: list[int], value: float = 0.5) -> dict[str, object]:
    now = _BASE
    return {
        "messages": [
            {"seq": s, "ts": now - 1000 + s, "values": {"fill": value, "temperature": 20.0}}
            for s in seqs
        ]
    }


def _delivery(client: TestClient, admin: dict[str, str], device_id: str = "bin-1") -> dict:
    r = client.get(f"/api/v1/devices/{device_id}", headers=admin)
    assert r.status_code == 200
    d: dict = r.json()["delivery"]
    return d


def test_retry_is_stored_once_and_counted_as_duplicate(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _device(client, admin)
    h = {"X-Device-Key": key}
    first = client.post("/api/v1/telemetry", headers=h, json=_msgs([1, 2, 3]))
    assert first.json() == {
        "accepted": 3,
        "duplicates": 0,
        "readings": 6,
        "restarts": 0,
        "conflicts": 0,
    }
    retry = client.post("/api/v1/telemetry", headers=h, json=_msgs([2, 3, 4]))
    assert retry.json() == {
        "accepted": 1,
        "duplicates": 2,
        "readings": 2,
        "restarts": 0,
        "conflicts": 0,
    }
    d = _delivery(client, admin)
    assert (d["received"], d["duplicates"], d["gaps"], d["readings"]) == (4, 2, 0, 8)


def test_gaps_are_visible(client: TestClient, admin: dict[str, str]) -> None:
    key = _device(client, admin)
    client.post("/api/v1/telemetry", headers={"X-Device-Key": key}, json=_msgs([1, 2, 6, 10]))
    d = _delivery(client, admin)
    assert d["received"] == 4
    assert d["gaps"] == 6  # 3,4,5,7,8,9 never arrived
    # A late arrival fills a gap instead of being lost.
    client.post("/api/v1/telemetry", headers={"X-Device-Key": key}, json=_msgs([4]))
    assert _delivery(client, admin)["gaps"] == 5


def test_bad_batches_change_nothing(client: TestClient, admin: dict[str, str]) -> None:
    key = _device(client, admin)
    h = {"X-Device-Key": key, "content-type": "application/json"}
    now = int(time.time() * 1000)
    cases = [
        (b'{"messages": [', 400, None),
        (
            b'{"messages": [{"seq": 1, "ts": %d, "values": {"fill": NaN}}]}' % now,
            422,
            "messages[0].values.fill",
        ),
        (
            b'{"messages": [{"seq": "x", "ts": %d, "values": {"fill": 1}}]}' % now,
            422,
            "messages[0].seq",
        ),
        (
            b'{"messages": [{"seq": 1, "ts": %d, "values": {"fill": 1}}]}' % (now + 3_600_000),
            422,
            "messages[0].ts",
        ),
        (b'{"messages": [{"seq": 1, "ts": 1000, "values": {"fill": 1}}]}', 422, "messages[0].ts"),
        (
            b'{"messages": [{"seq": 1, "ts": %d, "values": {"fill": 1}},'
            b' {"seq": 1, "ts": %d, "values": {"fill": 2}}]}' % (now, now),
            422,
            "messages[1].seq",
        ),
        (b'{"messages": []}', 422, "messages"),
        (b'{"messages": [{"seq": 1, "ts": %d, "values": {}}]}' % now, 422, "messages[0].values"),
    ]
    for body, status, field in cases:
        r = client.post("/api/v1/telemetry", headers=h, content=body)
        assert r.status_code == status, (body, r.text)
        err = r.json()
        assert set(err) == {"error", "detail", "field"}
        assert err["field"] == field, (body, err)
    big = {"messages": [{"seq": i, "ts": now, "values": {"v": 1}} for i in range(1001)]}
    r = client.post("/api/v1/telemetry", headers={"X-Device-Key": key}, json=big)
    assert r.status_code == 422 and r.json()["error"] == "batch_too_large"
    d = _delivery(client, admin)
    assert d["received"] == 0 and d["readings"] == 0


def test_keys_unknown_and_revoked(client: TestClient, admin: dict[str, str]) -> None:
    key = _device(client, admin)
    assert client.post("/api/v1/telemetry", json=_msgs([1])).status_code == 401
    bogus = "ock_0123456789abcdef_nope"
    assert (
        client.post(
            "/api/v1/telemetry", headers={"X-Device-Key": bogus}, json=_msgs([1])
        ).status_code
        == 401
    )
    key_id = key.split("_")[1]
    assert client.delete(f"/api/v1/devices/bin-1/keys/{key_id}", headers=admin).status_code == 204
    r = client.post("/api/v1/telemetry", headers={"X-Device-Key": key}, json=_msgs([1]))
    assert r.status_code == 401 and r.json()["error"] == "revoked_device_key"
    assert _delivery(client, admin)["received"] == 0


def test_series_raw_and_downsampled(client: TestClient, admin: dict[str, str]) -> None:
    key = _device(client, admin)
    now = int(time.time() * 1000) // 60000 * 60000 - 600_000
    msgs = [{"seq": i, "ts": now + i * 10_000, "values": {"fill": i / 100}} for i in range(60)]
    client.post("/api/v1/telemetry", headers={"X-Device-Key": key}, json={"messages": msgs})
    raw = client.get("/api/v1/devices/bin-1/telemetry", headers=admin, params={"key": "fill"})
    assert raw.status_code == 200 and len(raw.json()["points"]) == 60
    per_min = client.get(
        "/api/v1/devices/bin-1/telemetry", headers=admin, params={"key": "fill", "bucket": 60}
    ).json()["points"]
    assert len(per_min) == 10
    assert per_min[0]["count"] == 6
    assert abs(per_min[0]["value"] - 0.025) < 1e-9
    assert per_min[0]["min"] == 0.0 and per_min[0]["max"] == 0.05
    # A year in one-second buckets is more than a chart can take: refused, naming the fix.
    year = client.get(
        "/api/v1/devices/bin-1/telemetry",
        headers=admin,
        params={
            "key": "fill",
            "bucket": 1,
            "from": "2026-01-01T00:00:00+08:00",
            "to": "2026-12-31T00:00:00+08:00",
        },
    )
    assert year.status_code == 422, year.text
    assert year.json()["field"] == "bucket" and "larger bucket" in year.json()["detail"]


def test_threshold_alert_with_hysteresis(
    client: TestClient, admin: dict[str, str], platform: Platform
) -> None:
    key = _device(client, admin)
    r = client.post(
        "/api/v1/alert-rules",
        headers=admin,
        json={
            "name": "Bin full",
            "key": "fill",
            "direction": "above",
            "raise_at": 0.8,
            "clear_at": 0.5,
            "device_type": "litter_bin",
        },
    )
    assert r.status_code == 201, r.text
    h = {"X-Device-Key": key}

    def send(seq: int, v: float) -> list[dict]:
        client.post("/api/v1/telemetry", headers=h, json=_msgs([seq], v))
        return client.get("/api/v1/alerts", headers=admin, params={"state": "active"}).json()[
            "items"
        ]

    assert send(1, 0.85)[0]["message"].startswith("Bin full")
    assert len(send(2, 0.9)) == 1  # still one alert, not a second
    assert len(send(3, 0.7)) == 1  # between thresholds: stays open (hysteresis)
    assert send(4, 0.4) == []  # cleared
    resolved = client.get("/api/v1/alerts", headers=admin, params={"state": "resolved"}).json()
    assert resolved["items"][0]["resolved_by"] == "system"


def test_resend_with_extra_keys_is_one_message(client: TestClient, admin: dict[str, str]) -> None:
    """Both databases agree: a message is identified by its sequence number, so a resend that
    carries more values is a duplicate, and the accounts count one message."""
    key = _device(client, admin)
    h = {"X-Device-Key": key}
    now = int(time.time() * 1000)
    client.post(
        "/api/v1/telemetry",
        headers=h,
        json={"messages": [{"seq": 1, "ts": now, "values": {"fill": 0.1}}]},
    )
    again = client.post(
        "/api/v1/telemetry",
        headers=h,
        json={
            "messages": [
                {"seq": 1, "ts": now, "values": {"fill": 0.1, "temperature": 30.0}},
                {"seq": 3, "ts": now, "values": {"fill": 0.2}},
            ]
        },
    )
    assert again.json() == {
        "accepted": 1,
        "duplicates": 1,
        "readings": 1,
        "restarts": 0,
        "conflicts": 0,
    }
    d = _delivery(client, admin)
    assert (d["received"], d["duplicates"], d["readings"], d["gaps"]) == (2, 1, 2, 1)


def test_late_message_does_not_decide_the_alert(client: TestClient, admin: dict[str, str]) -> None:
    """A message that fills an old gap arrives after newer ones: the alert reflects the
    present (newest) value, not the late one."""
    key = _device(client, admin)
    client.post(
        "/api/v1/alert-rules",
        headers=admin,
        json={
            "name": "Bin full",
            "key": "fill",
            "direction": "above",
            "raise_at": 0.8,
            "clear_at": 0.5,
            "device_type": "litter_bin",
        },
    )
    h = {"X-Device-Key": key}
    now = int(time.time() * 1000)

    def send(seq: int, ago_s: int, fill: float) -> list[dict]:
        client.post(
            "/api/v1/telemetry",
            headers=h,
            json={"messages": [{"seq": seq, "ts": now - ago_s * 1000, "values": {"fill": fill}}]},
        )
        return client.get("/api/v1/alerts", headers=admin, params={"state": "active"}).json()[
            "items"
        ]

    assert len(send(2, 10, 0.9)) == 1  # now full: alert
    assert len(send(1, 60, 0.1)) == 1  # a minute-old reading arrives late: still full
    assert send(3, 0, 0.2) == []  # the present value clears it
    assert send(0, 120, 0.95) == []  # an old high reading does not raise a stale alert
