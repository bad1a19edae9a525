"""Alembic environment: the URL comes from OneCity settings (or -x url=...)."""

from __future__ import annotations

from alembic import context

from onecity.core import models  # noqa: F401 - registers the tables on Base.metadata
from onecity.core.db import Base, make_engine
from onecity.roadworks import models as roadworks_models  # noqa: F401 - RPIC permits, pipes
from onecity.settings import Settings
from onecity.waste import models as waste_models  # noqa: F401 - the iTrash ledger tables

config = context.config


def _url() -> str:
    given = context.get_x_argument(as_dictionary=True).get("url")
    return given or config.get_main_option("sqlalchemy.url") or Settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=Base.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
