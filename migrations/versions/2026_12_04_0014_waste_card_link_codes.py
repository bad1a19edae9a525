"""Card linking needs proof of holding the card: stations' link codes (hashed), the counter of
the transaction that made the latest link, and a log of link attempts the throttle counts

Revision ID: 0014_waste_card_link_codes
Revises: 0019_login_throttle
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_waste_card_link_codes"
down_revision = "0019_login_throttle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("waste_txns") as t:
        t.add_column(sa.Column("link_code_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("waste_cards") as t:
        t.add_column(sa.Column("link_counter", sa.BigInteger(), nullable=True))
    op.create_table(
        "waste_card_links",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.String(length=32), nullable=False),
        sa.Column("what", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_waste_card_links_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waste_card_links")),
    )
    with op.batch_alter_table("waste_card_links") as t:
        t.create_index("ix_waste_card_links_user", ["user_id", "what", "at"], unique=False)
        t.create_index("ix_waste_card_links_card", ["card_id", "what", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("waste_card_links")
    with op.batch_alter_table("waste_cards") as t:
        t.drop_column("link_counter")
    with op.batch_alter_table("waste_txns") as t:
        t.drop_column("link_code_hash")
