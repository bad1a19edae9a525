"""iTrash's tables outside the ledger: station monitoring state, crews' jobs, trucks and
collection plans, simulation reports. The ledger's own tables are in ledger/models.py; they
are imported here too, so whoever imports this module (migrations/env.py, the tests' table
truncation) registers every waste table on Base.metadata, and older imports keep working."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Integer,
)

from onecity.waste.ledger.models import (
    ACCOUNTS,
    CARD_ISSUE,
    CARD_VALUE,
    FEE_REVENUE,
    REBATE_EXPENSE,
    TOPUP_CASH,
    WasteBlock,
    WasteCard,
    WasteCardFlag,
    WasteCardLink,
    WastePosting,
    WasteSettlement,
    WasteTxn,
    WasteUnconfirmed,
)

# The ledger's tables and accounts, re-exported (and registered on Base.metadata with this
# module); new code imports them from onecity.waste.ledger.models.
__all__ = [
    "ACCOUNTS",
    "CARD_ISSUE",
    "CARD_VALUE",
    "FEE_REVENUE",
    "REBATE_EXPENSE",
    "TOPUP_CASH",
    "WasteBlock",
    "WasteCard",
    "WasteCardFlag",
    "WasteCardLink",
    "WastePosting",
    "WasteSettlement",
    "WasteTxn",
    "WasteUnconfirmed",
]

# Not the ledger's: each table package names its own big integer key type.
BigId = BigInteger().with_variant(Integer(), "sqlite")


# The operations' tables live with their code; imported here so that importing this module (as
# the migrations and the tests do) registers every waste table on Base.metadata.
from onecity.waste.jobs.models import ONE_OPEN_JOB, WasteJob  # noqa: E402
from onecity.waste.monitoring.models import WasteOverflow, WasteStationState  # noqa: E402
from onecity.waste.planning.models import WastePlan, WastePlanStop, WasteTruck  # noqa: E402
from onecity.waste.simulation.models import WasteSimReport  # noqa: E402

__all__ = [
    "ONE_OPEN_JOB",
    "WasteJob",
    "WasteOverflow",
    "WastePlan",
    "WastePlanStop",
    "WasteSimReport",
    "WasteStationState",
    "WasteTruck",
]
