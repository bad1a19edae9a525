"""alert rules belong to a department (NULL: city-wide)

A department's rule must never raise alerts on another department's devices.

Revision ID: 0002_rule_department
Revises: 0001_core
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_rule_department"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_code", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_alert_rules_department_code_departments"),
            "departments",
            ["department_code"],
            ["code"],
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_alert_rules_department_code_departments"), type_="foreignkey"
        )
        batch_op.drop_column("department_code")
