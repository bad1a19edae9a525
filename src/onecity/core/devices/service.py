"""Device registry, credentials, telemetry queries and liveness. One unit of work per call."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onecity.core import alerts, audit, events
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.auth.secrets import new_device_key, same_hash, split_device_key, token_hash
from onecity.core.db import Database, utcnow
from onecity.core.devices import schemas as sc
from onecity.core.devices.broker_auth import mqtt_password_hash
from onecity.core.devices.latest import latest_values
from onecity.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from onecity.core.geo import CityProfile, geojson_point, point_from_geojson
from onecity.core.models import DeliveryAccount, Department, Device, DeviceCredential

MAX_PAGE = 1000


def device_out(d: Device, city: CityProfile | None = None) -> sc.DeviceOut:
    return sc.DeviceOut(
        id=d.id,
        name=d.name,
        type=d.type,
        department=d.department_code,
        location=geojson_point(d.lon, d.lat),
        district=d.district,
        district_names=city.district_names_of(d.district) if city else None,
        metadata=d.meta,
        status=d.status,
        connectivity=d.connectivity,
        heartbeat_s=d.heartbeat_s,
        last_seen_at=d.last_seen_at,
    )


def delivery_out(a: DeliveryAccount | None) -> sc.DeliveryOut:
    if a is None:
        return sc.DeliveryOut(
            received=0, duplicates=0, gaps=0, rejected=0, readings=0, first_seq=None, last_seq=None
        )
    return sc.DeliveryOut(
        received=a.received,
        duplicates=a.duplicates,
        # span is summed over epochs, so a restart's sequence numbers start a new count.
        gaps=max((a.span or 0) - a.received, 0),
        rejected=a.rejected,
        readings=a.readings,
        first_seq=a.min_seq,
        last_seq=a.max_seq,
        restarts=a.restarts or 0,
        conflicts=a.conflicts or 0,
        epoch=a.epoch,
    )


class DeviceService:
    def __init__(self, db: Database, city: CityProfile, grace_factor: float = 3.0) -> None:
        self.db = db
        self.city = city
        self.grace = grace_factor

    def _deadline(self, since: datetime, heartbeat_s: int) -> datetime:
        return since + timedelta(seconds=heartbeat_s * self.grace)

    # --- registry --------------------------------------------------------------------------
    def visible(self, s: Session, who: Principal, device_id: str) -> Device:
        d = s.get(Device, device_id)
        if d is None or not who.sees_department(d.department_code):
            # Not 403: a device of another department is none of this user's business.
            raise NotFound(f"no device '{device_id}'")
        return d

    def register(self, who: Principal, body: sc.DeviceIn, source: str = "") -> sc.DeviceOut:
        require(who, Perm.DEVICES_WRITE)
        if not who.sees_department(body.department):
            raise Forbidden(
                "you may only register devices for your own department", field="department"
            )
        lon = lat = None
        district = None
        if body.location is not None and body.location_projected is not None:
            raise Invalid(
                "give location or location_projected, not both", field="location_projected"
            )
        if body.location is not None:
            lon, lat = point_from_geojson(body.location.model_dump())
        elif body.location_projected is not None:
            lon, lat = self.city.from_projected(
                body.location_projected.x, body.location_projected.y
            )
            w, so, e, n = self.city.bounds
            if not (w - 1 <= lon <= e + 1 and so - 1 <= lat <= n + 1):
                raise Invalid(
                    f"that point is not near {self.city.name.get('en', self.city.id)}; "
                    f"x and y must be in {self.city.projected_crs}",
                    field="location_projected",
                )
        if lon is not None and lat is not None:
            district = self.city.place(lon, lat).district
        with self.db.session() as s:
            if s.get(Department, body.department) is None:
                raise Invalid(f"unknown department '{body.department}'", field="department")
            if s.get(Device, body.id) is not None:
                raise Conflict(f"device '{body.id}' already exists", field="id")
            d = Device(
                id=body.id,
                name=body.name,
                type=body.type,
                department_code=body.department,
                lon=lon,
                lat=lat,
                district=district,
                meta=body.metadata,
                heartbeat_s=body.heartbeat_s,
                # A device that never reports must be noticed too, not stay "unknown".
                offline_after=self._deadline(utcnow(), body.heartbeat_s),
            )
            s.add(d)
            try:
                s.flush()
            except IntegrityError:
                # Another registration of the same id committed between our check and insert.
                raise Conflict(f"device '{body.id}' already exists", field="id") from None
            audit.append(
                s, actor=who.username, action="device.create", target=body.id, source=source
            )
            events.emit(s, "device.registered", {"device_id": d.id}, d.department_code)
            return device_out(d, self.city)

    def update(
        self, who: Principal, device_id: str, patch: sc.DevicePatch, source: str = ""
    ) -> sc.DeviceOut:
        require(who, Perm.DEVICES_WRITE)
        with self.db.session() as s:
            d = self.visible(s, who, device_id)
            changed = patch.model_dump(exclude_unset=True)
            if "location" in changed:
                if patch.location is None:
                    d.lon = d.lat = None
                    d.district = None
                else:
                    d.lon, d.lat = point_from_geojson(patch.location.model_dump())
                    d.district = self.city.place(d.lon, d.lat).district
            for name in ("name", "status", "heartbeat_s"):
                if name in changed and changed[name] is not None:
                    setattr(d, name, changed[name])
            if changed.get("heartbeat_s") is not None:
                d.offline_after = self._deadline(d.last_seen_at or utcnow(), d.heartbeat_s)
            if patch.metadata is not None:
                d.meta = patch.metadata
            audit.append(
                s,
                actor=who.username,
                action="device.update",
                target=device_id,
                source=source,
                detail={"fields": sorted(changed)},
            )
            return device_out(d, self.city)

    def get(self, who: Principal, device_id: str) -> sc.DeviceDetail:
        require(who, Perm.DEVICES_READ)
        with self.db.read() as s:
            d = self.visible(s, who, device_id)
            acc = s.get(DeliveryAccount, device_id)
            # Latest values are telemetry: a role without telemetry:read sees the device only.
            latest = latest_values(s, device_id) if who.can(Perm.TELEMETRY_READ) else {}
            # What each value measures (the profile's device types, checked at start-up), so
            # the page shows a share as a percent and a temperature in °C.
            specs = self.city.raw.get("device_types", {}).get(d.type, {})
            for k, v in latest.items():
                if "unit" in specs.get(k, {}):
                    v["unit"] = specs[k]["unit"]
            projected = None
            if d.lon is not None and d.lat is not None:
                x, y = self.city.to_projected(d.lon, d.lat)
                projected = {"crs": self.city.projected_crs, "x": round(x, 3), "y": round(y, 3)}
            return sc.DeviceDetail(
                **device_out(d, self.city).model_dump(),
                location_projected=projected,
                delivery=delivery_out(acc),
                latest=latest,
            )

    def list_page(
        self,
        who: Principal,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        type_: str | None = None,
        connectivity: str | None = None,
        department: str | None = None,
        cursor: str | None = None,
        limit: int = 200,
    ) -> sc.DevicePage:
        require(who, Perm.DEVICES_READ)
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        q = select(Device)
        if not who.city_wide:
            q = q.where(Device.department_code == who.department)
        if department:
            q = q.where(Device.department_code == department)
        if bbox is not None:
            w, so, e, n = bbox
            q = q.where(Device.lon.between(w, e), Device.lat.between(so, n))
        if type_:
            q = q.where(Device.type == type_)
        if connectivity:
            q = q.where(Device.connectivity == connectivity)
        with self.db.read() as s:
            # The total is counted on the first page only: later pages are a cheap seek.
            total: int | None = None
            if cursor:
                q = q.where(Device.id > cursor)
            else:
                total = int(s.execute(select(func.count()).select_from(q.subquery())).scalar() or 0)
            rows = list(s.execute(q.order_by(Device.id).limit(limit + 1)).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        return sc.DevicePage(
            items=[device_out(d, self.city) for d in rows],
            next_cursor=rows[-1].id if more else None,
            total=total,
            as_of=utcnow(),
        )

    # --- credentials -----------------------------------------------------------------------
    def issue_key(
        self, who: Principal, device_id: str, label: str = "", source: str = ""
    ) -> sc.KeyOut:
        require(who, Perm.DEVICE_KEYS)
        key_id, secret, full = new_device_key()
        with self.db.session() as s:
            self.visible(s, who, device_id)
            s.add(
                DeviceCredential(
                    key_id=key_id,
                    device_id=device_id,
                    secret_hash=token_hash(secret),
                    mqtt_hash=mqtt_password_hash(full),
                    label=label[:100],
                )
            )
            audit.append(
                s,
                actor=who.username,
                action="device.key_issue",
                target=f"{device_id}/{key_id}",
                source=source,
            )
        return sc.KeyOut(key_id=key_id, device_id=device_id, key=full, mqtt_username=key_id)

    def revoke_key(self, who: Principal, device_id: str, key_id: str, source: str = "") -> None:
        require(who, Perm.DEVICE_KEYS)
        with self.db.session() as s:
            self.visible(s, who, device_id)
            # Locked so that of two concurrent revokes one wins and the other gets the 409.
            cred = s.get(DeviceCredential, key_id, with_for_update=True)
            if cred is None or cred.device_id != device_id:
                raise NotFound(f"no key '{key_id}' for device '{device_id}'")
            if cred.revoked_at is not None:
                raise Conflict(f"key '{key_id}' is already revoked")
            cred.revoked_at = utcnow()
            audit.append(
                s,
                actor=who.username,
                action="device.key_revoke",
                target=f"{device_id}/{key_id}",
                source=source,
            )

    def list_keys(self, who: Principal, device_id: str) -> list[sc.KeyInfo]:
        require(who, Perm.DEVICE_KEYS)
        with self.db.read() as s:
            self.visible(s, who, device_id)
            creds = s.execute(
                select(DeviceCredential)
                .where(DeviceCredential.device_id == device_id)
                .order_by(DeviceCredential.created_at)
            ).scalars()
            return [
                sc.KeyInfo(
                    key_id=c.key_id, label=c.label, created_at=c.created_at, revoked_at=c.revoked_at
                )
                for c in creds
            ]

    def authenticate_key(self, key: str) -> str:
        parts = split_device_key(key)
        if parts is None:
            raise Unauthenticated("malformed device key", code="bad_device_key")
        key_id, secret = parts
        with self.db.read() as s:
            row = s.execute(
                select(DeviceCredential, Device.status)
                .join(Device, Device.id == DeviceCredential.device_id)
                .where(DeviceCredential.key_id == key_id)
            ).one_or_none()
        if row is None or not same_hash(row[0].secret_hash, token_hash(secret)):
            raise Unauthenticated("unknown device key", code="bad_device_key")
        if row[0].revoked_at is not None:
            raise Unauthenticated("this device key has been revoked", code="revoked_device_key")
        if row[1] == "retired":
            raise Forbidden("this device is retired", code="device_retired")
        return str(row[0].device_id)

    # --- telemetry queries -----------------------------------------------------------------
    # --- liveness --------------------------------------------------------------------------
    def mark_offline(self, now: datetime | None = None) -> list[str]:
        """Declare offline every device past its heartbeat deadline (online ones, and
        registered ones that never reported); raise alerts.
        Safe to run in several processes: the UPDATE decides who does each device."""
        now = now or utcnow()
        with self.db.session() as s:
            gone = list(
                s.execute(
                    update(Device)
                    .where(
                        Device.connectivity.in_(("online", "unknown")),
                        Device.offline_after < now,
                        Device.status == "active",
                    )
                    .values(connectivity="offline")
                    .returning(Device.id, Device.department_code, Device.last_seen_at)
                ).tuples()
            )
            for dev, dept, seen in gone:
                alerts.open_alert(
                    s,
                    device_id=dev,
                    department=dept,
                    kind="offline",
                    dedupe_key="offline",
                    severity="warning",
                    message=f"no data since {seen.isoformat() if seen else 'never'}",
                )
                events.emit(s, "device.offline", {"device_id": dev}, dept)
        return [g[0] for g in gone]
