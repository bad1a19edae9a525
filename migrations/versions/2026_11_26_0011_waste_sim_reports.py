"""iTrash collection simulation reports for the dashboard

Revision ID: 0011_waste_sim_reports
Revises: 0010_waste_plans
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_waste_sim_reports"
down_revision = "0010_waste_plans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waste_sim_reports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("charts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_waste_sim_reports_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waste_sim_reports")),
    )
    op.create_index(
        op.f("ix_waste_sim_reports_created_at"), "waste_sim_reports", ["created_at"]
    )


def downgrade() -> None:
    op.drop_table("waste_sim_reports")
