"""The collection trucks a department plans with: register one, change it, list them.
A plan keeps what its trucks were when it was made; a change applies to the next plan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import audit
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database, utcnow
from onecity.core.errors import Conflict, Forbidden, Invalid, NotFound
from onecity.core.geo import CityProfile, geojson_point, point_from_geojson
from onecity.core.models import User
from onecity.waste.planning import schemas as sc
from onecity.waste.planning.build import parse_hhmm, trucks_of
from onecity.waste.planning.models import WasteTruck

# A position older than this says where the truck was, not where it is.
SEEN_FRESH = timedelta(minutes=10)
SEEN_SKEW = timedelta(seconds=60)  # a phone's clock a little ahead
SEEN_ACCURATE_M = 500.0  # a fix vaguer than this (a phone without GPS) is not routed from


class TruckRegistry:
    def __init__(self, db: Database, department: str, city: CityProfile | None = None) -> None:
        self.db = db
        self.department = department
        self.city = city

    def _staff(self, who: Principal, perm: Perm) -> None:
        require(who, perm)
        if not who.sees_department(self.department):
            raise Forbidden(
                f"the trucks belong to department '{self.department}'", code="forbidden"
            )

    def list(self, who: Principal) -> list[sc.TruckOut]:
        """The department's active trucks, for its staff and crews."""
        self._staff(who, Perm.WASTE_JOBS if who.can(Perm.WASTE_JOBS) else Perm.WASTE_READ)
        with self.db.read() as s:
            return [self._truck_out(t) for t in trucks_of(s, self.department)]

    def _depot(self, raw: dict[str, Any]) -> tuple[float, float]:
        lon, lat = point_from_geojson(raw, "depot")
        if self.city is not None and self.city.place(lon, lat).district is None:
            raise Invalid(
                f"the depot ({lon:.5f}, {lat:.5f}) is outside {self.city.name}: "
                "send [longitude, latitude] in WGS84 degrees",
                field="depot",
            )
        return lon, lat

    @staticmethod
    def _crew(s: Session, crew: str | None) -> str | None:
        if not crew:
            return None
        if s.scalar(select(User.id).where(User.username == crew)) is None:
            raise Invalid(f"no user '{crew}' to ride this truck", field="crew")
        return crew

    def seen_on_shift(self, s: Session, origin: datetime, now: datetime) -> Sequence[WasteTruck]:
        """The trucks seen within `SEEN_FRESH` of `now`, and since their shift that day (a
        position from before the shift says where the truck was parked, not where it is)."""
        out = []
        for t in trucks_of(s, self.department):
            if t.seen_at is None or t.seen_lon is None or now - t.seen_at > SEEN_FRESH:
                continue
            if (t.seen_accuracy_m or 0.0) > SEEN_ACCURATE_M:
                continue  # shown on the map, too vague to route from
            start = origin + timedelta(seconds=parse_hhmm(t.shift_start, "shift_start"))
            if t.seen_at >= start:
                out.append(t)
        return out

    def report_position(
        self, who: Principal, truck_id: str, body: sc.PositionIn, now: datetime | None = None
    ) -> sc.TruckOut:
        """Where the truck is, from its crew's phone. Only its crew (or staff who manage the
        trucks) may say; a fix older than the one kept is ignored (phones resend out of
        order); only the newest is kept, no track."""
        require(who, Perm.WASTE_JOBS)
        if not who.sees_department(self.department):
            raise NotFound(f"no truck {truck_id}")
        now = now or utcnow()
        lon, lat = point_from_geojson(body.location, "location")
        if self.city is not None and self.city.place(lon, lat).district is None:
            raise Invalid(
                f"({lon:.5f}, {lat:.5f}) is outside {self.city.name}: "
                "send [longitude, latitude] in WGS84 degrees",
                field="location",
            )
        at = body.at or now
        if at.tzinfo is None:
            raise Invalid("at needs a time zone (e.g. 2026-11-27T08:30:00+08:00)", field="at")
        if at > now + SEEN_SKEW:
            raise Invalid(f"at {at.isoformat()} is in the future", field="at")
        if now - at > SEEN_FRESH:
            raise Invalid(f"at {at.isoformat()} is too old to say where the truck is", field="at")
        with self.db.session() as s:
            t = s.get(WasteTruck, truck_id, with_for_update=True)
            if t is None or t.department_code != self.department or not t.active:
                raise NotFound(f"no truck {truck_id}")
            if t.crew != who.username and not who.can(Perm.WASTE_MANAGE):
                raise Forbidden(
                    f"only the crew of truck {truck_id} ({t.crew or 'none'}) reports where it is",
                    code="not_your_truck",
                )
            if t.seen_at is None or at > t.seen_at:
                t.seen_lon, t.seen_lat, t.seen_at = lon, lat, at
                t.seen_accuracy_m, t.seen_by = body.accuracy_m, who.username
            return self._truck_out(t)

    def _truck_out(self, t: WasteTruck) -> sc.TruckOut:
        seen = None
        if t.seen_at is not None and t.seen_lon is not None and t.seen_lat is not None:
            seen = sc.SeenOut(
                location=geojson_point(t.seen_lon, t.seen_lat) or {},
                accuracy_m=t.seen_accuracy_m,
                at=t.seen_at,
                by=t.seen_by or "",
            )
        return sc.TruckOut(
            id=t.id,
            name=t.name,
            depot_name=t.depot_name,
            location=geojson_point(t.depot_lon, t.depot_lat) or {},
            capacity_kg=t.capacity_kg,
            capacity_m3=t.capacity_m3,
            shift_start=t.shift_start,
            shift_end=t.shift_end,
            crew=t.crew,
            seen=seen,
        )

    def add_truck(self, who: Principal, body: sc.TruckIn, source: str) -> sc.TruckOut:
        self._staff(who, Perm.WASTE_MANAGE)
        lon, lat = self._depot(body.depot)
        with self.db.session() as s:
            if s.get(WasteTruck, body.id) is not None:
                raise Conflict(f"truck '{body.id}' exists already", code="truck_exists")
            t = WasteTruck(
                id=body.id,
                name=body.name,
                department_code=self.department,
                depot_name=body.depot_name,
                depot_lon=lon,
                depot_lat=lat,
                capacity_kg=body.capacity_kg,
                capacity_m3=body.capacity_m3,
                shift_start=body.shift_start,
                shift_end=body.shift_end,
                crew=self._crew(s, body.crew),
                active=True,
            )
            s.add(t)
            s.flush()
            audit.append(
                s,
                actor=who.username,
                action="waste.truck.add",
                target=f"waste_truck/{t.id}",
                source=source,
                detail=body.model_dump(exclude={"depot"}),
            )
            return self._truck_out(t)

    def change_truck(
        self, who: Principal, truck_id: str, body: sc.TruckPatch, source: str
    ) -> sc.TruckOut:
        """Change a truck; the plans already made keep what they were made with."""
        self._staff(who, Perm.WASTE_MANAGE)
        depot = self._depot(body.depot) if body.depot is not None else None
        with self.db.session() as s:
            t = s.get(WasteTruck, truck_id, with_for_update=True)
            if t is None or t.department_code != self.department:
                raise NotFound(f"no truck {truck_id}")
            changes = body.model_dump(exclude_unset=True, exclude={"depot"})
            if "crew" in changes:
                t.crew = self._crew(s, body.crew)
            for name, value in changes.items():
                if name != "crew" and value is not None:
                    setattr(t, name, value)
            if depot is not None:
                t.depot_lon, t.depot_lat = depot
            audit.append(
                s,
                actor=who.username,
                action="waste.truck.change",
                target=f"waste_truck/{t.id}",
                source=source,
                detail=body.model_dump(exclude_unset=True),
            )
            return self._truck_out(t)
