"""Shared fixtures: a migrated database per backend (SQLite file, real PostgreSQL), the app,
and users of every role."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import StaticPool

from onecity.app import create_app
from onecity.bootstrap import migrate, seed_reference
from onecity.core.auth.secrets import hash_password
from onecity.core.models import User
from onecity.core.modules import start_platform
from onecity.core.platform import Platform
from onecity.roadworks import models as _roadworks_models  # noqa: F401 - in the metadata
from onecity.settings import Settings
from onecity.waste import models as _waste_models  # noqa: F401 - in the metadata too
from tests.city_clock import (  # noqa: F401 - the city's time of day in tests: hooks, fixture
    city_clock,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_generate_tests,
)

PG_ADMIN_URL = os.environ.get(
    "ONECITY_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "correct-horse-battery"


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this test run's own, migrated once, dropped at the end."""
    name = f"onecity_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = _pg_url(name)
    migrate(url)
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


def _reset_statements(url: str) -> str:
    """The SQL that empties every table of the migrated schema and restarts the sequences
    the tables own: what `TRUNCATE ... RESTART IDENTITY CASCADE` did, in a few ms instead of
    about a second (TRUNCATE swaps every table's and index's files; DELETE on a test's few
    rows does not). Foreign keys are not checked meanwhile (replica role), so the order of
    the tables does not matter."""
    eng = create_engine(url)
    with eng.connect() as c:
        tables = c.execute(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' ORDER BY tablename"
            )
        ).scalars()
        deletes = [f"DELETE FROM {t};" for t in tables]  # noqa: S608 - names from pg_tables
        sequences = c.execute(
            text(
                "SELECT s.oid::regclass::text FROM pg_class s JOIN pg_depend d "
                "ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
                "WHERE s.relkind = 'S' AND s.relnamespace = 'public'::regnamespace"
            )
        ).scalars()
        restarts = [f"ALTER SEQUENCE {q} RESTART;" for q in sequences]
    eng.dispose()
    return "SET LOCAL session_replication_role = replica;" + "".join(deletes + restarts)


@pytest.fixture(scope="session")
def pg_reset(pg_database: str) -> Iterator[Callable[[], None]]:
    """Empties this run's PostgreSQL database (one connection kept for the whole session)."""
    sql = text(_reset_statements(pg_database))
    eng = create_engine(pg_database, poolclass=StaticPool)

    def reset() -> None:
        with eng.begin() as c:
            c.execute(sql)

    yield reset
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each integration test runs on both databases, each time from an empty schema."""
    if request.param == "sqlite":
        dst = tmp_path / "onecity.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), dst)
        return f"sqlite:///{dst}"
    url: str = request.getfixturevalue("pg_database")
    request.getfixturevalue("pg_reset")()
    return url


def make_settings(db_url: str, **over: object) -> Settings:
    base: dict[str, object] = {
        "environment": "test",
        "database_url": db_url,
        "totp_required_roles": "",
        # Python's collector as it is: the app's start-up otherwise runs a full collection of
        # the whole test process (and freezes it) each time a test starts an app, 0.5-3 s
        # apiece. The tuned thresholds are exercised by tests/e2e's live server.
        "gc_threshold": "",
        # Signed audit checkpoints of this database only (created when first written).
        "audit_checkpoint_dir": Path(tempfile.gettempdir(), "onecity-audit", uuid.uuid4().hex),
    }
    base.update(over)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, audit_checkpoint_dir=tmp_path / "audit")


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    p = start_platform(settings)
    seed_reference(p)
    yield p
    p.db.dispose()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform.settings, platform)) as c:
        yield c


@cache
def _password_hash(production_cost: bool) -> str:
    """PASSWORD hashed once per test process. Fixture users get a real argon2id hash at a low
    cost (1 pass over 1 MiB): a login verifies it in ~1 ms instead of the production hash's
    ~0.15 CPU-s, which the thousands of fixture logins would spend many minutes on. The login
    code is the same either way (argon2 reads the cost from the hash). Tests about a login's
    cost or timing ask for `production_cost=True`."""
    if production_cost:
        return hash_password(PASSWORD)
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


def add_user(
    p: Platform,
    username: str,
    role: str,
    department: str | None,
    *,
    production_cost: bool = False,
) -> None:
    with p.db.session() as s:
        s.add(
            User(
                username=username,
                display_name=username,
                password_hash=_password_hash(production_cost),
                role=role,
                department_code=department,
            )
        )


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def admin(client: TestClient, platform: Platform) -> dict[str, str]:
    add_user(platform, "root.admin", "admin", "doit")
    return login(client, "root.admin")


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on a free port; yield its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
        )
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server thread died during start-up"
        assert time.monotonic() < deadline, "the server did not start in 20 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
