"""RPIC road works: permits and their steps, fee tables, dig bans, embargoes, the 3D pipe
registry, locate requests, site cameras and photos, contractor penalties; and the spatial
indexes (an R*Tree kept by triggers on SQLite, GiST on PostgreSQL).

Revision ID: 0012_roadworks
Revises: 0011_waste_sim_reports
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_roadworks"
down_revision = "0011_waste_sim_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roadworks_dig_bans",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("road", sa.String(length=120), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=True),
        sa.Column("paved_on", sa.Date(), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("minx", sa.Float(), nullable=True),
        sa.Column("miny", sa.Float(), nullable=True),
        sa.Column("maxx", sa.Float(), nullable=True),
        sa.Column("maxy", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadworks_dig_bans")),
    )
    with op.batch_alter_table("roadworks_dig_bans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roadworks_dig_bans_road"), ["road"], unique=False)

    op.create_table(
        "roadworks_embargoes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadworks_embargoes")),
    )
    with op.batch_alter_table("roadworks_embargoes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roadworks_embargoes_start_date"), ["start_date"], unique=False
        )

    op.create_table(
        "roadworks_fee_tables",
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("base", sa.Integer(), nullable=False),
        sa.Column("daily", sa.JSON(), nullable=False),
        sa.Column("restoration", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_roadworks_fee_tables")),
        sa.UniqueConstraint("valid_from", name=op.f("uq_roadworks_fee_tables_valid_from")),
    )
    op.create_table(
        "roadworks_orgs",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("utility_kind", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_roadworks_orgs")),
    )
    op.create_table(
        "roadworks_org_members",
        sa.Column("org_code", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_code"],
            ["roadworks_orgs.code"],
            name=op.f("fk_roadworks_org_members_org_code_roadworks_orgs"),
        ),
        sa.PrimaryKeyConstraint("org_code", "username", name=op.f("pk_roadworks_org_members")),
    )
    with op.batch_alter_table("roadworks_org_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roadworks_org_members_username"), ["username"], unique=False
        )

    op.create_table(
        "roadworks_permits",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ref", sa.String(length=24), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("applicant_code", sa.String(length=32), nullable=False),
        sa.Column("contractor_code", sa.String(length=32), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("road", sa.String(length=120), nullable=True),
        sa.Column("road_class", sa.String(length=16), nullable=False),
        sa.Column("width_m", sa.Float(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("depth_m", sa.Float(), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("district", sa.String(length=16), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("night", sa.Boolean(), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("residential", sa.Boolean(), nullable=False),
        sa.Column("hours", sa.String(length=120), nullable=False),
        sa.Column("traffic_plan", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decide_by", sa.Date(), nullable=False),
        sa.Column("fee_total", sa.Integer(), nullable=False),
        sa.Column("fee_version", sa.String(length=16), nullable=False),
        sa.Column("fee_lines", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("joint_group", sa.String(length=24), nullable=True),
        sa.Column("dig_order", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minx", sa.Float(), nullable=False),
        sa.Column("miny", sa.Float(), nullable=False),
        sa.Column("maxx", sa.Float(), nullable=False),
        sa.Column("maxy", sa.Float(), nullable=False),
        sa.Column("start_day", sa.Integer(), nullable=False),
        sa.Column("end_day", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["applicant_code"],
            ["roadworks_orgs.code"],
            name=op.f("fk_roadworks_permits_applicant_code_roadworks_orgs"),
        ),
        sa.ForeignKeyConstraint(
            ["contractor_code"],
            ["roadworks_orgs.code"],
            name=op.f("fk_roadworks_permits_contractor_code_roadworks_orgs"),
        ),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_roadworks_permits_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadworks_permits")),
        sa.UniqueConstraint("ref", name=op.f("uq_roadworks_permits_ref")),
    )
    with op.batch_alter_table("roadworks_permits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roadworks_permits_applicant_code"), ["applicant_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_roadworks_permits_contractor_code"), ["contractor_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_roadworks_permits_end_date"), ["end_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_roadworks_permits_joint_group"), ["joint_group"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_roadworks_permits_start_date"), ["start_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_roadworks_permits_status"), ["status"], unique=False)

    op.create_table(
        "roadworks_pipes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("owner_code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("diameter_mm", sa.Integer(), nullable=False),
        sa.Column("material", sa.String(length=32), nullable=False),
        sa.Column("year_laid", sa.Integer(), nullable=True),
        sa.Column("survey", sa.String(length=32), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=False),
        sa.Column("depth_start_m", sa.Float(), nullable=False),
        sa.Column("depth_end_m", sa.Float(), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaced_by", sa.BigInteger(), nullable=True),
        sa.Column("source_permit_id", sa.BigInteger(), nullable=True),
        sa.Column("minx", sa.Float(), nullable=False),
        sa.Column("miny", sa.Float(), nullable=False),
        sa.Column("maxx", sa.Float(), nullable=False),
        sa.Column("maxy", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_code"],
            ["roadworks_orgs.code"],
            name=op.f("fk_roadworks_pipes_owner_code_roadworks_orgs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadworks_pipes")),
    )
    with op.batch_alter_table("roadworks_pipes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roadworks_pipes_owner_code"), ["owner_code"], unique=False
        )

    op.create_table(
        "roadworks_cameras",
        sa.Column(
            "permit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("last_frame_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["permit_id"],
            ["roadworks_permits.id"],
            name=op.f("fk_roadworks_cameras_permit_id_roadworks_permits"),
        ),
        sa.PrimaryKeyConstraint("permit_id", name=op.f("pk_roadworks_cameras")),
    )
    op.create_table(
        "roadworks_locates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "permit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("owner_code", sa.String(length=32), nullable=False),
        sa.Column("pipe_ids", sa.JSON(), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_by", sa.Date(), nullable=False),
        sa.Column("response", sa.String(length=16), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_code"],
            ["roadworks_orgs.code"],
            name=op.f("fk_roadworks_locates_owner_code_roadworks_orgs"),
        ),
        sa.ForeignKeyConstraint(
            ["permit_id"],
            ["roadworks_permits.id"],
            name=op.f("fk_roadworks_locates_permit_id_roadworks_permits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadworks_locates")),
        sa.UniqueConstraint("permit_id", "owner_code", name="uq_roadworks_locate"),
    )
    with op.batch_alter_table("roadworks_locates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roadworks_locates_owner_code"), ["owner_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_roadworks_locates_permit_id"), ["permit_id"], unique=False
        )

    op.create_table(
        "roadworks_penalties",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("contractor_code", sa.String(length=32), nullable=False),
        sa.Column("permit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("breach", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("fine_twd", sa.Integer(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("voids", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_code"],
            ["roadworks_orgs.code"],
            name=op.f("fk_roadworks_penalties_contractor_code_roadworks_orgs"),
        ),
        sa.ForeignKeyConstraint(
            ["permit_id"],
            ["roadworks_permits.id"],
            name=op.f("fk_roadworks_penalties_permit_id_roadworks_permits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadworks_penalties")),
    )
    with op.batch_alter_table("roadworks_penalties", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roadworks_penalties_contractor_code"), ["contractor_code"], unique=False
        )

    op.create_table(
        "roadworks_permit_steps",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "permit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["permit_id"],
            ["roadworks_permits.id"],
            name=op.f("fk_roadworks_permit_steps_permit_id_roadworks_permits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadworks_permit_steps")),
    )
    with op.batch_alter_table("roadworks_permit_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roadworks_permit_steps_permit_id"), ["permit_id"], unique=False
        )

    op.create_table(
        "roadworks_photos",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "permit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("media_id", sa.String(length=64), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_roadworks_photos_media_id_media")
        ),
        sa.ForeignKeyConstraint(
            ["permit_id"],
            ["roadworks_permits.id"],
            name=op.f("fk_roadworks_photos_permit_id_roadworks_permits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadworks_photos")),
        sa.UniqueConstraint("permit_id", "stage", "media_id", name="uq_roadworks_photo"),
    )
    with op.batch_alter_table("roadworks_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roadworks_photos_permit_id"), ["permit_id"], unique=False
        )

    _spatial_up()


def downgrade() -> None:
    _spatial_down()
    with op.batch_alter_table("roadworks_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadworks_photos_permit_id"))

    op.drop_table("roadworks_photos")
    with op.batch_alter_table("roadworks_permit_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadworks_permit_steps_permit_id"))

    op.drop_table("roadworks_permit_steps")
    with op.batch_alter_table("roadworks_penalties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadworks_penalties_contractor_code"))

    op.drop_table("roadworks_penalties")
    with op.batch_alter_table("roadworks_locates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadworks_locates_permit_id"))
        batch_op.drop_index(batch_op.f("ix_roadworks_locates_owner_code"))

    op.drop_table("roadworks_locates")
    op.drop_table("roadworks_cameras")
    with op.batch_alter_table("roadworks_pipes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadworks_pipes_owner_code"))

    op.drop_table("roadworks_pipes")
    with op.batch_alter_table("roadworks_permits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadworks_permits_status"))
        batch_op.drop_index(batch_op.f("ix_roadworks_permits_start_date"))
        batch_op.drop_index(batch_op.f("ix_roadworks_permits_joint_group"))
        batch_op.drop_index(batch_op.f("ix_roadworks_permits_end_date"))
        batch_op.drop_index(batch_op.f("ix_roadworks_permits_contractor_code"))
        batch_op.drop_index(batch_op.f("ix_roadworks_permits_applicant_code"))

    op.drop_table("roadworks_permits")
    with op.batch_alter_table("roadworks_org_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadworks_org_members_username"))

    op.drop_table("roadworks_org_members")
    op.drop_table("roadworks_orgs")
    op.drop_table("roadworks_fee_tables")
    with op.batch_alter_table("roadworks_embargoes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadworks_embargoes_start_date"))

    op.drop_table("roadworks_embargoes")
    with op.batch_alter_table("roadworks_dig_bans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roadworks_dig_bans_road"))

    op.drop_table("roadworks_dig_bans")


# The R*Tree (SQLite) indexes each box and, for permits, its days; triggers keep it equal to the
# table, so no code path can forget it. PostgreSQL indexes the same boxes with GiST (built in,
# no extension needed; a PostGIS city can swap in geometry columns behind spatial.py).
_RTREES = {
    "roadworks_permits": (
        "roadworks_permit_rtree",
        ("minx", "maxx", "miny", "maxy", "start_day", "end_day"),
    ),
    "roadworks_pipes": ("roadworks_pipe_rtree", ("minx", "maxx", "miny", "maxy")),
}


def _spatial_up() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table, (rtree, cols) in _RTREES.items():
            names = ", ".join(cols)
            news = ", ".join(f"new.{c}" for c in cols)
            sets = ", ".join(f"{c} = new.{c}" for c in cols)
            op.execute(f"CREATE VIRTUAL TABLE {rtree} USING rtree(id, {names})")
            op.execute(
                f"CREATE TRIGGER {rtree}_ins AFTER INSERT ON {table} BEGIN "  # noqa: S608 - our own table names
                f"INSERT INTO {rtree} (id, {names}) VALUES (new.id, {news}); END"
            )
            op.execute(
                f"CREATE TRIGGER {rtree}_upd AFTER UPDATE OF {names} ON {table} BEGIN "  # noqa: S608 - our own table names
                f"UPDATE {rtree} SET {sets} WHERE id = new.id; END"
            )
            op.execute(
                f"CREATE TRIGGER {rtree}_del AFTER DELETE ON {table} BEGIN "  # noqa: S608 - our own table names
                f"DELETE FROM {rtree} WHERE id = old.id; END"
            )
    else:
        for table in ("roadworks_permits", "roadworks_pipes", "roadworks_dig_bans"):
            op.execute(
                f"CREATE INDEX ix_{table}_box ON {table} "
                "USING gist (box(point(minx, miny), point(maxx, maxy)))"
            )


def _spatial_down() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for _table, (rtree, _cols) in _RTREES.items():
            for suffix in ("ins", "upd", "del"):
                op.execute(f"DROP TRIGGER IF EXISTS {rtree}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {rtree}")
    else:
        for table in ("roadworks_permits", "roadworks_pipes", "roadworks_dig_bans"):
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_box")
