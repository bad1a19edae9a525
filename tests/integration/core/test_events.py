"""Live updates: events committed by one process reach a browser's SSE stream, filtered by
department, resumable with Last-Event-ID; a rolled-back change emits nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from onecity.app import create_app
from onecity.core import events
from onecity.core.platform import Platform
from tests.conftest import PASSWORD, add_user, serving


@pytest.fixture
def server(platform: Platform) -> Iterator[str]:
    with serving(create_app(platform.settings, platform)) as base:
        yield base


def _token(base: str, user: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    tok: str = r.json()["token"]
    return tok


def _read_events(
    base: str,
    token: str,
    want: int,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    on_hello: Callable[[], None] | None = None,
) -> list[dict]:
    got: list[dict] = []
    h = {"Authorization": f"Bearer {token}", **(headers or {})}
    deadline = time.monotonic() + timeout
    with httpx.stream("GET", f"{base}/api/v1/events/stream", headers=h, timeout=timeout) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        ev: dict = {}
        for line in r.iter_lines():
            if line.startswith("id: "):
                ev["id"] = int(line[4:])
            elif line.startswith("event: "):
                ev["event"] = line[7:]
            elif line.startswith("data: "):
                ev["data"] = json.loads(line[6:])
            elif line == "" and ev:
                if ev.get("event") != "hello":
                    got.append(ev)
                elif on_hello is not None:
                    on_hello()
                ev = {}
                if len(got) >= want:
                    break
            assert time.monotonic() < deadline, f"only {len(got)} of {want} events arrived"
    return got


def test_stream_delivers_only_visible_events_and_resumes(platform: Platform, server: str) -> None:
    add_user(platform, "epb.op", "operator", "epb")
    token = _token(server, "epb.op")
    with platform.db.session() as s:
        events.emit(s, "device.offline", {"device_id": "police-cam"}, "police")
        events.emit(s, "device.offline", {"device_id": "bin-7"}, "epb")
        events.emit(s, "city.notice", {"text": "for everyone"}, None)
    first = _read_events(server, token, 2, {"Last-Event-ID": "0"})
    assert [e["data"]["payload"] for e in first] == [
        {"device_id": "bin-7"},
        {"text": "for everyone"},
    ]
    # Resume after the first one: only what came later is replayed.
    again = _read_events(server, token, 1, {"Last-Event-ID": str(first[0]["id"])})
    assert again[0]["id"] == first[1]["id"]


def test_live_event_arrives_while_connected(platform: Platform, server: str) -> None:
    add_user(platform, "boss", "admin", "doit")
    token = _token(server, "boss")

    def emit_now() -> None:
        # Only once the stream is open, so the event can only arrive live.
        with platform.db.session() as s:
            events.emit(s, "alert.opened", {"alert_id": 1}, "epb")

    got = _read_events(server, token, 1, on_hello=emit_now)
    assert got[0]["event"] == "alert.opened"


def test_rolled_back_change_emits_nothing(platform: Platform) -> None:
    before = events.last_id(platform.db)
    with pytest.raises(RuntimeError), platform.db.session() as s:
        events.emit(s, "device.offline", {"device_id": "x"}, "epb")
        s.flush()
        raise RuntimeError("the change failed")
    assert events.last_id(platform.db) == before


def test_stream_ends_when_the_session_does(
    platform: Platform, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onecity.core import ops

    monkeypatch.setattr(ops, "REAUTH_TICKS", 1)  # re-check every poll instead of every 30
    add_user(platform, "epb.op2", "operator", "epb")
    token = _token(server, "epb.op2")
    seen: list[str] = []
    with httpx.stream(
        "GET",
        f"{server}/api/v1/events/stream",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as r:
        for line in r.iter_lines():
            if line.startswith("event: "):
                seen.append(line[7:])
                if line == "event: hello":
                    httpx.post(
                        f"{server}/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}
                    )
    # The server closed the stream itself after telling the page why.
    assert seen == ["hello", "session_ended"]
