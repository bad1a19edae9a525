"""Upgrading a city whose database already holds doubled crew jobs (the old check-then-insert
race): the migration keeps one open job per problem (the one a crew accepted, else the oldest),
moves the others' citizen reports onto it so every reporter still hears back, closes the
others saying where they went, and then the database refuses a second open job. Both
databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onecity.bootstrap import ROOT
from onecity.core.models import Department, Device
from onecity.waste.jobs.models import WasteJob
from tests.conftest import PG_ADMIN_URL, _pg_url

BEFORE = "0013_waste_truck_positions"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    name = f"onecity_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _alembic(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _job(
    station: str, compartment: str | None, kind: str, status: str, reports: list[int]
) -> WasteJob:
    return WasteJob(
        station_id=station,
        compartment=compartment,
        kind=kind,
        detail=None,
        priority=3,
        status=status,
        raised_at=datetime(2026, 12, 1, tzinfo=UTC),
        note="",
        params={"reports": reports},
    )


def test_doubled_jobs_are_merged_and_a_new_double_is_refused(empty_url: str) -> None:
    cfg = _alembic(empty_url)
    command.upgrade(cfg, BEFORE)
    engine = create_engine(empty_url)
    try:
        with Session(engine) as s, s.begin():
            s.add(Department(code="epb", name_zh="環保局", name_en="EPB"))
            s.flush()
            for sid in ("A", "B"):
                s.add(Device(id=sid, name=sid, type="waste_station", department_code="epb"))
            s.flush()
            s.add_all(
                [
                    _job("A", "garbage", "full", "open", [1]),  # 1
                    _job("A", "garbage", "full", "accepted", [2, 3]),  # 2: a crew is on it
                    _job("A", "garbage", "full", "closed", [4]),  # 3: history, untouched
                    _job("A", None, "offline", "open", []),  # 4
                    _job("A", None, "offline", "open", [5]),  # 5
                    _job("B", "garbage", "full", "open", [6]),  # 6
                ]
            )
        command.upgrade(cfg, "head")
        with Session(engine) as s:
            jobs = {j.id: j for j in s.scalars(select(WasteJob))}
            assert (jobs[2].status, sorted(jobs[2].params["reports"])) == ("accepted", [1, 2, 3])
            assert (jobs[1].status, jobs[1].closed_by) == ("closed", "migration")
            assert "merged into job 2" in jobs[1].note and jobs[1].params["reports"] == []
            assert (jobs[3].status, jobs[3].params["reports"]) == ("closed", [4])
            assert (jobs[4].status, jobs[4].params["reports"]) == ("open", [5])
            assert jobs[5].status == "closed" and "merged into job 4" in jobs[5].note
            assert (jobs[6].status, jobs[6].params["reports"]) == ("open", [6])
        with pytest.raises(IntegrityError), Session(engine) as s, s.begin():
            s.add(_job("B", "garbage", "full", "open", [7]))
    finally:
        engine.dispose()
