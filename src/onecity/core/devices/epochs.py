"""Which epoch (boot) of its device each telemetry message belongs to. Pure: no I/O.

A device numbers its messages; after a restart it may count from 1 again. A message is

- a **duplicate** if a message with its boot label, seq, timestamp and the same values (on the
  keys both carry) is already stored in any epoch: an at-least-once retry, stored once;
- otherwise it goes to the most recent epoch of its boot label (the `boot` the device sent,
  or none) whose sequence range is within `max_jump` of its seq, if that epoch has no message
  with this seq yet;
- otherwise it opens a new epoch: a **restart**. When the seq was taken in that epoch (by a
  message with another time or other values) the restart is also a **conflict**.

So a device that sends its boot number never mixes two boots, and one that does not is still
recognised when it restarts: its first reused seq conflicts. A seq far from every epoch (say
2^63-1 from a broken encoder) opens an epoch of its own instead of counting as billions of gaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Values = tuple[tuple[str, float], ...]


@dataclass
class Epoch:
    n: int
    boot: int | None
    min_seq: int | None = None  # None: opened in this batch, no message yet
    max_seq: int | None = None
    received: int = 0
    new: bool = False  # opened in this batch
    old_span: int = 0  # max_seq - min_seq + 1 before this batch (0 for a new epoch)
    dirty: bool = False  # received a message in this batch

    def near(self, seq: int, max_jump: int) -> bool:
        if self.min_seq is None or self.max_seq is None:
            return True
        return self.min_seq - max_jump <= seq <= self.max_seq + max_jump

    def add(self, seq: int) -> None:
        self.min_seq = seq if self.min_seq is None else min(self.min_seq, seq)
        self.max_seq = seq if self.max_seq is None else max(self.max_seq, seq)
        self.received += 1
        self.dirty = True

    @property
    def span(self) -> int:
        if self.min_seq is None or self.max_seq is None:
            return 0
        return self.max_seq - self.min_seq + 1


@dataclass(frozen=True)
class Stored:
    """A message already stored (or placed earlier in this batch) under some seq."""

    epoch: int
    boot: int | None  # the boot label of its epoch
    ts_ms: int
    values: Mapping[str, float]
    boot_known: bool = True  # False: its epoch was dropped (too old), so its boot is unknown


@dataclass
class Placement:
    """What became of one device's messages of a batch."""

    placed: list[int] = field(default_factory=list)  # epoch of each message; -1: duplicate
    duplicates: int = 0
    restarts: int = 0
    conflicts: int = 0
    current: int | None = None  # the epoch of the last message placed

    def new_messages(self) -> int:
        return len(self.placed) - self.duplicates


def same_message(stored: Stored, boot: int | None, ts_ms: int, values: Values) -> bool:
    """A resend: same boot, same time, and the values agree on every key both carry (a
    resend with more keys is still the message first stored)."""
    if stored.ts_ms != ts_ms or (stored.boot_known and stored.boot != boot):
        return False
    return all(stored.values.get(k, v) == v for k, v in values)


def place(
    msgs: Sequence[tuple[int | None, int, int, Values]],
    epochs: dict[int, Epoch],
    stored: dict[int, list[Stored]],
    max_jump: int,
) -> Placement:
    """Place one device's messages, (boot, seq, ts_ms, values) in the order they arrived.

    `epochs` holds the device's recent epochs by number and `stored` what is stored under
    each seq of the batch (any epoch); both are updated as messages are placed."""
    out = Placement()
    for boot, seq, ts_ms, values in msgs:
        same = stored.setdefault(seq, [])
        if any(same_message(x, boot, ts_ms, values) for x in same):
            out.duplicates += 1
            out.placed.append(-1)
            continue
        target = _nearest(epochs.values(), boot, seq, max_jump)
        if target is not None and any(x.epoch == target.n for x in same):
            out.conflicts += 1
            target = None
        if target is None:
            n = max(epochs, default=-1) + 1
            if epochs:
                out.restarts += 1
            target = epochs[n] = Epoch(n, boot, new=True)
        target.add(seq)
        same.append(Stored(target.n, boot, ts_ms, dict(values)))
        out.placed.append(target.n)
        out.current = target.n
    return out


def _nearest(epochs: Iterable[Epoch], boot: int | None, seq: int, max_jump: int) -> Epoch | None:
    best: Epoch | None = None
    for e in epochs:
        if e.boot == boot and e.near(seq, max_jump) and (best is None or e.n > best.n):
            best = e
    return best
