"""Telemetry epochs: a device that restarts and reuses its sequence numbers gets a new epoch,
so its readings are stored instead of being taken for duplicates

Revision ID: 0016_telemetry_epochs
Revises: 0020_open311_limits
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_telemetry_epochs"
down_revision = "0020_open311_limits"
branch_labels = None
depends_on = None

# The ingest's default telemetry_max_seq_jump: a wider account range is a jump, not gaps.
MAX_JUMP = 100_000
KEPT_EPOCHS = 16  # core.devices.store.RECENT_EPOCHS when this was written


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
    _first_epochs(op.get_bind())


def _first_epochs(conn: sa.Connection) -> None:
    """Each account's range becomes its device's epoch 0. The range is compared, never
    computed, in SQL: 0 .. 2^63-1 (a device pinned by one absurd seq) spans 2^63, one more
    than a bigint holds. A range wider than the maximum seq jump is rebuilt from the stored
    readings, split where they jump: epoch 0 is the low end, each far group an epoch of its
    own (counted as a restart), and the current epoch is the one of the latest reading."""
    conn.execute(
        sa.text(
            "INSERT INTO delivery_epochs (device_id, epoch, boot, received, min_seq, max_seq) "
            "SELECT device_id, 0, NULL, received, min_seq, max_seq FROM delivery_accounts "
            "WHERE min_seq IS NOT NULL AND max_seq IS NOT NULL AND max_seq - min_seq < :j"
        ),
        {"j": MAX_JUMP},
    )
    conn.execute(
        sa.text(
            "UPDATE delivery_accounts SET epoch = 0, span = max_seq - min_seq + 1 "
            "WHERE min_seq IS NOT NULL AND max_seq IS NOT NULL AND max_seq - min_seq < :j"
        ),
        {"j": MAX_JUMP},
    )
    wide = conn.execute(
        sa.text(
            "SELECT device_id FROM delivery_accounts "
            "WHERE min_seq IS NOT NULL AND max_seq IS NOT NULL AND max_seq - min_seq >= :j"
        ),
        {"j": MAX_JUMP},
    ).scalars()
    for dev in list(wide):
        _split(conn, dev)


def _split(conn: sa.Connection, dev: str) -> None:
    rows = conn.execute(
        sa.text(
            "SELECT seq, MAX(ts_ms) FROM readings WHERE device_id = :d GROUP BY seq ORDER BY seq"
        ),
        {"d": dev},
    ).tuples()
    groups: list[list[int]] = []  # [min_seq, max_seq, received, latest ts]
    for seq, ts in rows:
        if groups and seq - groups[-1][1] <= MAX_JUMP:
            g = groups[-1]
            g[1], g[2], g[3] = seq, g[2] + 1, max(g[3], ts)
        else:
            groups.append([seq, seq, 1, ts])
    cur = max(range(len(groups)), key=lambda i: groups[i][3], default=None)
    # Like the ingest, keep only the recent epochs' rows (and the low end's and the current);
    # the readings of the others stay in epoch 0, where their (device, seq, key) was unique.
    kept = {0, cur, *range(len(groups) - KEPT_EPOCHS, len(groups))} & set(range(len(groups)))
    for n in sorted(kept):
        lo, hi, received, _ = groups[n]
        conn.execute(
            sa.text(
                "INSERT INTO delivery_epochs (device_id, epoch, boot, received, min_seq, max_seq) "
                "VALUES (:d, :n, NULL, :r, :lo, :hi)"
            ),
            {"d": dev, "n": n, "r": received, "lo": lo, "hi": hi},
        )
        if n:
            conn.execute(
                sa.text(
                    "UPDATE readings SET epoch = :n "
                    "WHERE device_id = :d AND seq >= :lo AND seq <= :hi"
                ),
                {"d": dev, "n": n, "lo": lo, "hi": hi},
            )
    # No readings left (purged): the account starts over with the device's next message.
    conn.execute(
        sa.text(
            "UPDATE delivery_accounts SET epoch = :n, span = :span, restarts = :restarts, "
            "min_seq = :lo, max_seq = :hi WHERE device_id = :d"
        ),
        {
            "d": dev,
            "n": cur,
            "span": sum(g[1] - g[0] + 1 for g in groups),
            "restarts": max(len(groups) - 1, 0),
            "lo": None if cur is None else groups[cur][0],
            "hi": None if cur is None else groups[cur][1],
        },
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
