"""Telemetry epochs: a device that restarts and reuses its sequence numbers gets a new epoch,
so its readings are stored instead of being taken for duplicates

Revision ID: 0016_telemetry_epochs
Revises: 0013_waste_truck_positions
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_telemetry_epochs"
down_revision = "0020_open311_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every stored reading belongs to its device's first epoch. The primary key is rebuilt
    # (on a large readings table this takes a while: run it in a maintenance window).
    with op.batch_alter_table("readings") as t:
        t.add_column(sa.Column("epoch", sa.Integer(), nullable=False, server_default="0"))
        t.drop_constraint("pk_readings", type_="primary")
        t.create_primary_key("pk_readings", ["device_id", "seq", "epoch", "key"])
    op.create_table(
        "delivery_epochs",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("boot", sa.BigInteger(), nullable=True),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("min_seq", sa.BigInteger(), nullable=False),
        sa.Column("max_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_delivery_epochs_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "epoch", name=op.f("pk_delivery_epochs")),
    )
    with op.batch_alter_table("delivery_accounts") as t:
        for name in ("span", "restarts", "conflicts"):
            t.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
        t.add_column(sa.Column("epoch", sa.Integer(), nullable=True))
    op.execute(
        "INSERT INTO delivery_epochs (device_id, epoch, boot, received, min_seq, max_seq) "
        "SELECT device_id, 0, NULL, received, min_seq, max_seq FROM delivery_accounts "
        "WHERE min_seq IS NOT NULL AND max_seq IS NOT NULL"
    )
    op.execute(
        "UPDATE delivery_accounts SET epoch = 0, span = max_seq - min_seq + 1 "
        "WHERE min_seq IS NOT NULL AND max_seq IS NOT NULL"
    )


def downgrade() -> None:
    # Readings of later epochs would collide on the old key: keep the first epoch's only.
    op.execute("DELETE FROM readings WHERE epoch <> 0")
    with op.batch_alter_table("delivery_accounts") as t:
        for name in ("epoch", "conflicts", "restarts", "span"):
            t.drop_column(name)
    op.drop_table("delivery_epochs")
    with op.batch_alter_table("readings") as t:
        t.drop_constraint("pk_readings", type_="primary")
        t.create_primary_key("pk_readings", ["device_id", "seq", "key"])
        t.drop_column("epoch")
