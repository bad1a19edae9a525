"""The spatial index queries: which permits and pipes have a box near a given box. SQLite
answers from its R*Tree (kept equal to the tables by triggers, migration 0012), PostgreSQL
from a GiST index over the same boxes. Boxes are in the city's projected metres. What comes
back is candidates: the exact distance and depth checks are the pure rules' job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from onecity.roadworks.permits.models import Permit
from onecity.roadworks.pipes.models import PipeRow
from onecity.roadworks.registry.models import DigBanRow

# Tables the migration makes that no model describes (the R*Trees and SQLite's shadow tables).
INDEX_TABLES = tuple(
    f"{rtree}{suffix}"
    for rtree in ("roadworks_permit_rtree", "roadworks_pipe_rtree")
    for suffix in ("", "_node", "_parent", "_rowid")
)

# PostgreSQL's GiST indexes over expressions (box(...)), which no model column can describe.
INDEX_NAMES = tuple(
    f"ix_{t}_box" for t in ("roadworks_permits", "roadworks_pipes", "roadworks_dig_bans")
)

Box = tuple[float, float, float, float]  # minx, miny, maxx, maxy


def grow(box: Box, by: float) -> Box:
    return box[0] - by, box[1] - by, box[2] + by, box[3] + by


def _ids(s: Session, sql: str, params: dict[str, Any]) -> list[int]:
    return [int(r[0]) for r in s.execute(text(sql), params)]


def permit_ids_near(s: Session, box: Box, first_day: int, last_day: int) -> list[int]:
    """Permits whose box meets `box` and whose days meet [first_day, last_day]."""
    p = {"x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3], "d0": first_day, "d1": last_day}
    if s.get_bind().dialect.name == "sqlite":
        return _ids(
            s,
            "SELECT id FROM roadworks_permit_rtree WHERE minx <= :x1 AND maxx >= :x0 "
            "AND miny <= :y1 AND maxy >= :y0 AND start_day <= :d1 AND end_day >= :d0",
            p,
        )
    return _ids(
        s,
        "SELECT id FROM roadworks_permits WHERE box(point(minx, miny), point(maxx, maxy)) "
        "&& box(point(:x0, :y0), point(:x1, :y1)) AND start_day <= :d1 AND end_day >= :d0",
        p,
    )


def pipe_ids_near(s: Session, box: Box) -> list[int]:
    """Pipes in service (not retired) whose box meets `box`."""
    p = {"x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]}
    if s.get_bind().dialect.name == "sqlite":
        return _ids(
            s,
            "SELECT r.id FROM roadworks_pipe_rtree r JOIN roadworks_pipes p ON p.id = r.id "
            "WHERE r.minx <= :x1 AND r.maxx >= :x0 AND r.miny <= :y1 AND r.maxy >= :y0 "
            "AND p.retired_at IS NULL",
            p,
        )
    return _ids(
        s,
        "SELECT id FROM roadworks_pipes WHERE box(point(minx, miny), point(maxx, maxy)) "
        "&& box(point(:x0, :y0), point(:x1, :y1)) AND retired_at IS NULL",
        p,
    )


def permits(s: Session, ids: Sequence[int]) -> list[Permit]:
    if not ids:
        return []
    return list(s.query(Permit).filter(Permit.id.in_(ids)).all())


def pipes(s: Session, ids: Sequence[int]) -> list[PipeRow]:
    if not ids:
        return []
    return list(s.query(PipeRow).filter(PipeRow.id.in_(ids)).all())


def dig_bans_near(s: Session, box: Box, road: str | None) -> list[DigBanRow]:
    """Bans whose box meets `box`, and bans given by road name only for this road. PostgreSQL
    answers the boxes from its GiST index; SQLite compares the boxes (a city has hundreds of
    bans, not millions)."""
    p = {"x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3], "road": road or ""}
    if s.get_bind().dialect.name == "sqlite":
        sql = (
            "SELECT id FROM roadworks_dig_bans WHERE (minx <= :x1 AND maxx >= :x0 "
            "AND miny <= :y1 AND maxy >= :y0) OR (minx IS NULL AND road = :road)"
        )
    else:
        sql = (
            "SELECT id FROM roadworks_dig_bans WHERE box(point(minx, miny), point(maxx, maxy)) "
            "&& box(point(:x0, :y0), point(:x1, :y1)) "
            "UNION SELECT id FROM roadworks_dig_bans WHERE minx IS NULL AND road = :road"
        )
    ids = _ids(s, sql, p)
    if not ids:
        return []
    return list(s.query(DigBanRow).filter(DigBanRow.id.in_(ids)).all())
