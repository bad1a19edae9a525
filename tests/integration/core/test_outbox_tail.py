"""The outbox tail does not lose an event whose transaction commits after a later one's."""

from __future__ import annotations

import pytest

from onecity.core import events
from onecity.core.models import Event
from onecity.core.platform import Platform


def test_event_committed_late_is_still_delivered(platform: Platform) -> None:
    tail = events.Tail(platform.db, events.last_id(platform.db))
    with platform.db.session() as s1:
        events.emit(s1, "first", {"n": 1}, None)
        s1.flush()  # id taken now, visible only at commit
        with platform.db.session() as s2:
            if platform.db.dialect == "sqlite":
                pytest.skip("SQLite has one writer at a time: ids are always in commit order")
            events.emit(s2, "second", {"n": 2}, None)
        fresh, late = tail.poll()
        assert [e.type for e in fresh] == ["second"] and late == []
    fresh, late = tail.poll()
    assert fresh == [] and [e.type for e in late] == ["first"]
    assert tail.gaps == {}


def test_rolled_back_gap_is_given_up(platform: Platform) -> None:
    tail = events.Tail(platform.db, events.last_id(platform.db))
    with pytest.raises(RuntimeError), platform.db.session() as s:
        s.add(Event(type="doomed", payload={}))
        s.flush()
        raise RuntimeError("rolled back")
    with platform.db.session() as s:
        events.emit(s, "kept", {}, None)
    fresh, _ = tail.poll(now=0.0)
    assert [e.type for e in fresh] == ["kept"]
    if platform.db.dialect == "postgresql":
        assert len(tail.gaps) == 1  # the rolled-back id, waited for a while...
    tail.poll(now=tail.GAP_WAIT_S + 1)
    assert tail.gaps == {}  # ...then given up
