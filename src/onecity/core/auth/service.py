"""Login, sessions and user administration. Each function is one unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onecity.core import audit
from onecity.core.auth.permissions import Principal, Role
from onecity.core.auth.secrets import (
    check_password,
    check_totp,
    hash_password,
    new_token,
    new_totp_secret,
    token_hash,
)
from onecity.core.auth.throttle import Attempt
from onecity.core.db import Database, utcnow
from onecity.core.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Throttled,
    Unauthenticated,
)
from onecity.core.models import AuthSession, Department, User
from onecity.settings import Settings

# Refreshing last_seen_at on every request would make every read a write; a minute is plenty
# of resolution for a 30-minute idle limit.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_in_s: int
    principal: Principal


class AuthService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    # --- login -----------------------------------------------------------------------------
    def login(
        self, username: str, password: str, totp: str | None, source: str = ""
    ) -> LoginResult:
        now = utcnow()
        with self.db.session() as s:
            # The throttle's counters stay locked for the whole attempt: concurrent wrong
            # passwords must each count, in every API process.
            attempt = Attempt(s, username, source, self.settings, now)
            try:
                attempt.refuse_if_waiting()
            except Throttled:
                # Before any user lookup or hashing: the same answer whether or not the
                # account exists. The refusal is evidence too: keep its audit record.
                audit.append(s, actor=username, action="login", outcome="throttled", source=source)
                s.commit()
                raise
            user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
            ok = check_password(user.password_hash if user else None, password)
            if user is None or not ok or user.disabled:
                self._refuse(
                    s,
                    attempt,
                    username,
                    source,
                    None,
                    count=True,
                    error=Unauthenticated("wrong username or password", code="bad_credentials"),
                )
            self._second_factor(s, attempt, user, source, totp)
            attempt.succeeded()
            token = new_token()
            sess = AuthSession(
                token_hash=token_hash(token),
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=self.settings.session_max_hours),
                ip=source,
            )
            s.add(sess)
            s.flush()
            audit.append(s, actor=username, action="login", outcome="ok", source=source)
            principal = Principal(
                user.id, user.username, Role(user.role), user.department_code, sess.id
            )
        return LoginResult(token, self.settings.session_idle_minutes * 60, principal)

    def _second_factor(
        self, s: Session, attempt: Attempt, user: User, source: str, totp: str | None
    ) -> None:
        """A TOTP code, when the user has one enrolled or their role requires one; a refusal
        raises, after the attempt is counted and audited."""
        if user.totp_secret is None and user.role not in self.settings.totp_roles:
            return
        if user.totp_secret is None:
            self._refuse(
                s,
                attempt,
                user.username,
                source,
                "totp not enrolled",
                error=Unauthenticated(
                    "your role requires a TOTP second factor; ask an "
                    "administrator to enrol one (onecity users totp USERNAME)",
                    code="totp_enrolment_required",
                ),
            )
        if not totp:
            self._refuse(
                s,
                attempt,
                user.username,
                source,
                "totp missing",
                error=Unauthenticated(
                    "enter the 6-digit code from your authenticator app",
                    code="totp_required",
                    field="totp",
                ),
            )
        if not check_totp(user.totp_secret, totp or ""):
            self._refuse(
                s,
                attempt,
                user.username,
                source,
                "bad totp",
                count=True,
                error=Unauthenticated("wrong TOTP code", code="bad_totp", field="totp"),
            )

    def _refuse(
        self,
        s: Session,
        attempt: Attempt,
        username: str,
        source: str,
        reason: str | None,
        *,
        error: Unauthenticated,
        count: bool = False,
    ) -> NoReturn:
        """Record a refused login (and, for a wrong secret, count it toward the throttle),
        commit that record, then raise: the refusal is evidence too."""
        if count:
            attempt.failed()
        audit.append(
            s,
            actor=username,
            action="login",
            outcome="denied",
            source=source,
            detail={"reason": reason} if reason else None,
        )
        s.commit()
        raise error

    def logout(self, principal: Principal, source: str = "") -> None:
        with self.db.session() as s:
            s.execute(
                update(AuthSession)
                .where(AuthSession.id == principal.session_id)
                .values(ended_at=utcnow())
            )
            audit.append(s, actor=principal.username, action="logout", source=source)

    def authenticate(self, token: str, touch: bool = True) -> Principal:
        """Turn a bearer token or session cookie into a principal, enforcing the idle limit.

        `touch=False` is for requests nobody asked for (a browser's timer polling an
        unattended page): still checked, still refused once idle, but they do not count as
        activity, so they cannot keep the session alive forever."""
        now = utcnow()
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        with self.db.read() as s:
            row = s.execute(
                select(AuthSession, User)
                .join(User, User.id == AuthSession.user_id)
                .where(AuthSession.token_hash == token_hash(token))
            ).one_or_none()
        if row is None:
            raise Unauthenticated("unknown or expired token; log in again", code="bad_token")
        sess, user = row
        if sess.ended_at is not None or user.disabled:
            raise Unauthenticated("this session has ended; log in again", code="session_ended")
        if sess.expires_at <= now:
            raise Unauthenticated("this session has expired; log in again", code="session_expired")
        if sess.last_seen_at + idle <= now:
            raise Unauthenticated(
                f"session ended after {self.settings.session_idle_minutes} idle minutes; "
                "log in again",
                code="session_idle",
            )
        if touch and now - sess.last_seen_at >= _TOUCH_EVERY:
            with self.db.session() as s:
                s.execute(
                    update(AuthSession).where(AuthSession.id == sess.id).values(last_seen_at=now)
                )
        return Principal(user.id, user.username, Role(user.role), user.department_code, sess.id)

    # --- administration --------------------------------------------------------------------
    def users(self) -> list[User]:
        """Every account, by username."""
        with self.db.read() as s:
            return list(s.execute(select(User).order_by(User.username)).scalars())

    def create_user(
        self,
        actor: str,
        *,
        username: str,
        password: str,
        role: str,
        department: str | None,
        display_name: str = "",
        source: str = "",
    ) -> User:
        if role not in {r.value for r in Role}:
            raise Invalid(f"unknown role '{role}'", field="role")
        if len(password) < 8:
            raise Invalid("password must be at least 8 characters", field="password")
        with self.db.session() as s:
            if department is not None and s.get(Department, department) is None:
                raise Invalid(f"unknown department '{department}'", field="department")
            if s.execute(select(User.id).where(User.username == username)).first():
                raise Conflict(f"user '{username}' already exists", field="username")
            user = User(
                username=username,
                password_hash=hash_password(password),
                role=role,
                department_code=department,
                display_name=display_name or username,
            )
            s.add(user)
            try:
                s.flush()
            except IntegrityError:
                # A concurrent create of the same username committed first.
                raise Conflict(f"user '{username}' already exists", field="username") from None
            audit.append(
                s,
                actor=actor,
                action="user.create",
                target=username,
                source=source,
                detail={"role": role, "department": department},
            )
        return user

    def set_role(
        self, actor: str, username: str, role: str, department: str | None, source: str = ""
    ) -> User:
        if role not in {r.value for r in Role}:
            raise Invalid(f"unknown role '{role}'", field="role")
        with self.db.session() as s:
            user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                raise NotFound(f"no user '{username}'")
            if department is not None and s.get(Department, department) is None:
                raise Invalid(f"unknown department '{department}'", field="department")
            before = {"role": user.role, "department": user.department_code}
            user.role = role
            user.department_code = department
            audit.append(
                s,
                actor=actor,
                action="permission.change",
                target=username,
                source=source,
                detail={"before": before, "after": {"role": role, "department": department}},
            )
        return user

    def enrol_totp(
        self, actor: str, username: str, source: str = "", *, may_replace: bool = True
    ) -> str:
        """A new TOTP secret for the user. `may_replace=False` (people enrolling themselves)
        refuses to overwrite an existing one: else a stolen session could swap the factor."""
        secret = new_totp_secret()
        with self.db.session() as s:
            user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                raise NotFound(f"no user '{username}'")
            if user.totp_secret is not None and not may_replace:
                raise Forbidden(
                    "a TOTP factor is already enrolled; ask an administrator to reset it",
                    code="totp_already_enrolled",
                )
            user.totp_secret = secret
            audit.append(s, actor=actor, action="user.totp_enrol", target=username, source=source)
        return secret
