"""iTrash: the times a compartment was full to the top

Revision ID: 0009_waste_overflow
Revises: 0008_media
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_waste_overflow"
down_revision = "0008_media"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waste_overflow",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("compartment", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"], ["devices.id"], name=op.f("fk_waste_overflow_station_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waste_overflow")),
    )
    with op.batch_alter_table("waste_overflow") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_waste_overflow_station_id"), ["station_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_waste_overflow_started_at"), ["started_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("waste_overflow")
