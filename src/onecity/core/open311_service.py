"""Open311 use cases: file a request, find requests, and (staff) update one. Each write is one
unit of work holding the row, its audit record and its outbox event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onecity.core import audit, events, media, open311_limits
from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database, utcnow
from onecity.core.errors import Invalid, NotFound
from onecity.core.models import Open311Request
from onecity.core.open311 import MAX_RESULTS, STATUSES, NewRequest, Query
from onecity.core.open311_limits import Limits

ACTOR = "open311:citizen"  # filed without a login; the row keeps the source address


def file_request(
    db: Database,
    new: NewRequest,
    source: str,
    photo: bytes | None = None,
    photo_url: Callable[[str], str] | None = None,
    limits: Limits | None = None,
    clients: Sequence[str] = (),
) -> Open311Request:
    """Store a citizen's report (and its photo, served at `photo_url(id)`) in one unit of
    work with its outbox event, its audit record and the owning module's own work. With
    `limits`, the report is first counted against the client's names (`clients`): past a
    limit, TooManyReports, and nothing is stored."""
    svc = new.service
    with db.session() as s:
        if limits is not None:
            open311_limits.charge(s, limits, clients, len(photo or b""), utcnow())
        row = Open311Request(
            service_code=svc.service_code,
            department_code=svc.department_code,
            status="open",
            description=new.description,
            lat=new.lat,
            lon=new.lon,
            address=new.address,
            address_id=new.address_id,
            zipcode=new.zipcode,
            attributes=new.attributes,
            media_url=new.media_url,
            source_ip=source[:64],
            **new.contact,
        )
        now = utcnow()
        row.requested_at = row.updated_at = now
        if photo is not None and photo_url is not None:
            row.media_url = photo_url(media.store(s, photo))
        s.add(row)
        s.flush()
        if svc.on_request is not None:
            svc.on_request(s, row)
        # Contact details stay out of the event and the audit log: both are read more widely.
        events.emit(s, "open311.request", _event(row), svc.department_code)
        audit.append(
            s,
            actor=ACTOR,
            action="open311.request",
            target=f"open311:{row.id}",
            source=source,
            detail={"service_code": svc.service_code, "department": svc.department_code},
        )
        return row


def check_limits(db: Database, limits: Limits, clients: Sequence[str]) -> None:
    """Refuse (TooManyReports) a client that has used up its reports, before its report is
    read; nothing is counted here."""
    with db.read() as s:
        open311_limits.check(s, limits, clients, utcnow())


def _event(row: Open311Request) -> dict[str, Any]:
    return {
        "service_request_id": str(row.id),
        "service_code": row.service_code,
        "department": row.department_code,
        "status": row.status,
        "description": row.description,
        "lat": row.lat,
        "long": row.lon,
        "address": row.address,
        "attributes": row.attributes,
        "media_url": row.media_url,
    }


def find(db: Database, q: Query) -> list[Open311Request]:
    stmt = select(Open311Request)
    if q.ids is not None:
        stmt = stmt.where(Open311Request.id.in_(q.ids))
    else:
        stmt = stmt.where(
            Open311Request.requested_at >= q.start, Open311Request.requested_at <= q.end
        )
        if q.service_codes:
            stmt = stmt.where(Open311Request.service_code.in_(q.service_codes))
        if q.statuses:
            stmt = stmt.where(Open311Request.status.in_(q.statuses))
    stmt = stmt.order_by(Open311Request.requested_at.desc(), Open311Request.id.desc())
    with db.read() as s:
        return list(s.execute(stmt.limit(MAX_RESULTS)).scalars())


def get(db: Database, request_id: int) -> Open311Request:
    with db.read() as s:
        row = s.get(Open311Request, request_id)
    if row is None:
        raise NotFound(f"no service request {request_id}", field="service_request_id")
    return row


def update(
    db: Database,
    who: Principal,
    request_id: int,
    *,
    status: str | None,
    status_notes: str | None,
    source: str,
) -> Open311Request:
    """Staff of the department that owns the request set its status and notes."""
    require(who, Perm.OPEN311_HANDLE)
    if status is None and status_notes is None:
        raise Invalid("give status, status_notes or both", field="status")
    if status is not None and status not in STATUSES:
        raise Invalid("status must be 'open' or 'closed'", field="status")
    with db.session() as s:
        row = s.get(Open311Request, request_id)
        # Another department's request is a 404: its existence is not disclosed.
        if row is None or not who.sees_department(row.department_code):
            raise NotFound(f"no service request {request_id}", field="request_id")
        set_status(
            s, row, status=status, status_notes=status_notes, actor=who.username, source=source
        )
        return row


def set_status(
    s: Session,
    row: Open311Request,
    *,
    status: str | None,
    status_notes: str | None,
    actor: str,
    source: str = "",
) -> None:
    """Change a request's status and notes inside the caller's transaction, with its event and
    audit record: staff through the API, or a module when its own work answers the report
    (a crew closing the job a citizen's report opened)."""
    before = {"status": row.status, "status_notes": row.status_notes}
    if status is not None:
        row.status = status
    if status_notes is not None:
        row.status_notes = status_notes
    row.updated_at = utcnow()
    after = {"status": row.status, "status_notes": row.status_notes}
    events.emit(
        s,
        "open311.request_updated",
        {**_event(row), "status_notes": row.status_notes, "by": actor},
        row.department_code,
    )
    audit.append(
        s,
        actor=actor,
        action="open311.update",
        target=f"open311:{row.id}",
        source=source,
        detail={"before": before, "after": after},
    )
