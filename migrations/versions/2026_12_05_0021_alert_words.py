"""Alerts a page can word in its own language: rule names per language, and on each alert the
facts its sentence is made of (rule names, metric, value, limit, comparison, unit) instead of
one fixed bilingual sentence (issue 16)

Revision ID: 0021_alert_words
Revises: 0016_telemetry_epochs
Create Date: 2026-12-05
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0021_alert_words"
down_revision = "0016_telemetry_epochs"
branch_labels = None
depends_on = None

# The demo's rules used to be named "清潔箱將滿 Bin nearly full": Chinese, a space, English.
_BILINGUAL = re.compile(r"^([^A-Za-z]*[\u4e00-\u9fff][^A-Za-z]*?)\s+([A-Za-z][ -~]*)$")


def upgrade() -> None:
    with op.batch_alter_table("alert_rules") as t:
        t.add_column(sa.Column("names", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("alerts") as t:
        t.add_column(sa.Column("rule_name", sa.JSON(), nullable=True))
        t.add_column(sa.Column("metric", sa.String(length=64), nullable=True))
        t.add_column(sa.Column("threshold", sa.Float(), nullable=True))
        t.add_column(sa.Column("comparison", sa.String(length=8), nullable=True))
        t.add_column(sa.Column("unit", sa.String(length=16), nullable=True))
        t.add_column(sa.Column("params", sa.JSON(), nullable=True))
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    """Rules named "中文 English" get those as their two names; each threshold alert takes its
    rule's names, metric, limit and comparison (the unit is not known for old alerts: their
    value is shown as a plain number)."""
    rules = sa.table(
        "alert_rules",
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("names", sa.JSON()),
        sa.column("key", sa.String()),
        sa.column("direction", sa.String()),
        sa.column("raise_at", sa.Float()),
    )
    alerts = sa.table(
        "alerts",
        sa.column("rule_id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("rule_name", sa.JSON()),
        sa.column("metric", sa.String()),
        sa.column("threshold", sa.Float()),
        sa.column("comparison", sa.String()),
    )
    for r in conn.execute(sa.select(rules)).all():
        m = _BILINGUAL.match(r.name)
        names = {"zh-TW": m.group(1).strip(), "en": m.group(2).strip()} if m else {}
        if names:
            conn.execute(sa.update(rules).where(rules.c.id == r.id).values(names=names))
        conn.execute(
            sa.update(alerts)
            .where(alerts.c.rule_id == r.id, alerts.c.kind == "threshold")
            .values(
                rule_name=names or None,
                metric=r.key,
                threshold=r.raise_at,
                comparison=r.direction,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as t:
        for name in ("params", "unit", "comparison", "threshold", "metric", "rule_name"):
            t.drop_column(name)
    with op.batch_alter_table("alert_rules") as t:
        t.drop_column("names")
