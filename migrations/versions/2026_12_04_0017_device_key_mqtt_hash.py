"""Device keys are broker logins too: each key's Mosquitto password hash

Revision ID: 0017_device_key_mqtt_hash
Revises: 0013_waste_truck_positions
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_device_key_mqtt_hash"
down_revision = "0013_waste_truck_positions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_credentials") as t:
        t.add_column(sa.Column("mqtt_hash", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_credentials") as t:
        t.drop_column("mqtt_hash")
