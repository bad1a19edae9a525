"""NGSI-LD entities made from OneCity's devices (the Smart Data Models `Device` shape) and
from the entity types domain modules add (`EntityType`), and the reads behind the NGSI-LD API
(core.ngsi): which entities a caller may see, filtered by query, id and geometry."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import ngsi_geo, ngsi_q
from onecity.core.auth.permissions import Principal
from onecity.core.db import Database
from onecity.core.models import Device
from onecity.core.ngsi_geo import GeoQuery

URN = "urn:ngsi-ld:Device:"


def entity(d: Device, key_values: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "name": d.name,
        "deviceCategory": [d.type],
        "owner": [d.department_code],
        "deviceState": d.connectivity,
        "status": d.status,
        "dateLastValueReported": d.last_seen_at.isoformat() if d.last_seen_at else None,
    }
    if d.district:
        attrs["address"] = {"addressLocality": d.district}
    out: dict[str, Any] = {"id": URN + d.id, "type": "Device"}
    if d.lon is not None and d.lat is not None:
        loc = {"type": "Point", "coordinates": [d.lon, d.lat]}
        out["location"] = loc if key_values else {"type": "GeoProperty", "value": loc}
    for k, v in attrs.items():
        if v is None:
            continue
        out[k] = v if key_values else {"type": "Property", "value": v}
    return out


@dataclass(frozen=True)
class EntityType:
    """An NGSI-LD entity type a domain module serves through this API, made from the state of
    devices of one type (the waste module's `WasteContainer`s from its stations)."""

    type: str
    device_type: str
    # The entities, in normalized NGSI-LD form, of these devices (any number per device).
    entities: Callable[[Session, Sequence[Device]], list[dict[str, Any]]]
    # The id of the device an entity id belongs to; None when the id is not of this type.
    device_of: Callable[[str], str | None]


def key_values(e: dict[str, Any]) -> dict[str, Any]:
    """The keyValues form of a normalized entity: each attribute's bare value."""
    out: dict[str, Any] = {}
    for k, v in e.items():
        if isinstance(v, dict) and v.get("type") in ("Property", "GeoProperty"):
            value = v.get("value")
            if isinstance(value, dict) and value.get("@type") == "DateTime":
                value = value.get("@value")
            out[k] = value
        else:
            out[k] = v
    return out


def devices_query(who: Principal, device_ids: list[str] | None, geo: GeoQuery | None) -> Any:
    q = select(Device)
    if not who.city_wide:
        q = q.where(Device.department_code == who.department)
    if device_ids is not None:
        q = q.where(Device.id.in_(device_ids))
    box = geo.bbox() if geo is not None else None
    if box is not None:
        w, s_, e, n = box
        q = q.where(Device.lon.between(w, e), Device.lat.between(s_, n))
    return q


@dataclass(frozen=True)
class Filters:
    """What a query asks for beyond type and id, checked for validity before any read."""

    q: ngsi_q.Node | None
    id_pattern: re.Pattern[str] | None
    attrs: list[str] | None
    geo: GeoQuery | None

    def narrows(self) -> bool:
        return any(x is not None for x in (self.q, self.id_pattern, self.attrs, self.geo))

    def keep(self, e: dict[str, Any]) -> bool:
        if self.id_pattern is not None and not self.id_pattern.search(str(e["id"])):
            return False
        if self.attrs is not None and not any(a in e for a in self.attrs):
            return False
        if self.geo is not None and not ngsi_geo.matches(e, self.geo):
            return False
        return self.q is None or ngsi_q.matches(e, self.q)


def find(
    db: Database,
    who: Principal,
    extra: Mapping[str, EntityType],
    types: set[str] | None,
    ids: list[str] | None,
    f: Filters,
    upto: int | None,
) -> list[dict[str, Any]]:
    """Every entity the caller may see that matches, in id order (nearest first for near);
    `upto` bounds the devices read when nothing filters after the read. `extra`: the entity
    types the enabled modules serve, by name."""
    with db.read() as s:
        found = _read(s, who, extra, types, ids, f, upto)
    found = [e for e in found if f.keep(e)]
    point = f.geo.point() if f.geo is not None else None
    if point is None:
        return sorted(found, key=lambda e: str(e["id"]))
    prop = f.geo.geoproperty if f.geo is not None else "location"

    def far(e: dict[str, Any]) -> float:
        g = ngsi_geo.entity_geometry(e, prop)
        return ngsi_geo.distance_m(g, *point) if g is not None else float("inf")

    return sorted(found, key=far)


def _read(
    s: Session,
    who: Principal,
    extra: Mapping[str, EntityType],
    types: set[str] | None,
    ids: list[str] | None,
    f: Filters,
    upto: int | None,
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if types is None or "Device" in types:
        # An id that is not a Device URN matches nothing, but does not hide the others.
        dev_ids = None if ids is None else [i[len(URN) :] for i in ids if i.startswith(URN)]
        if dev_ids != []:
            q = devices_query(who, dev_ids, f.geo).order_by(Device.id)
            if upto is not None:
                q = q.limit(upto)
            found += [entity(d, False) for d in s.execute(q).scalars()]
    for name, et in sorted(extra.items()):
        if types is not None and name not in types:
            continue
        wanted = None if ids is None else [i for i in ids if et.device_of(i) is not None]
        if wanted == []:
            continue
        dev_ids = None if wanted is None else sorted({str(et.device_of(i)) for i in wanted})
        q = devices_query(who, dev_ids, f.geo).where(Device.type == et.device_type)
        made = et.entities(s, list(s.execute(q.order_by(Device.id)).scalars()))
        found += [e for e in made if wanted is None or e["id"] in wanted]
    return found


def one(
    db: Database, who: Principal, extra: Mapping[str, EntityType], entity_id: str
) -> dict[str, Any] | None:
    """The entity with this id, if the caller may see it."""
    with db.read() as s:
        for et in extra.values():
            dev_id = et.device_of(entity_id)
            if dev_id is None:
                continue
            d = s.get(Device, dev_id)
            if d is None or d.type != et.device_type or not who.sees_department(d.department_code):
                return None
            return next((e for e in et.entities(s, [d]) if e["id"] == entity_id), None)
        if not entity_id.startswith(URN):
            return None
        d = s.get(Device, entity_id[len(URN) :])
        if d is None or not who.sees_department(d.department_code):
            return None
        return entity(d, False)
