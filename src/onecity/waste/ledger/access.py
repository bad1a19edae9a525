"""What every part of the ledger shares: the database, the department that runs the stations,
the city's time zone and tariffs, and the two access checks (operators of that department;
devices that are iTrash stations)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from onecity.core.auth.permissions import Perm, Principal, require
from onecity.core.db import Database
from onecity.core.errors import Forbidden
from onecity.core.models import Device
from onecity.waste.rules.money import Material, TariffTable
from onecity.waste.rules.stations import STATION_TYPE


@dataclass(frozen=True)
class LedgerContext:
    db: Database
    department: str  # the department whose operators see the records
    tz: ZoneInfo  # the city's time zone: tariff days, "today"
    tariffs: TariffTable  # the city's garbage tariffs (city.toml [waste.tariffs])
    rebate_points: Mapping[Material, int]  # the city's recycling rebates, points per item
    link_key: bytes  # link codes' HMAC key (card_links.card_link_key)

    def staff(self, who: Principal, perm: Perm) -> None:
        """An operator with `perm` in the department that runs the stations."""
        require(who, perm)
        if not who.sees_department(self.department):
            raise Forbidden(
                f"iTrash records belong to department '{self.department}'", code="forbidden"
            )


def terminal(s: Session, terminal_id: str) -> Device:
    """The station device `terminal_id`, or Forbidden when it is not an iTrash station."""
    dev = s.get(Device, terminal_id)
    if dev is None or dev.type != STATION_TYPE:
        raise Forbidden(
            f"device '{terminal_id}' is not an iTrash station (type {STATION_TYPE})",
            code="not_a_station",
        )
    return dev
