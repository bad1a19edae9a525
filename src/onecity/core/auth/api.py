"""Login, logout, who am I, and user administration."""

from __future__ import annotations

from typing import Annotated

import pyotp
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from onecity.core.auth.permissions import Perm, require
from onecity.core.db import utcnow
from onecity.core.deps import ClientSource, CurrentUser, PlatformDep
from onecity.core.http import SESSION_COOKIE
from onecity.core.http_guards import refuse_cross_site
from onecity.core.models import User

router = APIRouter(prefix="/api/v1", tags=["auth"])

Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Name
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    totp: Annotated[str, StringConstraints(pattern=r"^\s*\d{6}\s*$")] | None = None


class LoginOut(BaseModel):
    token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    idle_timeout_s: int
    username: str
    role: str
    department: str | None


class Me(BaseModel):
    username: str
    role: str
    department: str | None
    permissions: list[str]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]{2,64}$")]
    password: Annotated[str, StringConstraints(min_length=8, max_length=256)]
    role: Name
    department: Name | None = None
    display_name: Annotated[str, StringConstraints(max_length=100)] = ""


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Name
    department: Name | None = None


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    department: str | None
    totp_enrolled: bool
    locked: bool


class TotpOut(BaseModel):
    username: str
    secret: str
    otpauth_uri: str


@router.post("/auth/login", response_model=LoginOut)
def login(
    body: LoginIn, request: Request, response: Response, p: PlatformDep, src: ClientSource
) -> LoginOut:
    # Login CSRF: another site must not log this browser into an account of its choosing.
    refuse_cross_site(request, p.settings.public_origin_set)
    res = p.auth.login(body.username, body.password, body.totp, src)
    response.set_cookie(
        SESSION_COOKIE,
        res.token,
        httponly=True,
        samesite="strict",
        secure=p.settings.environment == "production",
    )
    return LoginOut(
        token=res.token,
        idle_timeout_s=res.expires_in_s,
        username=res.principal.username,
        role=res.principal.role,
        department=res.principal.department,
    )


@router.post("/auth/logout", status_code=204)
def logout(response: Response, who: CurrentUser, p: PlatformDep, src: ClientSource) -> None:
    p.auth.logout(who, src)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/auth/me", response_model=Me)
def me(who: CurrentUser) -> Me:
    return Me(
        username=who.username,
        role=who.role,
        department=who.department,
        permissions=sorted(p.value for p in Perm if who.can(p)),
    )


def _user_out(u: User) -> UserOut:
    return UserOut(
        username=u.username,
        display_name=u.display_name,
        role=u.role,
        department=u.department_code,
        totp_enrolled=u.totp_secret is not None,
        locked=u.locked_until is not None and u.locked_until > utcnow(),
    )


@router.get("/users", response_model=list[UserOut])
def list_users(who: CurrentUser, p: PlatformDep) -> list[UserOut]:
    require(who, Perm.USERS_ADMIN)
    return [_user_out(u) for u in p.auth.users()]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(
    body: UserIn,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
) -> UserOut:
    require(who, Perm.USERS_ADMIN)
    u = p.auth.create_user(
        who.username,
        username=body.username,
        password=body.password,
        role=body.role,
        department=body.department,
        display_name=body.display_name,
        source=src,
    )
    return _user_out(u)


@router.put("/users/{username}/role", response_model=UserOut)
def set_role(
    username: str,
    body: RoleIn,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
) -> UserOut:
    require(who, Perm.USERS_ADMIN)
    return _user_out(p.auth.set_role(who.username, username, body.role, body.department, src))


@router.post("/users/{username}/totp", response_model=TotpOut)
def enrol_totp(
    username: str,
    who: CurrentUser,
    p: PlatformDep,
    src: ClientSource,
) -> TotpOut:
    if who.username != username:
        require(who, Perm.USERS_ADMIN)
    secret = p.auth.enrol_totp(who.username, username, src, may_replace=who.can(Perm.USERS_ADMIN))
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="OneCity")
    return TotpOut(username=username, secret=secret, otpauth_uri=str(uri))
