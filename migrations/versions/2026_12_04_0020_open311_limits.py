"""One open crew job per station problem, enforced by the database; Open311 usage counters for
the per-client and per-day limits and the media quota (issue 14)

Revision ID: 0020_open311_limits
Revises: 0014_waste_card_link_codes
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0020_open311_limits"
down_revision = "0014_waste_card_link_codes"
branch_labels = None
depends_on = None

_OPEN = "status <> 'closed'"
_MERGED = "merged into job {} when one open job per problem became a rule (issue 14)"


def upgrade() -> None:
    op.create_table(
        "open311_usage",
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("media_bytes", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client", "period", name=op.f("pk_open311_usage")),
    )
    op.create_index(
        op.f("ix_open311_usage_expires_at"), "open311_usage", ["expires_at"], unique=False
    )
    _merge_duplicate_jobs()
    op.create_index(
        "uq_waste_jobs_one_open",
        "waste_jobs",
        [
            "station_id",
            "kind",
            sa.text("coalesce(compartment, '')"),
            sa.text("coalesce(detail, '')"),
        ],
        unique=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )


def _merge_duplicate_jobs() -> None:
    """Jobs opened twice by the old race: one stays open and takes the others' citizen
    reports (so their reporters still hear back); the others close, saying where they went."""
    conn = op.get_bind()
    jobs = sa.table(
        "waste_jobs",
        sa.column("id", sa.BigInteger()),
        sa.column("station_id", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("compartment", sa.String()),
        sa.column("detail", sa.String()),
        sa.column("status", sa.String()),
        sa.column("note", sa.Text()),
        sa.column("closed_at", sa.DateTime(timezone=True)),
        sa.column("closed_by", sa.String()),
        sa.column("params", sa.JSON()),
    )
    rows = conn.execute(
        sa.select(jobs.c.id, jobs.c.station_id, jobs.c.kind, jobs.c.compartment, jobs.c.detail)
        .add_columns(jobs.c.params)
        .where(sa.text(_OPEN))
        # the job a crew has accepted stays, else the oldest
        .order_by(sa.case((jobs.c.status == "accepted", 0), else_=1), jobs.c.id)
    ).all()
    keep: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
    now = sa.func.current_timestamp()
    for r in rows:
        key = (r.station_id, r.kind, r.compartment or "", r.detail or "")
        if key not in keep:
            keep[key] = (r.id, dict(r.params or {}))
            continue
        first_id, params = keep[key]
        extra = [
            x for x in (r.params or {}).get("reports", []) if x not in params.get("reports", [])
        ]
        if extra:
            params["reports"] = [*params.get("reports", []), *extra]
            conn.execute(sa.update(jobs).where(jobs.c.id == first_id).values(params=params))
        conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == r.id)
            .values(
                status="closed",
                closed_at=now,
                closed_by="migration",
                note=_MERGED.format(first_id),
                params={**(r.params or {}), "reports": []},
            )
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_open311_usage_expires_at"), table_name="open311_usage")
    op.drop_table("open311_usage")
    op.drop_index(
        "uq_waste_jobs_one_open",
        table_name="waste_jobs",
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
