"""Permit use cases: check, file, decide, deem granted, report works, inspect, withdraw, and
answer locate requests. Each call is one unit of work; every change of a permit adds a step
(who, when, from which status), an audit record and a `roadworks.permit` event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database, utcnow
from onecity.core.errors import Conflict, Forbidden, Invalid, NotFound
from onecity.core.geo import CityProfile
from onecity.core.workdays import calendar_from_profile
from onecity.roadworks.config import RoadworksConfig
from onecity.roadworks.permits import checks, locates, views
from onecity.roadworks.permits import schemas as sc
from onecity.roadworks.permits.books import PermitBooks, filers
from onecity.roadworks.permits.filing import THIS_APPLICATION, fill, named, width_of
from onecity.roadworks.permits.models import LocateRequest, Permit
from onecity.roadworks.registry import penalty_book
from onecity.roadworks.registry.models import RoadOrg, RoadOrgMember
from onecity.roadworks.rules import footprint
from onecity.roadworks.rules import permit as r
from onecity.roadworks.rules.status import PermitStatus


class PermitService:
    def __init__(
        self,
        db: Database,
        city: CityProfile,
        config: RoadworksConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.clock = clock
        self.db = db
        self.city = city
        self.config = config or RoadworksConfig(calendar=calendar_from_profile(city.raw))
        self.tz = ZoneInfo(city.timezone)
        # The clock is read through _now, so a test that sets `clock` moves the books' too.
        self.books = PermitBooks(self.config.department, self._now)

    # --- who may do what -------------------------------------------------------------------

    def is_assessor(self, who: Principal) -> bool:
        return who.can(Perm.ROADWORKS_ASSESS) and who.sees_department(self.config.department)

    def require_assessor(self, who: Principal) -> None:
        require(who, Perm.ROADWORKS_ASSESS)
        if not who.sees_department(self.config.department):
            raise Forbidden(f"permits are assessed by department '{self.config.department}'")

    @staticmethod
    def orgs_of(s: Session, who: Principal) -> set[str]:
        q = select(RoadOrgMember.org_code).where(RoadOrgMember.username == who.username)
        return set(s.scalars(q).all())

    def may_read(self, s: Session, who: Principal, p: Permit) -> None:
        if not self.reads(s, who, p):
            raise NotFound(f"no permit {p.ref}")

    def reads(self, s: Session, who: Principal, p: Permit) -> bool:
        """Whether `who` may open `p`: RPIC, the applicant's and contractor's staff, and the
        owners asked to locate their pipes under it."""
        if who.can(Perm.ROADWORKS_READ) and who.sees_department(self.config.department):
            return True
        mine = self.orgs_of(s, who)
        owners = set(
            s.scalars(select(LocateRequest.owner_code).where(LocateRequest.permit_id == p.id))
        )
        return bool(mine & ({p.applicant_code, p.contractor_code} | owners))

    def may_act_for(self, s: Session, who: Principal, p: Permit) -> None:
        """The applicant's or contractor's staff (or RPIC) report the works."""
        if self.is_assessor(who):
            return
        require(who, Perm.ROADWORKS_APPLY)
        if not self.orgs_of(s, who) & {p.applicant_code, p.contractor_code}:
            raise Forbidden(f"only {p.applicant_code}'s or its contractor's staff report {p.ref}")

    # --- the application -------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self._now().astimezone(self.tz).date()

    def _org(self, s: Session, code: str, field_name: str, kind: str | None = None) -> RoadOrg:
        org = s.get(RoadOrg, code)
        if org is None:
            raise Invalid(f"no organisation '{code}' is registered with RPIC", field=field_name)
        if kind is not None and org.kind != kind:
            raise Invalid(f"'{code}' is a {org.kind}, not a {kind}", field=field_name)
        return org

    def prepare(
        self, s: Session, who: Principal, body: sc.PermitIn, exclude_id: int | None = None
    ) -> tuple[footprint.Footprint, r.Works, checks.Checked]:
        """Every check of an application body (`exclude_id`: the permit it amends, which must
        not clash with itself)."""
        self._org(s, body.applicant, "applicant")
        if body.contractor:
            self._org(s, body.contractor, "contractor", "contractor")
            penalty_book.refuse_if_barred(s, body.contractor, body.start_date)
        if not self.is_assessor(who):
            require(who, Perm.ROADWORKS_APPLY)
            if body.applicant not in self.orgs_of(s, who):
                raise Forbidden(f"you do not file for '{body.applicant}'", field="applicant")
        if body.end_date < body.start_date:
            raise Invalid("the works end before they start", field="end_date")
        if (body.end_date - body.start_date).days > 730:
            raise Invalid("one permit covers at most two years of works", field="end_date")
        today = self.today()
        if not today - timedelta(days=31) <= body.start_date <= today + timedelta(days=730):
            raise Invalid(
                "works start within two years from today (emergency works: at most a month ago)",
                field="start_date",
            )
        fp = footprint.parse(self.city, body.geometry, crs=body.crs, width_m=body.width_m)
        width = body.width_m or width_of(fp)
        app = r.Works(
            ref=THIS_APPLICATION,
            geom=fp.metres,
            start=body.start_date,
            end=body.end_date,
            depth_m=body.depth_m,
            purpose=body.purpose,
            applicant=body.applicant,
            road=body.road,
            night=body.night,
            emergency=body.emergency,
            residential=body.residential,
            status=PermitStatus.APPLIED,
        )
        got = checks.check(
            s,
            self.city,
            app=app,
            fp=fp,
            road_class=body.road_class,
            width_m=width,
            filed_at=self._now().astimezone(self.tz),
            today=self.today(),
            cal=self.config.calendar,
            cfg=self.config.rules,
            locate=self.config.locate,
            exclude_id=exclude_id,
        )
        return fp, app, got

    def footprint(self, who: Principal, body: sc.FootprintIn) -> sc.FootprintOut:
        """Whether an outline can be a works footprint (a 422 saying what is wrong if not:
        its `error` code names the problem, for the page to say in its language)."""
        if not (who.can(Perm.ROADWORKS_APPLY) or who.can(Perm.ROADWORKS_READ)):
            raise Forbidden("checking a works outline is for those who file permits")
        fp = footprint.parse(self.city, body.geometry, crs=body.crs, width_m=body.width_m)
        kind = str(body.geometry.get("type")) if isinstance(body.geometry, dict) else ""
        return sc.FootprintOut(
            type=kind, area_m2=fp.area_m2, district=fp.district, geometry=fp.wgs84
        )

    def check(self, who: Principal, body: sc.PermitIn) -> sc.CheckOut:
        """What the rules would say if this were filed now; writes nothing."""
        with self.db.read() as s:
            fp, _app, got = self.prepare(s, who, body)
            return views.check_out(got, fp)

    def apply(self, who: Principal, body: sc.PermitIn, source: str) -> sc.PermitOut:
        """File an application; emergency works are in progress at once. Every owner of a
        pipe the dig could hit gets a locate request due in 2 working days."""
        with self.db.session() as s:
            fp, _app, got = self.prepare(s, who, body)
            now = self._now()
            p = Permit(
                ref=f"new-{now.timestamp()}",
                department_code=self.config.department,
                filed_at=now,
                created_by=who.username,
                updated_at=now,
            )
            fill(p, body, fp, got)

            def number(p: Permit) -> None:
                p.ref = f"RW-{now.astimezone(self.tz).year}-{p.id:06d}"
                p.findings = named(p.findings, p.ref)

            # RPIC staff may enter an organisation's application for it (a paper filing at
            # the counter); the step says so, and `filers` keeps them from deciding it.
            behalf = (
                {} if body.applicant in self.orgs_of(s, who) else {"on_behalf_of": body.applicant}
            )
            self.books.enter(s, p, who.username, source, behalf, number)
            if body.emergency:
                self.books.move(
                    s, p, PermitStatus.IN_PROGRESS, who.username, "emergency_started", "", source
                )
            locates.request(s, p, got.matches, now, self.config, self.tz)
            return views.permit_out(s, p, full=True, today=self.today())

    @staticmethod
    def find(s: Session, ref: str, *, lock: bool = False) -> Permit:
        """The permit numbered `ref` (locked for the unit of work if `lock`), or 404."""
        q = select(Permit).where(Permit.ref == ref)
        p = s.scalars(q.with_for_update() if lock else q).first()
        if p is None:
            raise NotFound(f"no permit {ref}", field="ref")
        return p

    def locked(self, s: Session, ref: str) -> Permit:
        return self.find(s, ref, lock=True)

    # --- the city's answer -----------------------------------------------------------------

    def decide(self, who: Principal, ref: str, body: sc.DecisionIn, source: str) -> sc.PermitOut:
        self.require_assessor(who)
        with self.db.session() as s:
            p = self.locked(s, ref)
            if p.status not in (PermitStatus.APPLIED, PermitStatus.CHANGES_REQUESTED):
                raise Conflict(f"{p.ref} is {p.status}; only an open application is decided")
            if who.username in filers(s, p):
                raise Forbidden(
                    f"you filed or amended {p.ref}; another assessor decides it",
                    code="own_filing",
                )
            if body.decision == "refuse":
                if not body.note.strip():
                    raise Invalid("say why the permit is refused", field="note")
                self.books.move(
                    s, p, PermitStatus.REFUSED, who.username, "refused", body.note, source
                )
            elif body.decision == "changes":
                if not body.note.strip():
                    raise Invalid("say what the applicant must change", field="note")
                self.books.move(
                    s,
                    p,
                    PermitStatus.CHANGES_REQUESTED,
                    who.username,
                    "changes_requested",
                    body.note,
                    source,
                )
            else:
                self._grant(s, who, p, body, source)
            return views.permit_out(s, p, full=True, today=self.today())

    def _grant(self, s: Session, who: Principal, p: Permit, body: sc.DecisionIn, src: str) -> None:
        blocks = [f for f in p.findings if f["severity"] == "block" and f["code"] != "clash"]
        if blocks:
            reasons = "; ".join(f["reason"]["en"] for f in blocks)
            raise Conflict(
                f"{p.ref} cannot be granted as applied for: {reasons}", code="rules_block"
            )
        clashes = [f for f in p.findings if f["code"] in ("clash", "repeat_dig")]
        hard = [f for f in clashes if f["code"] == "clash"]
        if hard and not body.joint_dig:
            raise Conflict(
                f"{p.ref} clashes with {', '.join(f['data']['other'] for f in hard)}: grant it "
                "as a joint dig (joint_dig: true), ask for changes or refuse it",
                code="clash",
            )
        detail: dict[str, Any] = {}
        if body.joint_dig:
            if not clashes:
                raise Invalid(f"{p.ref} has no works to share a trench with", field="joint_dig")
            detail = self._form_joint_dig(s, who, p, src)
        self.books.move(s, p, PermitStatus.GRANTED, who.username, "granted", body.note, src, detail)

    def _form_joint_dig(self, s: Session, who: Principal, p: Permit, src: str) -> dict[str, Any]:
        plan, members = checks.joint_plan(s, p)
        if plan is None:
            raise Conflict(f"no open works left to dig jointly with {p.ref}")
        rows = [m for m in members if m is not p]
        group = next((m.joint_group for m in rows if m.joint_group), None) or f"JD-{p.ref[3:]}"
        for m in members:
            m.joint_group = group
            m.dig_order = plan.members.index(m.ref) + 1
            if m is not p:
                self.books.record(
                    s,
                    m,
                    who.username,
                    "joint_dig",
                    "",
                    src,
                    {"group": group, "with": p.ref},
                )
        return {
            "group": group,
            "order": plan.members,
            "window": [d.isoformat() for d in plan.window],
        }

    def deem_granted(self) -> int:
        """Grant the applications the city did not answer in time (those no rule blocks)."""
        today = self.today()
        n = 0
        with self.db.session() as s:
            due = s.scalars(
                select(Permit)
                .where(Permit.status == PermitStatus.APPLIED, Permit.decide_by < today)
                .with_for_update()
            ).all()
            for p in due:
                if any(f["severity"] == "block" for f in p.findings):
                    continue
                self.books.move(
                    s,
                    p,
                    PermitStatus.GRANTED,
                    "system",
                    "deemed_granted",
                    "",  # the page says it in its language, from the detail
                    "rpic-loop",
                    {"decide_by": p.decide_by.isoformat()},
                )
                n += 1
        return n

    # --- reading ---------------------------------------------------------------------------

    def get(self, who: Principal, ref: str) -> sc.PermitOut:
        with self.db.read() as s:
            p = self.find(s, ref)
            self.may_read(s, who, p)
            out = views.permit_out(s, p, full=True, today=self.today())
            out.related = views.related_out(s, p, lambda o: self.reads(s, who, o))
            return out

    def list(self, who: Principal, status: str | None, limit: int, offset: int) -> sc.PermitPage:
        with self.db.read() as s:
            q = select(Permit)
            if not (who.can(Perm.ROADWORKS_READ) and who.sees_department(self.config.department)):
                mine = self.orgs_of(s, who)
                q = q.where(Permit.applicant_code.in_(mine) | Permit.contractor_code.in_(mine))
            if status:
                q = q.where(Permit.status == status)
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            rows = s.scalars(q.order_by(Permit.id.desc()).limit(limit).offset(offset)).all()
            return sc.PermitPage(items=[views.permit_out(s, p) for p in rows], total=int(total))
