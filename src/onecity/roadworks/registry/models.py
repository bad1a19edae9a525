"""RPIC's registry tables: the organisations that dig and their staff, the fee table's versions,
dig bans, embargoes and contractors' penalties. Penalties are append-only: a correction is a new
row. Every roadworks table's big integer id is `BigId` (an INTEGER on SQLite, so it is the
rowid and autoincrements there)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from onecity.core.db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class RoadOrg(Base):
    """A utility (water, power, gas, telecom…), a contractor or a city agency that digs."""

    __tablename__ = "roadworks_orgs"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # utility | contractor | agency
    utility_kind: Mapped[str | None] = mapped_column(String(16))  # water, gas, … for utilities
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoadOrgMember(Base):
    """A login that acts for an organisation: files its permits, answers its locate requests."""

    __tablename__ = "roadworks_org_members"

    org_code: Mapped[str] = mapped_column(ForeignKey("roadworks_orgs.code"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class FeeSchedule(Base):
    """A version of the fee table; a permit is charged by the version valid on its filing day."""

    __tablename__ = "roadworks_fee_tables"

    version: Mapped[str] = mapped_column(String(16), primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, unique=True)
    base: Mapped[int] = mapped_column(Integer)
    daily: Mapped[dict[str, int]] = mapped_column(JSON)
    restoration: Mapped[list[Any]] = mapped_column(JSON)  # [[max width m or null, NT$/m²], …]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))


class DigBanRow(Base):
    """A newly paved or resurfaced road that may not be dug until `paved_on` + `years`."""

    __tablename__ = "roadworks_dig_bans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    road: Mapped[str] = mapped_column(String(120), index=True)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    paved_on: Mapped[date] = mapped_column(Date)
    years: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    minx: Mapped[float | None] = mapped_column(Float)
    miny: Mapped[float | None] = mapped_column(Float)
    maxx: Mapped[float | None] = mapped_column(Float)
    maxy: Mapped[float | None] = mapped_column(Float)


class EmbargoRow(Base):
    """Days nobody digs (holidays, exams, events), city-wide or in an area."""

    __tablename__ = "roadworks_embargoes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # holiday | exam | event
    start_date: Mapped[date] = mapped_column(Date, index=True)
    end_date: Mapped[date] = mapped_column(Date)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PenaltyRow(Base):
    """A breach by a contractor, with its points and fine. A correction is a new row that
    names the one it voids (`voids`)."""

    __tablename__ = "roadworks_penalties"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contractor_code: Mapped[str] = mapped_column(ForeignKey("roadworks_orgs.code"), index=True)
    permit_id: Mapped[int | None] = mapped_column(ForeignKey("roadworks_permits.id"))
    breach: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(Integer)
    fine_twd: Mapped[int] = mapped_column(Integer)
    on_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    voids: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(64))
