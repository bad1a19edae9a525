"""Failed-login throttling with exponential backoff, kept in the database so that every API
process counts the same failures.

Three counters per attempt, each with its own threshold:
- the account from this client: a few failures, then a short wait that doubles with each
  further failure (this is what a person who mistypes meets);
- this client, whatever the account: many failures (password spraying from one address);
- the account, whatever the client: many failures (guessing from many addresses).
A stranger can therefore only slow down the account from their own address: the real user,
elsewhere, logs in as usual until many addresses together pass the account's ceiling.

Keys are built from the username as typed, so an unknown user is throttled exactly like a
known one and the answers do not tell which accounts exist. An attempt refused because of a
wait does not count, so waiting is never extended by the refused attempts themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from onecity.core.db import insert_for
from onecity.core.errors import Throttled
from onecity.core.models import LoginThrottle
from onecity.settings import Settings


@dataclass(frozen=True)
class _Counter:
    key: str
    threshold: int


def _counters(username: str, client: str, settings: Settings) -> list[_Counter]:
    # A client with no address (tests, a local socket) still gets a key of its own.
    client = client or "-"
    return sorted(
        [
            _Counter(f"ac:{username}|{client}", settings.login_max_failures),
            _Counter(f"c:{client}", settings.login_client_max_failures),
            _Counter(f"a:{username}", settings.login_account_max_failures),
        ],
        key=lambda c: c.key,
    )


class Attempt:
    """The counters of one login attempt, locked for the attempt (one unit of work)."""

    def __init__(
        self, s: Session, username: str, client: str, settings: Settings, now: datetime
    ) -> None:
        self.s = s
        self.settings = settings
        self.now = now
        self.counters = _counters(username, client, settings)
        window = timedelta(minutes=settings.login_window_minutes)
        # Ensure the rows exist, then lock them in key order (the same order in every process,
        # so two attempts cannot deadlock): concurrent failures each count.
        s.execute(
            insert_for(s)(LoginThrottle)
            .values(
                [
                    {"key": c.key, "failures": 0, "last_failure_at": now - window * 2}
                    for c in self.counters
                ]
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        self.rows = {
            r.key: r
            for r in s.execute(
                select(LoginThrottle)
                .where(LoginThrottle.key.in_([c.key for c in self.counters]))
                .order_by(LoginThrottle.key)
                .with_for_update()
            ).scalars()
        }

    def wait_s(self) -> int:
        """Seconds until an attempt may be made (0: now)."""
        until = max(
            (r.blocked_until for r in self.rows.values() if r.blocked_until is not None),
            default=None,
        )
        if until is None or until <= self.now:
            return 0
        return max(1, math.ceil((until - self.now).total_seconds()))

    def refuse_if_waiting(self) -> None:
        wait = self.wait_s()
        if wait:
            raise Throttled(
                f"too many failed logins; try again in {math.ceil(wait / 60)} minute(s)",
                retry_after_s=wait,
                code="login_throttled",
            )

    def failed(self) -> None:
        """Count a failure on every counter; a counter past its threshold waits, doubling."""
        st = self.settings
        window = timedelta(minutes=st.login_window_minutes)
        cap = timedelta(minutes=st.login_lock_minutes)
        for c in self.counters:
            row = self.rows[c.key]
            if self.now - row.last_failure_at > window:
                row.failures = 0  # the earlier failures have faded
            row.failures += 1
            row.last_failure_at = self.now
            over = row.failures - c.threshold
            if over >= 0:
                wait = timedelta(seconds=st.login_backoff_s * 2 ** min(over, 30))
                row.blocked_until = self.now + min(wait, cap)
        # Keys nobody has failed on for a while are forgotten (the index makes this cheap).
        self.s.execute(
            delete(LoginThrottle).where(
                LoginThrottle.last_failure_at < self.now - window - cap,
                LoginThrottle.key.not_in(list(self.rows)),
            )
        )

    def succeeded(self) -> None:
        """The right password from this client: its own count for the account starts again.
        The client's and the account's counts only fade, else a success would wipe out the
        traces of guessing from elsewhere."""
        row = next(r for k, r in self.rows.items() if k.startswith("ac:"))
        row.failures = 0
        row.blocked_until = None
