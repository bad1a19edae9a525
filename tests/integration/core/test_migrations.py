"""The migrations build the schema the models describe, on both databases: a column or index
added to a model without its migration (or the other way round) fails here, not in a city's
upgrade."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import onecity
from onecity.core.db import Base
from onecity.roadworks.permits.spatial import INDEX_NAMES, INDEX_TABLES

# Every package's models.py, so a new module's tables are compared too.
for info in pkgutil.iter_modules(onecity.__path__):
    if info.ispkg:
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(f"onecity.{info.name}.models")


def _relevant(diff: Any) -> bool:
    # SQLite reports server defaults and some type spellings differently; those are not
    # schema drift. Tables, columns, indexes and constraints are what must agree.
    kind = diff[0] if isinstance(diff, tuple) else diff[0][0]
    # The spatial indexes (SQLite's R*Tree tables, PostgreSQL's GiST over box expressions)
    # belong to the migration, not to a model.
    if kind == "remove_table" and diff[1].name in INDEX_TABLES:
        return False
    if kind == "remove_index" and diff[1].name in INDEX_NAMES:
        return False
    return kind in {
        "add_table",
        "remove_table",
        "add_column",
        "remove_column",
        "add_index",
        "remove_index",
        "add_constraint",
        "remove_constraint",
        "add_fk",
        "remove_fk",
    }


def test_models_match_migrations(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            diffs = [d for d in compare_metadata(ctx, Base.metadata) if _relevant(d)]
    finally:
        engine.dispose()
    assert diffs == []
