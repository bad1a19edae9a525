"""Where each collection truck was last seen (its crew's phone), for re-planning from there

Revision ID: 0013_waste_truck_positions
Revises: 0012_roadworks
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_waste_truck_positions"
down_revision = "0012_roadworks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("waste_trucks") as t:
        t.add_column(sa.Column("seen_lon", sa.Float(), nullable=True))
        t.add_column(sa.Column("seen_lat", sa.Float(), nullable=True))
        t.add_column(sa.Column("seen_accuracy_m", sa.Float(), nullable=True))
        t.add_column(sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True))
        t.add_column(sa.Column("seen_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("waste_trucks") as t:
        for name in ("seen_by", "seen_at", "seen_accuracy_m", "seen_lat", "seen_lon"):
            t.drop_column(name)
