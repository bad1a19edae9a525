"""What a route asks the HTTP edge for, as `Annotated` aliases: `who: CurrentUser` rather
than `who: Principal = Depends(principal)` at every route. FastAPI reads both the same way, so
the OpenAPI document does not change; an alias also needs no default, so it may stand before
the route's query parameters.

    @router.post("/things", status_code=201)
    def create_thing(body: ThingIn, who: CurrentUser, p: PlatformDep, src: ClientSource): ...
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from onecity.core.auth.permissions import Principal
from onecity.core.http import device_key, device_key_header, platform, principal, source
from onecity.core.platform import Platform


async def client_source(request: Request) -> str:
    """The caller's address, as audit records name it. async, though it does no I/O: a plain
    `def` dependency costs every request a hop through the thread pool."""
    return source(request)


# The logged-in person (401 without a valid session; 403 for a cross-site cookie).
CurrentUser = Annotated[Principal, Depends(principal)]
# The process's Platform (settings, database, city profile, core services).
PlatformDep = Annotated[Platform, Depends(platform)]
# Where the request came from, for the audit trail.
ClientSource = Annotated[str, Depends(client_source)]
# The id of the device whose key the request carries, checked (401 unknown or revoked).
CurrentDevice = Annotated[str, Depends(device_key)]
# The device key a request carries, not yet checked, for handlers that check it themselves.
DeviceKey = Annotated[str, Depends(device_key_header)]

__all__ = [
    "ClientSource",
    "CurrentDevice",
    "CurrentUser",
    "DeviceKey",
    "PlatformDep",
    "client_source",
]
