"""iTrash station monitoring: per-station state and crew jobs

Revision ID: 0006_waste_jobs
Revises: 0005_open311
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_waste_jobs"
down_revision = "0005_open311"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waste_station_state",
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["devices.id"],
            name=op.f("fk_waste_station_state_station_id_devices"),
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_waste_station_state")),
    )
    op.create_index(
        op.f("ix_waste_station_state_updated_at"), "waste_station_state", ["updated_at"]
    )
    op.create_table(
        "waste_jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("compartment", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("collected_kg", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("condition_cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["devices.id"], name=op.f("fk_waste_jobs_station_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waste_jobs")),
    )
    op.create_index(op.f("ix_waste_jobs_status"), "waste_jobs", ["status"])
    op.create_index("ix_waste_jobs_station_status", "waste_jobs", ["station_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_waste_jobs_station_status", table_name="waste_jobs")
    op.drop_index(op.f("ix_waste_jobs_status"), table_name="waste_jobs")
    op.drop_table("waste_jobs")
    op.drop_index(op.f("ix_waste_station_state_updated_at"), table_name="waste_station_state")
    op.drop_table("waste_station_state")
