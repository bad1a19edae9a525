"""Failed-login throttling with exponential backoff, kept in the database so that every API
process counts the same failures.

A client is its network (core/clients.py): an IPv6 /64 is one client, whichever of its
addresses it uses. Three counters per attempt, each with its own threshold:
- the account from this client: a few failures, then a short wait that doubles with each
  further failure (this is what a person who mistypes meets);
- this client, whatever the account: many failures (password spraying from one network);
- the account, whatever the client: many failures (guessing from many networks).
A client that logged in to the account recently (login_known_client_days) has proven itself:
for that account it waits only on its own counter, so no crowd of strangers, and no neighbour
spraying from the same network, can shut the real user out from where they usually log in.
Only a real success marks a client known, which an attacker cannot produce.

Keys are built from the username as typed, so an unknown user is throttled exactly like a
known one and the answers do not tell which accounts exist. An attempt refused because of a
wait does not count, so waiting is never extended by the refused attempts themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from onecity.core.clients import network
from onecity.core.db import insert_for
from onecity.core.errors import Throttled
from onecity.core.models import LoginThrottle
from onecity.settings import Settings

# A known client's row is "ok:{account}|{client}"; its last_failure_at holds the time of the
# last successful login (the table has no better column, and this one is indexed for pruning).
_KNOWN = "ok:"
_PRUNE_BATCH = 100  # stale rows one failure deletes at most


@dataclass(frozen=True)
class _Counter:
    key: str
    threshold: int


def _counters(username: str, client: str, settings: Settings) -> list[_Counter]:
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
        client = network(client)
        self.counters = _counters(username, client, settings)
        self.own_key = f"ac:{username}|{client}"
        self.known_key = f"{_KNOWN}{username}|{client}"
        window = timedelta(minutes=settings.login_window_minutes)
        # Create or lock the rows in one statement, in key order (the same order in every
        # process, so two attempts cannot deadlock): concurrent failures each count. An upsert,
        # not "insert or nothing, then lock": a row another attempt is pruning this moment
        # would be gone by the time it is locked; the upsert waits and creates it again.
        s.execute(
            insert_for(s)(LoginThrottle)
            .values(
                [
                    {"key": c.key, "failures": 0, "last_failure_at": now - window * 2}
                    for c in self.counters
                ]
            )
            .on_conflict_do_update(
                index_elements=["key"], set_={"failures": LoginThrottle.__table__.c.failures}
            )
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
        last_ok = s.execute(
            select(LoginThrottle.last_failure_at).where(LoginThrottle.key == self.known_key)
        ).scalar_one_or_none()
        self.known = last_ok is not None and last_ok > now - self._known_for()

    def _known_for(self) -> timedelta:
        return timedelta(days=self.settings.login_known_client_days)

    def wait_s(self) -> int:
        """Seconds until an attempt may be made (0: now). A known client waits only on its
        own counter for the account."""
        rows = [self.rows[self.own_key]] if self.known else list(self.rows.values())
        until = max((r.blocked_until for r in rows if r.blocked_until is not None), default=None)
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
        """Count a failure on every counter (a known client's failures are still evidence);
        a counter past its threshold waits, doubling."""
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
        self._prune(window + cap)

    def _prune(self, stale_after: timedelta) -> None:
        """Forget some keys nobody has failed on for a while (and clients no longer known).
        Rows another attempt holds are skipped, not waited for: two failures each deleting
        the other's locked rows would deadlock (PostgreSQL; SQLite has one writer anyway)."""
        t = LoginThrottle
        stale = (
            select(t.key)
            .where(
                or_(
                    (t.last_failure_at < self.now - stale_after) & ~t.key.startswith(_KNOWN),
                    t.last_failure_at < self.now - self._known_for(),
                ),
                t.key.not_in(list(self.rows)),
            )
            .limit(_PRUNE_BATCH)
            .with_for_update(skip_locked=True)
        )
        self.s.execute(delete(t).where(t.key.in_(stale)))

    def succeeded(self) -> None:
        """The right password from this client: its own count for the account starts again,
        and the client is known to the account from now on. The client's and the account's
        counts only fade, else a success would wipe out the traces of guessing from elsewhere."""
        row = self.rows[self.own_key]
        row.failures = 0
        row.blocked_until = None
        self.s.execute(
            insert_for(self.s)(LoginThrottle)
            .values(key=self.known_key, failures=0, last_failure_at=self.now)
            .on_conflict_do_update(index_elements=["key"], set_={"last_failure_at": self.now})
        )
