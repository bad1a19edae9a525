"""What the operator's command line shows: the platform at a glance (`onecity status`) and long
lists one page at a time (`onecity devices list`, `alerts list`, `users list`), read-only,
with Rich tables that say which rows of how many are shown. The CLI runs on the server with
the database's own rights, so these read everything (no department scope)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from rich.table import Table
from sqlalchemy import Select, func, select

from onecity.core.alerts_status import AlertStatus
from onecity.core.db import Database
from onecity.core.models import Alert, AuditRecord, Device, Event, User

MAX_LIMIT = 500


@dataclass(frozen=True)
class Page:
    """Rows `offset + 1` .. `offset + len(rows)` of `total`."""

    columns: Sequence[str]
    rows: Sequence[tuple[str, ...]]
    total: int
    offset: int
    limit: int

    def showing(self) -> str:
        """'showing 1-50 of 312 (next: --offset 50)' (with an en dash), or what is wrong
        with the offset."""
        if self.total == 0:
            return "nothing to show"
        if not self.rows:
            return f"nothing at offset {self.offset}: there are {self.total}"
        last = self.offset + len(self.rows)
        more = f" (next: --offset {last})" if last < self.total else ""
        return f"showing {self.offset + 1}–{last} of {self.total}{more}"

    def table(self, title: str) -> Table:
        t = Table(title=title, caption=self.showing(), caption_justify="left")
        for c in self.columns:
            t.add_column(c, overflow="fold")
        for r in self.rows:
            t.add_row(*r)
        return t


def _when(v: datetime | None, tz: tzinfo) -> str:
    """A time in the city's time zone, as its people read it."""
    return v.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if v else "-"


def _page(
    db: Database, q: Select[Any], columns: Sequence[str], limit: int, offset: int
) -> tuple[list[Any], int]:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"--limit must be from 1 to {MAX_LIMIT}")
    if offset < 0:
        raise ValueError("--offset must be 0 or more")
    with db.read() as s:
        total = int(s.execute(select(func.count()).select_from(q.subquery())).scalar_one())
        rows = list(s.execute(q.limit(limit).offset(offset)).tuples())
    return rows, total


def devices(
    db: Database,
    *,
    type_: str | None = None,
    department: str | None = None,
    connectivity: str | None = None,
    limit: int = 50,
    offset: int = 0,
    tz: tzinfo = UTC,
) -> Page:
    q = select(Device).order_by(Device.id)
    if type_:
        q = q.where(Device.type == type_)
    if department:
        q = q.where(Device.department_code == department)
    if connectivity:
        q = q.where(Device.connectivity == connectivity)
    cols = ("id", "name", "type", "department", "district", "connectivity", "last seen")
    rows, total = _page(db, q, cols, limit, offset)
    out = [
        (d.id, d.name, d.type, d.department_code, d.district or "-", d.connectivity, seen)
        for (d,) in rows
        for seen in (_when(d.last_seen_at, tz),)
    ]
    return Page(cols, out, total, offset, limit)


def alerts(
    db: Database, *, state: str = "active", limit: int = 50, offset: int = 0, tz: tzinfo = UTC
) -> Page:
    q = select(Alert).order_by(Alert.id.desc())
    if state == "active":
        q = q.where(Alert.state != AlertStatus.RESOLVED.value)
    elif state != "all":
        q = q.where(Alert.state == state)
    cols = ("id", "device", "kind", "severity", "state", "message", "opened")
    rows, total = _page(db, q, cols, limit, offset)
    out = [
        (str(a.id), a.device_id, a.kind, a.severity, a.state, a.message, _when(a.opened_at, tz))
        for (a,) in rows
    ]
    return Page(cols, out, total, offset, limit)


def users(db: Database, *, limit: int = 50, offset: int = 0) -> Page:
    q = select(User).order_by(User.username)
    cols = ("username", "role", "department", "second factor", "state")
    rows, total = _page(db, q, cols, limit, offset)
    out = [
        (
            u.username,
            u.role,
            u.department_code or "-",
            "TOTP" if u.totp_secret else "-",
            "disabled" if u.disabled else "active",
        )
        for (u,) in rows
    ]
    return Page(cols, out, total, offset, limit)


def status(db: Database, modules: Sequence[str], tz: tzinfo = UTC) -> Table:
    """The platform at a glance: database, modules, devices by connectivity, open alerts by
    severity, the audit log and the event outbox."""
    with db.read() as s:
        conn = dict(
            s.execute(select(Device.connectivity, func.count()).group_by(Device.connectivity))
            .tuples()
            .all()
        )
        sev = dict(
            s.execute(
                select(Alert.severity, func.count())
                .where(Alert.state != AlertStatus.RESOLVED.value)
                .group_by(Alert.severity)
            )
            .tuples()
            .all()
        )
        audit_n = s.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
        last_event = s.execute(select(func.max(Event.created_at))).scalar_one()
    t = Table(title="OneCity status", show_header=False)
    t.add_column("what", style="bold")
    t.add_column("state")
    t.add_row("database", db.engine.url.render_as_string(hide_password=True))
    t.add_row("modules", ", ".join(modules) or "none (ONECITY_MODULES)")
    devices_line = ", ".join(f"{conn.get(k, 0)} {k}" for k in ("online", "offline", "unknown"))
    t.add_row("devices", f"{sum(conn.values())}: {devices_line}")
    alerts_line = ", ".join(f"{sev.get(k, 0)} {k}" for k in ("critical", "warning", "info"))
    t.add_row("open alerts", f"{sum(sev.values())}: {alerts_line}")
    t.add_row("audit log", f"{audit_n} records")
    t.add_row("last event", _when(last_event, tz))
    return t
