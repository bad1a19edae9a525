"""The iTrash API: the station protocol (device keys), operator views, citizens' own cards.
Parse → service → schema; every rule lives in the service and the domain."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from onecity.core.dates import CityDate
from onecity.core.deps import CurrentDevice, CurrentUser, DeviceKey, PlatformDep
from onecity.core.http import (
    MAX_INT64,
    source,
)
from onecity.waste.ledger import schemas as sc
from onecity.waste.ledger.service import WasteService
from onecity.waste.services import WasteServices

router = APIRouter(prefix="/api/v1/waste", tags=["waste"])

CardPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,32}$")]


async def service(p: PlatformDep) -> WasteService:
    return p.services(WasteServices).ledger


Ledger = Annotated[WasteService, Depends(service)]


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


# --- stations (device key) -------------------------------------------------------------------
@router.post("/terminal/sign-on", response_model=sc.SignOnOut, tags=["waste stations"])
def sign_on(
    body: sc.SignOnIn,
    terminal: CurrentDevice,
    svc: Ledger,
) -> sc.SignOnOut:
    """A station starts its day: server time, tariffs and the blocklist version."""
    return svc.sign_on(terminal, body)


@router.get("/terminal/blocklist", response_model=sc.BlocklistOut, tags=["waste stations"])
def terminal_blocklist(
    terminal: CurrentDevice,
    svc: Ledger,
    since: Annotated[int | None, Query(ge=0, le=MAX_INT64)] = None,
) -> sc.BlocklistOut:
    return svc.blocklist(terminal, since)


@router.post("/terminal/transactions", response_model=sc.TxnBatchOut, tags=["waste stations"])
def upload(
    body: sc.TxnBatchIn,
    key: DeviceKey,
    p: PlatformDep,
    svc: Ledger,
) -> Response:
    """Store card writes exactly once. A retry answers `duplicate` with the first id; the same
    terminal number with other content is 409 `payload_differs`. All or nothing per call."""
    # Every station's hot path: the key is checked here, in this handler's one worker thread.
    return _json(svc.upload(p.devices.authenticate_key(key), body))


@router.post(
    "/terminal/unconfirmed", response_model=sc.UnconfirmedBatchOut, tags=["waste stations"]
)
def unconfirmed(
    body: sc.UnconfirmedBatchIn,
    terminal: CurrentDevice,
    svc: Ledger,
) -> sc.UnconfirmedBatchOut:
    """Writes the station started but could not confirm (the card was pulled and never came
    back). Each becomes a transaction once the card's chain shows it happened."""
    return svc.report_unconfirmed(terminal, body)


@router.post("/terminal/settlements", response_model=sc.SettlementOut, tags=["waste stations"])
def settle(
    body: sc.SettlementIn,
    terminal: CurrentDevice,
    svc: Ledger,
) -> sc.SettlementOut:
    return svc.settle(terminal, body)


# --- public ----------------------------------------------------------------------------------
@router.get("/tariffs", response_model=list[sc.TariffOut])
def tariffs(svc: Ledger) -> list[sc.TariffOut]:
    """Every version of the garbage tariff, oldest first (public)."""
    return svc.tariff_list()


# --- operators -------------------------------------------------------------------------------
@router.get("/transactions", response_model=sc.TxnPage)
def transactions(
    who: CurrentUser,
    svc: Ledger,
    card_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{1,32}$")] = None,
    terminal_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: Literal["garbage", "recycle", "topup"] | None = None,
    day: CityDate | None = None,
    cursor: Annotated[int | None, Query(ge=1, le=MAX_INT64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    return _json(
        svc.transactions(
            who,
            card_id=card_id,
            terminal_id=terminal_id,
            kind=kind,
            day=day,
            cursor=cursor,
            limit=limit,
        )
    )


@router.get("/cards", response_model=sc.CardPage)
def cards(
    who: CurrentUser,
    svc: Ledger,
    q: Annotated[str | None, Query(max_length=32)] = None,
    status: Literal["blocked", "flagged", "registered"] | None = None,
    cursor: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{1,32}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    return _json(svc.cards(who, q=q, status=status, cursor=cursor, limit=limit))


@router.post("/cards", response_model=sc.IssueOut, status_code=201)
def issue_cards(
    body: sc.CardIssueBatchIn,
    request: Request,
    who: CurrentUser,
    svc: Ledger,
) -> sc.IssueOut:
    """Enter cards into the registry with their present balance and counter (from the card
    issuer). A card already registered is left unchanged."""
    return svc.issue_cards(who, body, source(request))


@router.get("/cards/{card_id}", response_model=sc.CardDetail)
def card(card_id: CardPath, who: CurrentUser, svc: Ledger) -> Response:
    return _json(svc.card(who, card_id))


@router.post("/cards/{card_id}/block", response_model=sc.BlockOut)
def block(
    card_id: CardPath,
    body: sc.BlockIn,
    request: Request,
    who: CurrentUser,
    svc: Ledger,
) -> sc.BlockOut:
    return svc.set_blocked(who, card_id, True, body.reason, source(request))


@router.post("/cards/{card_id}/unblock", response_model=sc.BlockOut)
def unblock(
    card_id: CardPath,
    body: sc.BlockIn,
    request: Request,
    who: CurrentUser,
    svc: Ledger,
) -> sc.BlockOut:
    return svc.set_blocked(who, card_id, False, body.reason, source(request))


@router.post("/cards/{card_id}/detach", status_code=204)
def detach(
    card_id: CardPath,
    body: sc.DetachIn,
    request: Request,
    who: CurrentUser,
    svc: Ledger,
) -> Response:
    """Release a card from the citizen account it is linked to (its holder came to the service
    desk); the account is told, and the card's next link code links it again."""
    svc.detach_card(who, card_id, body.reason, source(request))
    return Response(status_code=204)


@router.get("/blocklist", response_model=sc.BlockPage)
def blocklist(who: CurrentUser, svc: Ledger) -> sc.BlockPage:
    return svc.blocklist_page(who)


@router.get("/settlements", response_model=sc.SettlementPage)
def settlements(
    who: CurrentUser,
    svc: Ledger,
    status: Literal["matched", "mismatch"] | None = None,
    terminal_id: Annotated[str | None, Query(max_length=64)] = None,
) -> sc.SettlementPage:
    return svc.settlements(who, status=status, terminal_id=terminal_id)


@router.get("/ledger", response_model=sc.LedgerOut)
def ledger(who: CurrentUser, svc: Ledger) -> sc.LedgerOut:
    """Totals per account. `balanced` is true when the postings sum to zero and the card
    mirrors add up to the card-value account."""
    return svc.ledger(who)


@router.get("/stations", response_model=list[sc.StationOut])
def stations(who: CurrentUser, svc: Ledger) -> list[sc.StationOut]:
    return svc.stations(who)


# --- citizens --------------------------------------------------------------------------------
@router.get("/my/cards", response_model=list[sc.CardDetail])
def my_cards(who: CurrentUser, svc: Ledger) -> list[sc.CardDetail]:
    return svc.my_cards(who)


@router.post("/my/cards", response_model=sc.CardDetail, status_code=201)
def register_card(
    body: sc.RegisterCardIn,
    request: Request,
    who: CurrentUser,
    svc: Ledger,
) -> sc.CardDetail:
    """Link a card to one's account with the link code a station showed and printed after a
    transaction of that card (once, within 48 hours), if no account holds the card. Any
    mismatch, a card linked to another account included, answers 422 `link_refused`, the same
    whatever was wrong; repeated failures answer 429 `too_many_attempts` with Retry-After (per
    account and per card). A linked card leaves its account only when that account unlinks it
    or the department's staff detach it."""
    return svc.register_card(who, body, source(request))


@router.get("/my/card-notices", response_model=list[sc.CardNoticeOut])
def my_card_notices(who: CurrentUser, svc: Ledger) -> list[sc.CardNoticeOut]:
    """Cards that left this account without it in the last 90 days: detached by the
    department's staff at the holder's request."""
    return svc.card_notices(who)


@router.delete("/my/cards/{card_id}", status_code=204)
def unregister_card(
    card_id: CardPath,
    request: Request,
    who: CurrentUser,
    svc: Ledger,
) -> Response:
    svc.unregister_card(who, card_id, source(request))
    return Response(status_code=204)
