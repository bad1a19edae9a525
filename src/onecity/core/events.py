"""Domain events through a transactional outbox.

`emit` writes the event in the caller's transaction, so a committed change always has its event
and a rolled-back one never does. Publishers (MQTT relay, the SSE stream, webhooks) read the
table by id; those that follow it in id order read through `read_settled`, which never passes
an id that may still appear.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert, select, text, update
from sqlalchemy.orm import Session

from onecity.core.db import Database, utcnow
from onecity.core.models import Event

log = logging.getLogger(__name__)


_INSERT = insert(Event.__table__)  # type: ignore[arg-type]


def emit(
    session: Session, type_: str, payload: dict[str, Any], department: str | None = None
) -> None:
    # A plain INSERT, not an ORM object: the unit of work's flush costs more than the write,
    # and every busy path (telemetry, station uploads) emits.
    session.execute(
        _INSERT,
        {"type": type_, "payload": payload, "department_code": department, "created_at": utcnow()},
    )


def last_id(db: Database) -> int:
    with db.read() as s:
        got = s.execute(select(Event.id).order_by(Event.id.desc()).limit(1)).scalar()
        return int(got or 0)


Publish = Callable[[str, bytes], None]


def relay_once(db: Database, publish: Publish, batch: int = 500) -> int:
    """Publish unpublished events in id order, then mark them. At-least-once by design:
    a crash between publish and mark republishes, and consumers dedupe by event id."""
    with db.read() as s:
        pending = list(
            s.execute(
                select(Event).where(Event.published_at.is_(None)).order_by(Event.id).limit(batch)
            )
            .scalars()
            .all()
        )
    if not pending:
        return 0
    for ev in pending:
        body = {"id": ev.id, "type": ev.type, "at": _iso(ev.created_at), "payload": ev.payload}
        publish(f"onecity/events/{ev.type}", json.dumps(body, ensure_ascii=False).encode())
    with db.session() as s:
        s.execute(
            update(Event).where(Event.id.in_([e.id for e in pending])).values(published_at=utcnow())
        )
    return len(pending)


def relay_forever(db: Database, publish: Publish, stop: Callable[[], bool]) -> None:
    while not stop():
        try:
            if relay_once(db, publish) == 0:
                time.sleep(0.5)
        except Exception:  # a broker or database blip must not kill the relay
            log.exception("outbox relay failed; retrying")
            time.sleep(2)


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
# Reading the outbox in id order without skipping an event that is not visible yet.
#
# PostgreSQL takes an event's id from a sequence when the row is inserted but shows the row
# when its transaction commits, so id N+1 can be visible while N is not: N's transaction may
# still commit (it is waiting on a lock, say) or may have rolled back (then N never appears).
# A reader whose cursor passes N while N may still appear loses it for good; a reader that
# waits for N for ever stalls on every rollback. So a missing id (a hole) is waited for until
# it shows up or is known to be dead:
#
# * SQLite has one writer at a time and a rolled-back insert returns its id, so ids become
#   visible in order: a hole there is a deleted row, dead at once.
# * On PostgreSQL a hole's id was taken before the hole was first seen (it is below a visible
#   id, and the sequence hands ids out in order), by a transaction running then or already
#   ended, which has its xid a few microseconds after taking the id. `grace_s` after the hole
#   was first seen the reader notes the snapshot's xmax (the fence): every transaction then
#   running has an xid below it. Once the oldest running xid (the snapshot's xmin) reaches
#   the fence, the hole's transaction has ended, and whatever of the hole a later read does
#   not show never will be. No clock decides that a transaction took "too long": one held
#   open for minutes holds its hole for minutes, and a rollback frees its hole in about
#   `grace_s`. Only `max_wait_s` (far longer than any transaction this application keeps
#   open) gives a hole up without that proof, and says so at ERROR.
# The knowledge is per process and in memory: a restarted process proves its holes again
# (a short delay, never a loss).
# ---------------------------------------------------------------------------------------------

_SNAPSHOT = text(
    "SELECT pg_snapshot_xmin(x)::text, pg_snapshot_xmax(x)::text FROM pg_current_snapshot() x"
)
SCAN = 10_000  # ids looked at per read; a reader far behind catches up over several reads


@dataclass
class _Hole:
    lo: int
    hi: int
    seen: float  # monotonic time first seen
    fence: int | None = None  # xmax of a snapshot taken grace_s after `seen`


class Holes:
    """What one process knows about the ids missing from one database's outbox."""

    def __init__(self, grace_s: float = 5.0, max_wait_s: float = 900.0) -> None:
        self.grace_s = grace_s
        self.max_wait_s = max_wait_s
        self._lock = threading.Lock()
        self._waiting: list[_Hole] = []
        # (lo, hi, when): holes known dead, forgotten after an hour (then proven again)
        self._given_up: list[tuple[int, int, float]] = []

    def settled(self, db: Database, after: int, now: float | None = None) -> int:
        """The highest id P >= `after` such that every id in (after, P] is visible or will
        never be: events up to P may be read and a cursor may move to P."""
        now = time.monotonic() if now is None else now
        postgres = db.dialect == "postgresql"
        with db.read() as s:
            # The snapshot's bounds first, then the ids: a hole proven dead by these bounds
            # shows whatever of it committed to the read that follows.
            xmin, xmax = (int(v) for v in s.execute(_SNAPSHOT).one()) if postgres else (0, 0)
            ids = list(
                s.execute(
                    select(Event.id).where(Event.id > after).order_by(Event.id).limit(SCAN)
                ).scalars()
            )
        expected = after + 1
        with self._lock:
            self._forget(now)
            for i in ids:
                if i > expected and postgres and not self._dead(expected, i - 1, now, xmin, xmax):
                    break
                expected = i + 1
        return expected - 1

    def _dead(self, lo: int, hi: int, now: float, xmin: int, xmax: int) -> bool:
        """Whether every id in lo..hi that is not visible now never will be."""
        if any(d_lo <= lo and hi <= d_hi for d_lo, d_hi, _ in self._given_up):
            return True
        hole = next((h for h in self._waiting if h.lo <= lo and hi <= h.hi), None)
        if hole is None:
            self._waiting.append(_Hole(lo, hi, now))
            return False
        if hole.fence is None and now - hole.seen >= self.grace_s:
            hole.fence = xmax
        if hole.fence is None or xmin < hole.fence:
            if now - hole.seen < self.max_wait_s:
                return False
            log.error(
                "outbox: ids %s..%s still missing after %.0f s while a transaction that may "
                "hold them is open; giving them up (an event among them would reach no webhook "
                "or live stream)",
                hole.lo,
                hole.hi,
                now - hole.seen,
            )
        self._waiting.remove(hole)
        self._given_up.append((hole.lo, hole.hi, now))
        return True

    def _forget(self, now: float) -> None:
        self._given_up = [d for d in self._given_up if now - d[2] < 3600]
        # A hole that filled is never asked about again; one still open is decided (given up
        # at the latest) by a reader within max_wait_s, so an entry past twice that is stale.
        self._waiting = [h for h in self._waiting if now - h.seen < 2 * self.max_wait_s]


_HOLES: weakref.WeakKeyDictionary[Database, Holes] = weakref.WeakKeyDictionary()
_HOLES_LOCK = threading.Lock()


def holes(db: Database) -> Holes:
    """This process's hole tracker for `db` (one per database, shared by every reader)."""
    with _HOLES_LOCK:
        got = _HOLES.get(db)
        if got is None:
            got = _HOLES[db] = Holes()
        return got


def read_settled(
    db: Database,
    after: int,
    limit: int = 200,
    where: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[Event], int]:
    """Events after `after` in id order, only from the gap-free prefix (see above), that
    match `where`; and the cursor to resume from (the last event returned when `limit` cut
    the read short, else the end of the prefix, past events that did not match)."""
    end = holes(db).settled(db, after)
    if end == after:
        return [], after
    with db.read() as s:
        q = select(Event).where(Event.id > after, Event.id <= end, *where)
        got = list(s.execute(q.order_by(Event.id).limit(limit)).scalars())
    return got, (got[-1].id if len(got) == limit else end)


class Tail:
    """Follows the outbox for one reader (an SSE stream): each poll gives the events after the
    last one it gave, in id order, never passing one that may still appear."""

    def __init__(self, db: Database, after: int) -> None:
        self.db = db
        self.cursor = after

    def poll(self) -> list[Event]:
        got, self.cursor = read_settled(self.db, self.cursor)
        return got
