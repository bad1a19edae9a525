"""Who digs: utilities, contractors and agencies registered with RPIC, and their staff."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import audit
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database
from onecity.core.errors import Conflict, Forbidden, Invalid
from onecity.core.models import User
from onecity.roadworks.permits import schemas as sc
from onecity.roadworks.registry import penalty_book
from onecity.roadworks.registry.models import RoadOrg, RoadOrgMember


class OrgRegistry:
    def __init__(self, db: Database, department: str, today: Callable[[], date]) -> None:
        self.db = db
        self.department = department
        # The city's date (a bar ends on a local day), from the permit service's clock.
        self.today = today

    def _out(self, s: Session, org: RoadOrg) -> sc.OrgOut:
        members = sorted(
            s.scalars(select(RoadOrgMember.username).where(RoadOrgMember.org_code == org.code))
        )
        points, bar = (0, None)
        if org.kind == "contractor":
            points, bar = penalty_book.standing(s, org.code, self.today())
        return sc.OrgOut(
            code=org.code,
            name_zh=org.name_zh,
            name_en=org.name_en,
            kind=org.kind,
            utility_kind=org.utility_kind,
            members=members,
            points=points,
            barred_until=bar[1] if bar else None,
        )

    def list(self, who: Principal) -> list[sc.OrgOut]:
        """Every registered organisation (staff of any of them may see who digs)."""
        if not (who.can(Perm.ROADWORKS_READ) or who.can(Perm.ROADWORKS_APPLY)):
            raise Forbidden("road works organisations are for RPIC and utilities' staff")
        with self.db.read() as s:
            return [self._out(s, o) for o in s.scalars(select(RoadOrg).order_by(RoadOrg.code))]

    def add(self, who: Principal, body: sc.OrgIn, source: str) -> sc.OrgOut:
        require(who, Perm.ROADWORKS_ASSESS)
        if not who.sees_department(self.department):
            raise Forbidden(f"organisations are registered by department '{self.department}'")
        if body.kind == "utility" and body.utility_kind is None:
            raise Invalid("a utility says what it runs (utility_kind)", field="utility_kind")
        with self.db.session() as s:
            if s.get(RoadOrg, body.code) is not None:
                raise Conflict(f"'{body.code}' is registered already", code="org_exists")
            for name in body.members:
                if s.scalar(select(User.id).where(User.username == name)) is None:
                    raise Invalid(f"no user '{name}'", field="members")
            org = RoadOrg(
                code=body.code,
                name_zh=body.name_zh,
                name_en=body.name_en,
                kind=body.kind,
                utility_kind=body.utility_kind,
            )
            s.add(org)
            s.flush()
            for name in sorted(set(body.members)):
                s.add(RoadOrgMember(org_code=org.code, username=name))
            audit.append(
                s,
                actor=who.username,
                action="roadworks.org.add",
                target=f"roadworks_org/{org.code}",
                source=source,
                detail=body.model_dump(),
            )
            s.flush()
            return self._out(s, org)
