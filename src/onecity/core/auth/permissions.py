"""The one place that says who may do what. Routes ask `require(principal, permission)`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from onecity.core.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    CREW = "crew"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    DISPATCHER = "dispatcher"
    CONTRACTOR = "contractor"
    SCHOOL_GUARD = "school_guard"
    CITIZEN = "citizen"


class Perm(StrEnum):
    DEVICES_READ = "devices:read"
    DEVICES_WRITE = "devices:write"
    DEVICE_KEYS = "devices:keys"
    TELEMETRY_READ = "telemetry:read"
    TELEMETRY_EXPORT = "telemetry:export"
    ALERTS_READ = "alerts:read"
    ALERTS_HANDLE = "alerts:handle"
    RULES_WRITE = "rules:write"
    USERS_ADMIN = "users:admin"
    AUDIT_READ = "audit:read"
    WASTE_READ = "waste:read"  # station transactions, cards, settlements
    WASTE_MANAGE = "waste:manage"  # issue cards, block and unblock them
    OWN_CARDS = "cards:own"  # a citizen's own registered cards
    WASTE_JOBS = "waste:jobs"  # see, accept and close iTrash station crew jobs
    OPEN311_HANDLE = "open311:handle"  # set the status and notes of citizens' reports
    WEBHOOKS_MANAGE = "webhooks:manage"  # outbound webhooks for one's department's events
    ROADWORKS_READ = "roadworks:read"  # the permit register, locate requests, site monitoring
    ROADWORKS_APPLY = "roadworks:apply"  # file permits, report works, answer locate requests
    ROADWORKS_ASSESS = "roadworks:assess"  # grant or refuse permits, inspect, record penalties
    CITY_WIDE = "scope:city"  # sees every department's records, not only its own


_STAFF_READ = {Perm.DEVICES_READ, Perm.TELEMETRY_READ, Perm.ALERTS_READ}
# Citizens' reports land in a department's queue; its handling staff answer them.
_HANDLERS = {Perm.ALERTS_HANDLE, Perm.OPEN311_HANDLE}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    # Everything but a card holder's own cards: an administrator's account is not a citizen's.
    Role.ADMIN: frozenset(set(Perm) - {Perm.OWN_CARDS}),
    Role.SUPERVISOR: frozenset(
        _STAFF_READ
        | {
            Perm.ALERTS_HANDLE,
            Perm.OPEN311_HANDLE,
            Perm.DEVICES_WRITE,
            Perm.RULES_WRITE,
            Perm.TELEMETRY_EXPORT,
            Perm.WASTE_READ,
            Perm.WASTE_MANAGE,
            Perm.WASTE_JOBS,
            Perm.WEBHOOKS_MANAGE,
            Perm.ROADWORKS_READ,
            Perm.ROADWORKS_ASSESS,
        }
    ),
    Role.OPERATOR: frozenset(
        _STAFF_READ
        | {
            Perm.ALERTS_HANDLE,
            Perm.OPEN311_HANDLE,
            Perm.DEVICES_WRITE,
            Perm.DEVICE_KEYS,
            Perm.WASTE_READ,
            Perm.WASTE_MANAGE,
            Perm.WASTE_JOBS,
            Perm.WEBHOOKS_MANAGE,
            Perm.ROADWORKS_READ,
            Perm.ROADWORKS_ASSESS,
        }
    ),
    Role.DISPATCHER: frozenset(_STAFF_READ | _HANDLERS | {Perm.WASTE_JOBS}),
    Role.CREW: frozenset(_STAFF_READ | _HANDLERS | {Perm.WASTE_JOBS}),
    Role.OFFICER: frozenset(_STAFF_READ),
    Role.SCHOOL_GUARD: frozenset({Perm.DEVICES_READ, Perm.ALERTS_READ, Perm.ALERTS_HANDLE}),
    # Utilities' and contractors' staff: their own organisation's permits and locate requests.
    Role.CONTRACTOR: frozenset({Perm.DEVICES_READ, Perm.ROADWORKS_APPLY}),
    Role.CITIZEN: frozenset({Perm.OWN_CARDS}),
}


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role
    department: str | None
    session_id: int | None = None

    def can(self, perm: Perm) -> bool:
        return perm in ROLE_PERMISSIONS[self.role]

    @property
    def city_wide(self) -> bool:
        return self.can(Perm.CITY_WIDE)

    def sees_department(self, department: str | None) -> bool:
        return self.city_wide or (department is not None and department == self.department)


def require(principal: Principal, perm: Perm) -> None:
    if not principal.can(perm):
        raise Forbidden(f"role '{principal.role}' may not {perm.value.replace(':', ' ')}")
