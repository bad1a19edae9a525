"""Background work that any number of processes may run at once: liveness checks and the
outbox relay. Each step is a database statement that decides who does what, so two
processes never both act on the same row."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from onecity.core import audit_anchor
from onecity.core.devices.retention import purge
from onecity.core.platform import Platform

log = logging.getLogger(__name__)


class Loop(threading.Thread):
    def __init__(self, name: str, every_s: float, step: Callable[[], object]) -> None:
        super().__init__(name=name, daemon=True)
        self.every_s = every_s
        self.step = step
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except Exception:  # one failed pass must not end the loop
                log.exception("%s failed; will retry", self.name)
            self.stopping.wait(self.every_s)

    def stop(self) -> None:
        self.stopping.set()


def liveness_loop(p: Platform, every_s: float = 5.0) -> Loop:
    return Loop("liveness", every_s, p.devices.mark_offline)


def retention_loop(p: Platform, every_s: float = 3600.0) -> Loop:
    return Loop("retention", every_s, lambda: purge(p.db, p.settings.telemetry_retention_days))


def audit_checkpoint_loop(p: Platform) -> Loop:
    """Signs the audit chain's head on a schedule (several processes at once only add a
    line, never lose one)."""

    def step() -> None:
        # A refusal is logged at ERROR by write_checkpoint; the next pass tries again.
        with contextlib.suppress(audit_anchor.CheckpointRefused):
            audit_anchor.write_checkpoint(p.db, p.settings)

    return Loop("audit-checkpoint", p.settings.audit_checkpoint_minutes * 60, step)
