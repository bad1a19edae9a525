"""Domain events through a transactional outbox.

`emit` writes the event in the caller's transaction, so a committed change always has its event
and a rolled-back one never does. Publishers (MQTT relay, the SSE stream) read the table by id;
nothing lives in process memory, so any number of API processes agree.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
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


def since(db: Database, after_id: int, limit: int = 200) -> list[Event]:
    with db.read() as s:
        return list(
            s.execute(select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit))
            .scalars()
            .all()
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


class Tail:
    """Follows the outbox by id for one reader (an SSE stream).

    On PostgreSQL ids come from a sequence at insert time but become visible at commit, so
    id N+1 can be seen before N. A reader that only moved its cursor forward would skip N for
    ever. The tail remembers the ids it jumped over and asks for them again until they appear
    or GAP_WAIT_S has passed (a rolled-back transaction leaves a gap that never fills)."""

    GAP_WAIT_S = 30.0

    def __init__(self, db: Database, after: int) -> None:
        self.db = db
        self.cursor = after
        self.gaps: dict[int, float] = {}

    def poll(self, now: float | None = None) -> tuple[list[Event], list[Event]]:
        """Returns (new events in id order, late events that filled earlier gaps)."""
        now = time.monotonic() if now is None else now
        fresh = since(self.db, self.cursor)
        late: list[Event] = []
        if self.gaps:
            with self.db.read() as s:
                late = list(
                    s.execute(select(Event).where(Event.id.in_(list(self.gaps))).order_by(Event.id))
                    .scalars()
                    .all()
                )
            for ev in late:
                self.gaps.pop(ev.id, None)
            self.gaps = {i: t for i, t in self.gaps.items() if now - t < self.GAP_WAIT_S}
        for ev in fresh:
            for missing in range(self.cursor + 1, ev.id):
                if len(self.gaps) < 10_000:
                    self.gaps.setdefault(missing, now)
            self.cursor = ev.id
        return fresh, late
