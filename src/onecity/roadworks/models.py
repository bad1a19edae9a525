"""Every RPIC table, for whoever needs them all registered on Base.metadata at once (Alembic's
env.py, the tests that truncate every table). Code imports a table from its aggregate's
models module: permits/, registry/, pipes/ or sites/."""

from __future__ import annotations

from onecity.roadworks.permits.models import LocateRequest, Permit, PermitStep
from onecity.roadworks.pipes.models import PipeRow
from onecity.roadworks.registry.models import (
    BigId,
    DigBanRow,
    EmbargoRow,
    FeeSchedule,
    PenaltyRow,
    RoadOrg,
    RoadOrgMember,
)
from onecity.roadworks.sites.models import SiteCamera, SitePhoto

__all__ = [
    "BigId",
    "DigBanRow",
    "EmbargoRow",
    "FeeSchedule",
    "LocateRequest",
    "PenaltyRow",
    "Permit",
    "PermitStep",
    "PipeRow",
    "RoadOrg",
    "RoadOrgMember",
    "SiteCamera",
    "SitePhoto",
]
