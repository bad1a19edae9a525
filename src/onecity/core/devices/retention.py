"""Telemetry retention: readings older than the configured number of days are deleted in
bounded chunks, so a purge never holds a long lock on a busy table. Delivery accounts are
kept: they count what was received, not what is still stored. An epoch whose readings are
all gone is deleted too, except each device's newest (its numbering goes on from there).
On TimescaleDB a deployment would use a retention policy (drop_chunks) instead; this is the
portable path."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from onecity.core import clock
from onecity.core.db import Database

CHUNK = 20_000
_EMPTY_EPOCHS = text(
    "DELETE FROM delivery_epochs WHERE epoch < "
    "(SELECT MAX(x.epoch) FROM delivery_epochs x WHERE x.device_id = delivery_epochs.device_id) "
    "AND NOT EXISTS (SELECT 1 FROM readings r "
    "WHERE r.device_id = delivery_epochs.device_id AND r.epoch = delivery_epochs.epoch)"
)


def _cutoff(retention_days: int, now_ms: int | None) -> int:
    if retention_days < 1:
        raise ValueError("retention must be at least one day")
    now = now_ms if now_ms is not None else clock.time_ms()
    return now - retention_days * 86_400_000


def due(db: Database, retention_days: int, now_ms: int | None = None) -> int:
    """How many readings a purge would delete now (for a progress bar)."""
    with db.read() as s:
        q = text("SELECT COUNT(*) FROM readings WHERE ts_ms < :cutoff")
        return int(
            s.connection().execute(q, {"cutoff": _cutoff(retention_days, now_ms)}).scalar_one()
        )


def purge(
    db: Database,
    retention_days: int,
    now_ms: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Delete readings older than `retention_days`; returns how many were deleted.
    `progress(n)` is told after each chunk how many it deleted."""
    cutoff = _cutoff(retention_days, now_ms)
    # ctid and rowid are each engine's physical row id: the cheapest way to delete a chunk.
    rid = "ctid" if db.dialect == "postgresql" else "rowid"
    stmt = text(
        f"DELETE FROM readings WHERE {rid} IN "  # noqa: S608 - rid is one of two constants
        f"(SELECT {rid} FROM readings WHERE ts_ms < :cutoff LIMIT :n)"
    )
    total = 0
    while True:
        with db.session() as s:
            n = int(s.connection().execute(stmt, {"cutoff": cutoff, "n": CHUNK}).rowcount)
        total += n
        if progress is not None:
            progress(n)
        if n < CHUNK:
            break
    with db.session() as s:
        s.connection().execute(_EMPTY_EPOCHS)
    return total
