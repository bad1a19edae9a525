"""The outbox reader (webhooks, the SSE stream) gives events in id order and never passes an
id whose transaction may still commit; an id that can never appear holds it only briefly."""

from __future__ import annotations

import logging
import time

import pytest

from onecity.core import events
from onecity.core.models import Event
from onecity.core.platform import Platform


def _skip_sqlite(platform: Platform) -> None:
    if platform.db.dialect == "sqlite":
        pytest.skip("SQLite has one writer at a time: ids become visible in commit order")


def _settle(holes: events.Holes, platform: Platform, after: int, start: float) -> int:
    """Reads until the end moves (at most 60 s: the proof waits for every transaction on the
    server, and parallel test runs share it), with the reader's clock from `start`."""
    t0 = time.monotonic()
    while True:
        end = holes.settled(platform.db, after, now=start + time.monotonic() - t0)
        if end != after or time.monotonic() - t0 > 60:
            return end
        time.sleep(0.1)


def _ids(platform: Platform, *types: str) -> list[int]:
    with platform.db.read() as s:
        return [e.id for e in s.query(Event).where(Event.type.in_(types)).order_by(Event.id)]


def test_an_event_committed_late_comes_first_in_id_order(platform: Platform) -> None:
    _skip_sqlite(platform)
    tail = events.Tail(platform.db, events.last_id(platform.db))
    with platform.db.session() as s1:
        events.emit(s1, "first", {"n": 1}, None)
        s1.flush()  # id taken now, visible only at commit
        with platform.db.session() as s2:
            events.emit(s2, "second", {"n": 2}, None)
        assert tail.poll() == []  # "second" waits for "first"
        events.holes(platform.db).grace_s = 0.0  # even with the proof taken at once...
        assert tail.poll() == []  # ...an open transaction holds its id
    assert [e.type for e in tail.poll()] == ["first", "second"]
    assert tail.poll() == []


def test_a_rolled_back_id_is_given_up_once_its_transaction_has_ended(
    platform: Platform,
) -> None:
    after = events.last_id(platform.db)
    with pytest.raises(RuntimeError), platform.db.session() as s:
        events.emit(s, "doomed", {}, None)
        s.flush()
        raise RuntimeError("rolled back")
    with platform.db.session() as s:
        events.emit(s, "kept", {}, None)
    [kept] = _ids(platform, "kept")
    holes = events.Holes(grace_s=5.0, max_wait_s=900.0)
    if platform.db.dialect == "postgresql":
        assert kept == after + 2  # the rolled-back transaction left a hole
        assert holes.settled(platform.db, after, now=100.0) == after  # first seen: wait
        assert holes.settled(platform.db, after, now=104.0) == after  # within the grace
        assert _settle(holes, platform, after, start=105.0) == kept  # past it, once proven
    else:
        assert kept == after + 1  # SQLite hands the rolled-back id out again: no hole
        assert holes.settled(platform.db, after, now=0.0) == kept


def test_a_hole_is_given_up_after_the_longest_wait_and_says_so(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    _skip_sqlite(platform)
    after = events.last_id(platform.db)
    holes = events.Holes(grace_s=1.0, max_wait_s=60.0)
    with platform.db.session() as s1:
        events.emit(s1, "stuck", {}, None)
        s1.flush()
        with platform.db.session() as s2:
            events.emit(s2, "next", {}, None)
        [nxt] = _ids(platform, "next")
        assert holes.settled(platform.db, after, now=0.0) == after
        assert holes.settled(platform.db, after, now=30.0) == after  # open: no proof
        with caplog.at_level(logging.ERROR, logger="onecity.core.events"):
            assert holes.settled(platform.db, after, now=61.0) == nxt
        assert "giving them up" in caplog.text
        s1.rollback()


def test_a_range_of_deleted_events_longer_than_one_read_is_crossed(platform: Platform) -> None:
    """Old events deleted under a paused hook's cursor leave a hole wider than one read."""
    after = events.last_id(platform.db)
    with platform.db.session() as s:
        s.add(Event(id=after + events.SCAN + 5, type="far", payload={}))
    holes = events.Holes(grace_s=0.0, max_wait_s=900.0)
    assert _settle(holes, platform, after, start=0.0) == after + events.SCAN + 5
