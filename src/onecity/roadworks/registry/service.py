"""RPIC's books besides the permits: dig bans on resurfaced roads, embargo periods, the
versioned fee table and contractors' penalties. Each write is one unit of work with its audit
record. Fee tables and penalties are append-only: a new fee version never edits an old one,
and a penalty is corrected by a new row that voids it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onecity.core import audit
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.errors import Conflict, Forbidden, Invalid
from onecity.core.platform import Platform
from onecity.roadworks.permits import checks
from onecity.roadworks.permits.models import Permit
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.registry import geo as registry_geo
from onecity.roadworks.registry import penalty_book, views
from onecity.roadworks.registry import schemas as rs
from onecity.roadworks.registry.models import (
    DigBanRow,
    EmbargoRow,
    FeeSchedule,
    PenaltyRow,
    RoadOrg,
)
from onecity.roadworks.rules import penalties

ROAD_CLASSES = ("narrow", "wide", "congested")


def seed_reference(platform: Platform) -> bool:
    """Put the default fee table (Taipei 2026) on the books unless it is there; True if added."""
    with platform.db.session() as s:
        return _ensure_default_fees(s)


def _ensure_default_fees(s: Session) -> bool:
    if s.get(FeeSchedule, checks.DEFAULT_FEES.version) is not None:
        return False
    t = checks.DEFAULT_FEES
    s.add(
        FeeSchedule(
            version=t.version,
            valid_from=t.valid_from,
            base=t.base,
            daily=dict(t.daily),
            restoration=[[None if w == float("inf") else w, r] for w, r in t.restoration],
            created_by="system",
        )
    )
    s.flush()
    return True


class RegistryService:
    def __init__(self, permits: PermitService) -> None:
        self.permits = permits
        self.db = permits.db
        self.city = permits.city

    def _rpic(self, who: Principal) -> None:
        require(who, Perm.ROADWORKS_ASSESS)
        if not self.permits.is_assessor(who):
            raise Forbidden(f"this is kept by department '{self.permits.config.department}'")

    @staticmethod
    def _reader(who: Principal) -> None:
        if not (who.can(Perm.ROADWORKS_READ) or who.can(Perm.ROADWORKS_APPLY)):
            raise Forbidden("RPIC's registry is for RPIC's and the utilities' staff")

    # --- dig bans --------------------------------------------------------------------------

    def add_ban(self, who: Principal, body: rs.DigBanIn, source: str) -> rs.DigBanOut:
        self._rpic(who)
        if body.paved_on > self.permits.today():
            raise Invalid(
                "paved_on is a day the road was paved, not a future one", field="paved_on"
            )
        area = None
        if body.geometry is not None:
            area = registry_geo.parse_area(
                self.city, body.geometry, crs=body.crs, field="geometry", line_width_m=body.width_m
            )
        with self.db.session() as s:
            row = DigBanRow(
                road=body.road.strip(),
                geometry=area.wgs84 if area else None,
                paved_on=body.paved_on,
                years=body.years,
                note=body.note,
            )
            if area is not None:
                row.minx, row.miny, row.maxx, row.maxy = area.box
            s.add(row)
            s.flush()
            self._audit(s, who, "dig_ban.add", f"roadworks_dig_ban/{row.id}", source, body.road)
            return views.ban_out(row)

    def bans(self, who: Principal, active_only: bool) -> list[rs.DigBanOut]:
        self._reader(who)
        today = self.permits.today()
        with self.db.read() as s:
            rows = s.scalars(select(DigBanRow).order_by(DigBanRow.paved_on.desc())).all()
            out = [views.ban_out(b) for b in rows]
        return [b for b in out if b.until > today] if active_only else out

    # --- embargoes -------------------------------------------------------------------------

    def add_embargo(self, who: Principal, body: rs.EmbargoIn, source: str) -> rs.EmbargoOut:
        self._rpic(who)
        if body.end_date < body.start_date:
            raise Invalid("the embargo ends before it starts", field="end_date")
        if (body.end_date - body.start_date).days > 366:
            raise Invalid("an embargo lasts at most a year; add another one", field="end_date")
        area = None
        if body.area is not None:
            area = registry_geo.parse_area(self.city, body.area, crs=body.crs, field="area")
        with self.db.session() as s:
            row = EmbargoRow(
                name_zh=body.name_zh,
                name_en=body.name_en,
                kind=body.kind,
                start_date=body.start_date,
                end_date=body.end_date,
                geometry=area.wgs84 if area else None,
            )
            s.add(row)
            s.flush()
            self._audit(s, who, "embargo.add", f"roadworks_embargo/{row.id}", source, body.name_en)
            return views.embargo_out(row)

    def embargoes(self, who: Principal, upcoming_only: bool) -> list[rs.EmbargoOut]:
        self._reader(who)
        with self.db.read() as s:
            q = select(EmbargoRow).order_by(EmbargoRow.start_date)
            if upcoming_only:
                q = q.where(EmbargoRow.end_date >= self.permits.today())
            return [views.embargo_out(e) for e in s.scalars(q).all()]

    # --- fee tables ------------------------------------------------------------------------

    def fee_tables(self) -> list[rs.FeeTableOut]:
        """Every version, oldest first (the fee table is public)."""
        with self.db.read() as s:
            rows = s.scalars(select(FeeSchedule).order_by(FeeSchedule.valid_from)).all()
            if not rows:  # nothing on the books yet: permits are charged by the default
                t = checks.DEFAULT_FEES
                return [
                    rs.FeeTableOut(
                        version=t.version,
                        valid_from=t.valid_from,
                        base=t.base,
                        daily=dict(t.daily),
                        restoration=[
                            [None if w == float("inf") else w, r] for w, r in t.restoration
                        ],
                        created_at=None,
                        created_by="system",
                    )
                ]
            return [views.fee_out(t) for t in rows]

    def add_fee_table(self, who: Principal, body: rs.FeeTableIn, source: str) -> rs.FeeTableOut:
        """A new version from `valid_from`, after every existing one: permits filed from that
        day are charged by it, earlier ones keep the version they were quoted."""
        self._rpic(who)
        missing = [c for c in ROAD_CLASSES if c not in body.daily]
        if missing:
            raise Invalid(f"daily needs a rate for every road class: {missing}", field="daily")
        widths = [w for w, _ in body.restoration]
        if widths[-1] is not None or any(w is None for w in widths[:-1]):
            raise Invalid(
                "the last restoration band is [null, rate] (any wider trench), and only the last",
                field="restoration",
            )
        bounded = [w for w in widths if w is not None]
        if bounded != sorted(set(bounded)):
            raise Invalid("restoration bands go from the narrowest up", field="restoration")
        if body.valid_from < self.permits.today():
            raise Invalid(
                "a new fee version starts today or later: permits filed before today were "
                "quoted by the table then in force",
                field="valid_from",
            )
        with self.db.session() as s:
            _ensure_default_fees(s)
            if s.get(FeeSchedule, body.version) is not None:
                raise Conflict(f"fee version '{body.version}' exists already", code="fee_exists")
            latest = s.scalar(select(func.max(FeeSchedule.valid_from)))
            if latest is not None and body.valid_from <= latest:
                raise Conflict(
                    f"a new version must start after {latest.isoformat()}, when the newest "
                    "one does",
                    code="fee_order",
                    field="valid_from",
                )
            row = FeeSchedule(
                version=body.version,
                valid_from=body.valid_from,
                base=body.base,
                daily={c: int(body.daily[c]) for c in ROAD_CLASSES},  # type: ignore[index]
                restoration=[[w, r] for w, r in body.restoration],
                created_by=who.username,
            )
            s.add(row)
            s.flush()
            self._audit(s, who, "fees.add", f"roadworks_fees/{row.version}", source, row.version)
            return views.fee_out(row)

    # --- penalties -------------------------------------------------------------------------

    def record_penalty(self, who: Principal, body: rs.PenaltyIn, source: str) -> rs.PenaltyRecorded:
        self._rpic(who)
        if body.on_date > self.permits.today():
            raise Invalid("on_date is the day of the breach, not a future one", field="on_date")
        with self.db.session() as s:
            org = s.get(RoadOrg, body.contractor)
            if org is None or org.kind != "contractor":
                raise Invalid(
                    f"'{body.contractor}' is not a registered contractor", field="contractor"
                )
            permit_id = self._permit_id(s, body)
            if body.voids is not None:
                row = self._void(s, who, body, permit_id)
            else:
                row = self._breach(who, body, permit_id)
            s.add(row)
            s.flush()
            audit.append(
                s,
                actor=who.username,
                action="roadworks.penalty.void" if body.voids else "roadworks.penalty.add",
                target=f"roadworks_penalty/{row.id}",
                source=source,
                detail={
                    "contractor": row.contractor_code,
                    "breach": row.breach,
                    "points": row.points,
                    "fine_twd": row.fine_twd,
                    "voids": row.voids,
                },
            )
            points, bar = penalty_book.standing(s, org.code, self.permits.today())
            out = views.penalty_out(s, row, None)
            return rs.PenaltyRecorded(
                **out.model_dump(), standing_points=points, barred_until=bar[1] if bar else None
            )

    @staticmethod
    def _permit_id(s: Session, body: rs.PenaltyIn) -> int | None:
        if body.permit_ref is None:
            return None
        p = s.scalars(select(Permit).where(Permit.ref == body.permit_ref)).first()
        if p is None:
            raise Invalid(f"no permit {body.permit_ref}", field="permit_ref")
        if body.contractor not in (p.contractor_code, p.applicant_code):
            raise Invalid(
                f"{p.ref} was not dug by '{body.contractor}' (its contractor is "
                f"{p.contractor_code or 'not named'})",
                field="permit_ref",
            )
        return p.id

    @staticmethod
    def _breach(who: Principal, body: rs.PenaltyIn, permit_id: int | None) -> PenaltyRow:
        if body.breach is None or body.breach not in penalties.BREACHES:
            raise Invalid(f"breach must be one of {', '.join(penalties.BREACHES)}", field="breach")
        if body.fine_twd is None:
            raise Invalid("give the fine in NT$ (fine_twd)", field="fine_twd")
        try:
            penalties.check_fine(body.fine_twd)
        except ValueError as e:
            raise Invalid(f"{e} (市區道路條例 §33)", field="fine_twd") from None
        return PenaltyRow(
            contractor_code=body.contractor,
            permit_id=permit_id,
            breach=body.breach,
            points=penalties.BREACHES[body.breach].points,
            fine_twd=body.fine_twd,
            on_date=body.on_date,
            note=body.note,
            voids=None,
            recorded_by=who.username,
        )

    @staticmethod
    def _void(s: Session, who: Principal, body: rs.PenaltyIn, permit_id: int | None) -> PenaltyRow:
        old = s.get(PenaltyRow, body.voids, with_for_update=True)
        if old is None or old.contractor_code != body.contractor:
            raise Invalid(f"'{body.contractor}' has no penalty {body.voids}", field="voids")
        if old.voids is not None:
            raise Conflict(f"penalty {old.id} is itself a correction", field="voids")
        done = s.scalar(select(PenaltyRow.id).where(PenaltyRow.voids == old.id))
        if done is not None:
            raise Conflict(f"penalty {old.id} was voided by {done} already", field="voids")
        if not body.note.strip():
            raise Invalid("say why the penalty is voided", field="note")
        if body.breach is not None or body.fine_twd is not None:
            raise Invalid(
                "a correction only voids; record the right breach as a new penalty",
                field="breach" if body.breach is not None else "fine_twd",
            )
        return PenaltyRow(
            contractor_code=old.contractor_code,
            permit_id=permit_id or old.permit_id,
            breach=old.breach,
            points=old.points,
            fine_twd=old.fine_twd,
            on_date=body.on_date,
            note=body.note,
            voids=old.id,
            recorded_by=who.username,
        )

    def penalties(self, who: Principal, contractor: str | None) -> list[rs.PenaltyOut]:
        """Penalties, newest first: all of them for RPIC, a contractor's own for its staff."""
        with self.db.read() as s:
            q = select(PenaltyRow).order_by(PenaltyRow.id.desc()).limit(1000)
            dept = self.permits.config.department
            if not (who.can(Perm.ROADWORKS_READ) and who.sees_department(dept)):
                require(who, Perm.ROADWORKS_APPLY)
                mine = self.permits.orgs_of(s, who)
                if contractor is not None and contractor not in mine:
                    raise Forbidden(f"{contractor}'s penalties are for its staff and RPIC")
                q = q.where(PenaltyRow.contractor_code.in_(mine))
            if contractor is not None:
                q = q.where(PenaltyRow.contractor_code == contractor)
            rows = s.scalars(q).all()
            voided_by = {r.voids: r.id for r in rows if r.voids is not None}
            return [views.penalty_out(s, r, voided_by.get(r.id)) for r in rows]

    @staticmethod
    def _audit(
        s: Session, who: Principal, action: str, target: str, source: str, what: str
    ) -> None:
        audit.append(
            s,
            actor=who.username,
            action=f"roadworks.{action}",
            target=target,
            source=source,
            detail={"what": what},
        )
