"""iTrash collection planning: trucks, plan versions and their stops

Revision ID: 0010_waste_plans
Revises: 0009_waste_overflow
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_waste_plans"
down_revision = "0009_waste_overflow"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "waste_trucks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("depot_name", sa.String(length=100), nullable=False),
        sa.Column("depot_lon", sa.Float(), nullable=False),
        sa.Column("depot_lat", sa.Float(), nullable=False),
        sa.Column("capacity_kg", sa.Float(), nullable=False),
        sa.Column("capacity_m3", sa.Float(), nullable=False),
        sa.Column("shift_start", sa.String(length=5), nullable=False),
        sa.Column("shift_end", sa.String(length=5), nullable=False),
        sa.Column("crew", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_waste_trucks_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waste_trucks")),
    )
    op.create_index(op.f("ix_waste_trucks_department_code"), "waste_trucks", ["department_code"])
    op.create_index(op.f("ix_waste_trucks_crew"), "waste_trucks", ["crew"])
    op.create_table(
        "waste_plans",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", Time, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("solve_s", sa.Float(), nullable=False),
        sa.Column("distance_m", sa.BigInteger(), nullable=False),
        sa.Column("travel", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_waste_plans_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waste_plans")),
        sa.UniqueConstraint("department_code", "day", "version", name="uq_waste_plans_version"),
    )
    op.create_index(op.f("ix_waste_plans_department_code"), "waste_plans", ["department_code"])
    op.create_index(op.f("ix_waste_plans_day"), "waste_plans", ["day"])
    op.create_index(op.f("ix_waste_plans_status"), "waste_plans", ["status"])
    op.create_table(
        "waste_plan_stops",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("plan_id", BigId, nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("truck_id", sa.String(length=32), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("prize_m", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("kg", sa.Float(), nullable=False),
        sa.Column("m3", sa.Float(), nullable=False),
        sa.Column("service_s", sa.Integer(), nullable=False),
        sa.Column("window_start_s", sa.Integer(), nullable=True),
        sa.Column("window_end_s", sa.Integer(), nullable=True),
        sa.Column("arrive_at", Time, nullable=True),
        sa.Column("start_at", Time, nullable=True),
        sa.Column("depart_at", Time, nullable=True),
        sa.Column("load_kg", sa.Float(), nullable=True),
        sa.Column("load_m3", sa.Float(), nullable=True),
        sa.Column("served_at", Time, nullable=True),
        sa.Column("served_by", sa.String(length=64), nullable=True),
        sa.Column("job_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["waste_plans.id"], name=op.f("fk_waste_plan_stops_plan_id_waste_plans")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["devices.id"], name=op.f("fk_waste_plan_stops_station_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["truck_id"],
            ["waste_trucks.id"],
            name=op.f("fk_waste_plan_stops_truck_id_waste_trucks"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["waste_jobs.id"], name=op.f("fk_waste_plan_stops_job_id_waste_jobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waste_plan_stops")),
    )
    op.create_index(op.f("ix_waste_plan_stops_plan_id"), "waste_plan_stops", ["plan_id"])


def downgrade() -> None:
    op.drop_table("waste_plan_stops")
    op.drop_table("waste_plans")
    op.drop_table("waste_trucks")
