"""Station telemetry raising crew jobs when deliveries repeat, interleave and fail, on both
databases: several ingest writers at once, each with overlapping and reordered copies of the
same messages, store every reading once and open one job per alert; a batch that fails in
the middle of the waste hook leaves nothing behind, and its retry counts once."""

from __future__ import annotations

import random
import threading
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onecity.core import clock
from onecity.core.devices.ingest import HookItem, Msg
from onecity.core.models import DeliveryAccount, Reading
from onecity.core.platform import Platform
from onecity.waste.jobs.models import WasteJob
from onecity.waste.jobs.monitor import StationMonitor
from onecity.waste.monitoring.models import WasteStationState
from tests.integration.waste.helpers import add_station, count

STATIONS = ("IT960-1", "IT960-2", "IT960-3")
# Each station fills from 0.50 to 0.95 over 10 messages: it crosses 80 % once.
FILLS = [0.50 + 0.05 * i for i in range(10)]


def messages(now_ms: int) -> list[Msg]:
    return [
        Msg(sid, seq + 1, now_ms - (10 - seq) * 1000, (("garbage.fill", fill),))
        for sid in STATIONS
        for seq, fill in enumerate(FILLS)
    ]


def full_jobs(p: Platform) -> dict[str, int]:
    with p.db.read() as s:
        rows = s.execute(
            select(WasteJob.station_id, func.count())
            .where(WasteJob.kind == "full", WasteJob.compartment == "garbage")
            .group_by(WasteJob.station_id)
        ).all()
    return {sid: int(n) for sid, n in rows}


def test_interleaved_duplicate_deliveries_count_once(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    for sid in STATIONS:
        add_station(client, admin, sid)
    msgs = messages(clock.time_ms())
    rng = random.Random(3)
    # Four writers, each with its own shuffled batches that overlap the others'.
    plans = []
    for _ in range(4):
        mine = msgs + rng.sample(msgs, 10)
        rng.shuffle(mine)
        plans.append([mine[i : i + 7] for i in range(0, len(mine), 7)])
    errors: list[BaseException] = []
    go = threading.Barrier(len(plans))

    def writer(batches: list[list[Msg]]) -> None:
        go.wait()
        try:
            for batch in batches:
                platform.ingester.write(batch)
        except BaseException as exc:  # the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(plan,)) for plan in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert count(platform, Reading) == len(msgs)  # every message once, one key each
    with platform.db.read() as s:
        stored = s.execute(select(func.sum(DeliveryAccount.readings))).scalar_one()
    assert stored == len(msgs)
    assert full_jobs(platform) == {sid: 1 for sid in STATIONS}


def test_a_batch_failing_in_the_hook_leaves_nothing_and_its_retry_counts_once(
    client: TestClient, platform: Platform, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for sid in STATIONS:
        add_station(client, admin, sid)
    msgs = messages(clock.time_ms())
    monitor = StationMonitor()
    calls = {"n": 0}

    def crash_midway(session: Session, items: list[HookItem]) -> None:
        calls["n"] += 1
        monitor.apply(session, items[: len(items) // 2])  # some jobs are written already...
        raise RuntimeError("power cut in the middle of the hook")  # ...when the batch dies

    hooks = platform.ingester.hooks
    monkeypatch.setitem(hooks, "waste_station", replace(hooks["waste_station"], apply=crash_midway))
    with pytest.raises(RuntimeError):
        platform.ingester.write(msgs)
    assert calls["n"] == 1
    assert count(platform, Reading) == 0
    assert count(platform, WasteJob) == 0
    assert count(platform, WasteStationState) == 0

    monkeypatch.undo()  # the hook works again
    platform.ingester.write(msgs)  # the broker redelivers the batch
    platform.ingester.write(msgs)  # and once more, as at-least-once delivery may
    assert count(platform, Reading) == len(msgs)
    assert full_jobs(platform) == {sid: 1 for sid in STATIONS}
