"""Road works permits, locate requests and organisations. Parse → service → schema."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from onecity.core.deps import CurrentUser, PlatformDep
from onecity.core.http import MAX_INT64, source
from onecity.roadworks.permits import amend
from onecity.roadworks.permits import schemas as sc
from onecity.roadworks.permits.locate_desk import LocateDesk
from onecity.roadworks.permits.service import PermitService
from onecity.roadworks.permits.works import WorksDesk
from onecity.roadworks.registry.orgs import OrgRegistry
from onecity.roadworks.services import RoadworksServices

router = APIRouter(prefix="/api/v1/roadworks", tags=["road works permits"])

Ref = Annotated[str, Path(min_length=1, max_length=24, pattern=r"^RW-\d{4}-\d{6,}$")]
Id = Annotated[int, Path(ge=1, le=MAX_INT64)]
Status = Literal[
    "applied",
    "changes_requested",
    "granted",
    "refused",
    "withdrawn",
    "in_progress",
    "works_done",
    "restored",
    "closed",
]


async def service(p: PlatformDep) -> PermitService:
    return p.services(RoadworksServices).permits


Permits = Annotated[PermitService, Depends(service)]


async def orgs(p: PlatformDep) -> OrgRegistry:
    return p.services(RoadworksServices).orgs


Orgs = Annotated[OrgRegistry, Depends(orgs)]


@router.get("/orgs", response_model=list[sc.OrgOut])
def list_orgs(who: CurrentUser, reg: Orgs) -> list[sc.OrgOut]:
    """Utilities, contractors and agencies; contractors with their penalty points and bar."""
    return reg.list(who)


@router.post("/orgs", response_model=sc.OrgOut, status_code=201)
def add_org(
    body: sc.OrgIn,
    request: Request,
    who: CurrentUser,
    reg: Orgs,
) -> sc.OrgOut:
    return reg.add(who, body, source(request))


@router.post("/footprints/check", response_model=sc.FootprintOut)
def check_footprint(body: sc.FootprintIn, who: CurrentUser, svc: Permits) -> sc.FootprintOut:
    """A works outline checked on its own (pasted or loaded from a file): its area and
    district, or a 422 whose `error` names what is wrong (wrong_type, self_intersecting,
    outside_city, trench_width, no_area, too_large, not_degrees, …). Writes nothing."""
    return svc.footprint(who, body)


@router.post("/permits/check", response_model=sc.CheckOut)
def check(body: sc.PermitIn, who: CurrentUser, svc: Permits) -> sc.CheckOut:
    """What the rules say about an application (conflicts, dig bans, embargoes, notice, night
    works, fee, pipe owners to be asked) without filing it."""
    return svc.check(who, body)


@router.post("/permits", response_model=sc.PermitOut, status_code=201)
def apply(
    body: sc.PermitIn,
    request: Request,
    who: CurrentUser,
    svc: Permits,
) -> sc.PermitOut:
    """File an application (emergency works: report them, they are under way)."""
    return svc.apply(who, body, source(request))


@router.get("/permits", response_model=sc.PermitPage)
def list_permits(
    who: CurrentUser,
    svc: Permits,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> sc.PermitPage:
    return svc.list(who, status, limit, offset)


@router.get("/permits/{ref}", response_model=sc.PermitOut)
def get_permit(ref: Ref, who: CurrentUser, svc: Permits) -> sc.PermitOut:
    """A permit with its findings, fee, locate requests and every step."""
    return svc.get(who, ref)


@router.post("/permits/{ref}/decision", response_model=sc.PermitOut)
def decide(
    ref: Ref,
    body: sc.DecisionIn,
    request: Request,
    who: CurrentUser,
    svc: Permits,
) -> sc.PermitOut:
    """RPIC's answer: grant (as a joint dig where works clash), refuse, or ask for changes."""
    return svc.decide(who, ref, body, source(request))


@router.post("/permits/{ref}/resubmit", response_model=sc.PermitOut)
def resubmit(
    ref: Ref,
    body: sc.PermitIn,
    request: Request,
    who: CurrentUser,
    svc: Permits,
) -> sc.PermitOut:
    """Send an application that RPIC asked to change back, amended: checked again as a whole,
    with the pipe owners asked again about the new footprint."""
    return amend.resubmit(svc, who, ref, body, source(request))


@router.post("/permits/{ref}/progress", response_model=sc.PermitOut)
def progress(
    ref: Ref,
    body: sc.ProgressIn,
    request: Request,
    who: CurrentUser,
    svc: Permits,
) -> sc.PermitOut:
    """The works started (every locate request answered), stopped, or the road restored."""
    return WorksDesk(svc).progress(who, ref, body, source(request))


@router.post("/permits/{ref}/inspection", response_model=sc.PermitOut)
def inspect(
    ref: Ref,
    body: sc.InspectIn,
    request: Request,
    who: CurrentUser,
    svc: Permits,
) -> sc.PermitOut:
    """The restoration inspected: pass closes the permit, fail sends it back."""
    return WorksDesk(svc).inspect(who, ref, body, source(request))


@router.post("/permits/{ref}/withdraw", response_model=sc.PermitOut)
def withdraw(
    ref: Ref,
    request: Request,
    who: CurrentUser,
    svc: Permits,
) -> sc.PermitOut:
    return WorksDesk(svc).withdraw(who, ref, source(request))


@router.get("/locates", response_model=list[sc.LocateOut])
def locates(
    who: CurrentUser,
    svc: Permits,
    pending: bool = False,
) -> list[sc.LocateOut]:
    """Locate requests for the caller's organisations, soonest due first."""
    return LocateDesk(svc).queue(who, pending)


@router.post("/locates/{locate_id}/answer", response_model=sc.LocateOut)
def answer_locate(
    locate_id: Id,
    body: sc.LocateAnswerIn,
    request: Request,
    who: CurrentUser,
    svc: Permits,
) -> sc.LocateOut:
    """A pipe owner's answer: marked on site, clear, or conflict (with what to do)."""
    return LocateDesk(svc).answer(who, locate_id, body, source(request))
