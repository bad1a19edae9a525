"""The station's devices behind interfaces, a clock, and simulated devices with fault switches.

A real station plugs its drivers in behind the same Protocols. Every wait goes through a
`Clock`, so tests run a 15-second deposit window in no time and the simulator can run faster
than real time."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Protocol

from onecity.waste.kiosk.cards import CardAdapter, SimulatedEasyCard
from onecity.waste.rules.money import Material


def _taipei() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Taipei")
    except Exception:  # no tz database on the device: Taipei has had no DST since 1979
        return timezone(timedelta(hours=8), "CST")


TAIPEI = _taipei()


def local_iso(at: datetime) -> str:
    """An instant as the protocol writes it: ISO 8601 in Taipei time, with its offset."""
    return at.astimezone(TAIPEI).isoformat(timespec="seconds")


# --- the clock ----------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, time-zone aware."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep until `event` is set or `seconds` passed; True if the event is set."""
        ...


class SystemClock:
    """Real time. `speed` > 1 shortens every wait (a 15 s deposit window takes 15/speed s)
    but the time of day stays real, so the server sees truthful timestamps."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds) / self.speed)


class ManualClock:
    """A clock for tests: time moves only when someone sleeps or calls `advance`."""

    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 11, 26, 10, 0, tzinfo=TAIPEI)
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.sleep(seconds)
        return event.is_set()


# --- faults -------------------------------------------------------------------------------


class HardwareFault(Exception):
    code = "hardware_fault"


class DoorJam(HardwareFault):
    code = "door_jam"


class ScaleError(HardwareFault):
    code = "scale_error"


class PaperOut(HardwareFault):
    code = "paper_out"


# --- what the devices do --------------------------------------------------------------------


class RejectReason:
    """Why the bottle/can machine hands an item back (the codes go into the transaction)."""

    UNKNOWN_BARCODE = "unknown_barcode"
    NOT_EMPTY = "not_empty"
    WRONG_MATERIAL = "wrong_material"
    UNREADABLE_LABEL = "unreadable_label"
    CRUSHED = "crushed"


@dataclass(frozen=True)
class Item:
    """One bottle or can as the recogniser saw it: accepted if it has a material and no
    reason to reject it."""

    barcode: str
    material: Material | None
    reject_reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.material is not None and self.reject_reason is None


class CardReader(Protocol):
    def wait_for_card(self, timeout_s: float) -> CardAdapter | None:
        """The card in the slot, or None if none came within the timeout."""
        ...

    def eject(self) -> None:
        """Hand the card back."""
        ...


class Door(Protocol):
    def open(self) -> None:
        """Unlock and open the garbage door; DoorJam if it does not move."""
        ...

    def wait_closed(self, timeout_s: float) -> bool:
        """True when the citizen closed the door within the timeout, False if the window
        passed; DoorJam if the door reports it is stuck."""
        ...

    def close(self) -> None:
        """Close the door by motor; DoorJam if it does not close."""
        ...


class Scale(Protocol):
    def tare(self) -> None:
        """Zero the platform before the door opens; ScaleError on a fault."""
        ...

    def read_grams(self) -> int:
        """Net grams deposited since `tare`; ScaleError on a fault."""
        ...


class ItemRecogniser(Protocol):
    def next_item(self, timeout_s: float) -> Item | None:
        """The next bottle or can fed in, or None when none came within the timeout."""
        ...


class Printer(Protocol):
    def print_receipt(self, lines: Sequence[str]) -> None:
        """Print one receipt; PaperOut when the roll is empty."""
        ...


class FillSensor(Protocol):
    def garbage_full(self) -> bool: ...

    def recycle_full(self) -> bool: ...


@dataclass
class Hardware:
    reader: CardReader
    door: Door
    scale: Scale
    recogniser: ItemRecogniser
    printer: Printer
    fill: FillSensor


# --- simulated devices --------------------------------------------------------------------


class SimCardReader:
    """A card slot. `insert` queues the card a citizen puts in and how many times they will
    put it back when the station asks after the card was pulled."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._queue: deque[tuple[SimulatedEasyCard, int, float]] = deque()
        self._current: SimulatedEasyCard | None = None
        self._reinserts = 0
        self._reinsert_after_s = 3.0
        self.ejected = 0

    def insert(
        self, card: SimulatedEasyCard, *, reinserts: int = 1, reinsert_after_s: float = 3.0
    ) -> None:
        self._queue.append((card, reinserts, reinsert_after_s))

    def wait_for_card(self, timeout_s: float) -> CardAdapter | None:
        if self._queue:
            card, self._reinserts, self._reinsert_after_s = self._queue.popleft()
            card.present = True
            self._current = card
            return card
        cur = self._current
        if (
            cur is not None
            and not cur.present
            and self._reinserts > 0
            and self._reinsert_after_s <= timeout_s
        ):
            self._reinserts -= 1
            self.clock.sleep(self._reinsert_after_s)
            cur.present = True
            return cur
        self.clock.sleep(timeout_s)
        return None

    def eject(self) -> None:
        if self._current is not None:
            self._current.present = False
            self._current = None
            self.ejected += 1

    def clear(self) -> None:
        self._queue.clear()
        self._current = None


@dataclass
class SimFillSensor:
    garbage_capacity_g: int = 400_000
    recycle_capacity: int = 2_000
    garbage_g: int = 0
    recycle_items: int = 0
    force_garbage_full: bool = False  # fault switch: the sensor says full
    force_recycle_full: bool = False

    def garbage_full(self) -> bool:
        return self.force_garbage_full or self.garbage_g >= self.garbage_capacity_g

    def recycle_full(self) -> bool:
        return self.force_recycle_full or self.recycle_items >= self.recycle_capacity

    def empty(self) -> None:
        self.garbage_g = 0
        self.recycle_items = 0


@dataclass
class SimScale:
    fail_next_tare: bool = False  # fault switches: the next tare / reading fails
    fail_next_read: bool = False
    broken: bool = False  # every tare and reading fails until repaired
    _grams: int = 0

    def tare(self) -> None:
        if self.broken or self.fail_next_tare:
            self.fail_next_tare = False
            raise ScaleError("the scale does not settle at zero")
        self._grams = 0

    def read_grams(self) -> int:
        if self.broken or self.fail_next_read:
            self.fail_next_read = False
            raise ScaleError("the scale reading is unstable")
        return self._grams

    def place(self, grams: int) -> None:
        self._grams += grams


@dataclass
class _Deposit:
    grams: int
    after_s: float
    closes: bool


class SimDoor:
    """The garbage door. `expect_deposit` scripts what the citizen does once it opens."""

    def __init__(self, clock: Clock, scale: SimScale, fill: SimFillSensor) -> None:
        self.clock = clock
        self.scale = scale
        self.fill = fill
        self.jam_on_open = False  # fault switches; a jammed door stays jammed until repaired
        self.jam_on_close = False
        self.is_open = False
        self.opened = 0
        self._deposit: _Deposit | None = None

    def expect_deposit(self, grams: int, after_s: float, *, closes: bool = True) -> None:
        self._deposit = _Deposit(grams, after_s, closes)

    def open(self) -> None:
        if self.jam_on_open:
            raise DoorJam("the door did not open")
        self.is_open = True
        self.opened += 1

    def wait_closed(self, timeout_s: float) -> bool:
        d, self._deposit = self._deposit, None
        if d is None or d.after_s > timeout_s:
            self.clock.sleep(timeout_s)
            return False
        self.clock.sleep(d.after_s)
        self.scale.place(d.grams)
        self.fill.garbage_g += d.grams
        if self.jam_on_close:
            raise DoorJam("the door is stuck open")
        if d.closes:
            self.is_open = False
            return True
        self.clock.sleep(timeout_s - d.after_s)
        return False

    def close(self) -> None:
        if self.jam_on_close:
            raise DoorJam("the door did not close")
        self.is_open = False

    def forget(self) -> None:
        self._deposit = None


class SimRecogniser:
    """The bottle/can intake: `feed` scripts the items a citizen puts in, each after a
    delay in seconds."""

    def __init__(self, clock: Clock, fill: SimFillSensor) -> None:
        self.clock = clock
        self.fill = fill
        self._queue: deque[tuple[float, Item]] = deque()

    def feed(self, items: Sequence[tuple[float, Item]]) -> None:
        self._queue.extend(items)

    def next_item(self, timeout_s: float) -> Item | None:
        if self._queue and self._queue[0][0] <= timeout_s:
            delay, item = self._queue.popleft()
            self.clock.sleep(delay)
            if item.accepted:
                self.fill.recycle_items += 1
            return item
        self._queue.clear()  # the citizen has walked away
        self.clock.sleep(timeout_s)
        return None

    def clear(self) -> None:
        self._queue.clear()


class SimPrinter:
    """A receipt printer with a paper roll of `paper_left` receipts (None: endless)."""

    def __init__(self, paper_left: int | None = None, keep: int = 50) -> None:
        self.paper_left = paper_left
        self.paper_out = False  # fault switch
        self.printed: deque[list[str]] = deque(maxlen=keep)

    def print_receipt(self, lines: Sequence[str]) -> None:
        if self.paper_left is not None and self.paper_left <= 0:
            self.paper_out = True
        if self.paper_out:
            raise PaperOut("the receipt roll is empty")
        if self.paper_left is not None:
            self.paper_left -= 1
        self.printed.append(list(lines))

    def refill(self, receipts: int | None) -> None:
        self.paper_left = receipts
        self.paper_out = False


@dataclass
class SimStation:
    """Every simulated device of one station, sharing a clock."""

    clock: Clock
    paper_roll: int | None = None
    fill: SimFillSensor = field(default_factory=SimFillSensor)
    scale: SimScale = field(default_factory=SimScale)
    reader: SimCardReader = field(init=False)
    door: SimDoor = field(init=False)
    recogniser: SimRecogniser = field(init=False)
    printer: SimPrinter = field(init=False)

    def __post_init__(self) -> None:
        self.reader = SimCardReader(self.clock)
        self.door = SimDoor(self.clock, self.scale, self.fill)
        self.recogniser = SimRecogniser(self.clock, self.fill)
        self.printer = SimPrinter(self.paper_roll)

    def hardware(self) -> Hardware:
        return Hardware(
            self.reader, self.door, self.scale, self.recogniser, self.printer, self.fill
        )

    def repair(self) -> None:
        """A technician's visit: free the door, fix the scale, put in a new paper roll."""
        self.door.jam_on_open = self.door.jam_on_close = False
        self.door.is_open = False
        self.scale.broken = self.scale.fail_next_tare = self.scale.fail_next_read = False
        self.printer.refill(self.paper_roll)

    def after_visit(self) -> None:
        """Forget whatever the last citizen scripted but never did."""
        self.reader.clear()
        self.recogniser.clear()
        self.door.forget()
