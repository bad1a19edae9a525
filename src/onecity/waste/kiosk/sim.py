"""Simulated citizens with simulated cards, and a whole simulated station to run the kiosk.

The cards live in a wallet: a SQLite file that keeps each card's own state (balance,
counter, points and the card's memory of the writes it made, which answers a retry) across
kiosk restarts, as a physical card would. The server must know the cards:
`wallet_cards(station, count, balance)` gives the same list the wallet starts with.

`SimulatedKiosk` wires a journal, the wallet, simulated hardware, the state machine and the
uploader together and lets citizens arrive at a rate. It is what `onecity kiosk run` runs
and what a test or the demo can run in-process."""

from __future__ import annotations

import contextlib
import math
import random
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from onecity.waste.kiosk.cards import CardWrite, SimulatedEasyCard
from onecity.waste.kiosk.hardware import Clock, Item, RejectReason, SimStation, SystemClock
from onecity.waste.kiosk.journal import Journal
from onecity.waste.kiosk.machine import KioskMachine, batch_due
from onecity.waste.kiosk.screen import ScreenLine, SessionResult
from onecity.waste.kiosk.states import Kind, Outcome
from onecity.waste.kiosk.store import JournalLock
from onecity.waste.kiosk.uploader import Uploader
from onecity.waste.rules.money import MAX_DROP_GRAMS, Material

# --- cards ----------------------------------------------------------------------------------


def card_prefix(station: str) -> str:
    """`EC-<station>`, kept to the protocol's card-id alphabet and length."""
    return "EC-" + re.sub(r"[^A-Za-z0-9-]", "-", station)[:24]


def wallet_cards(station: str, count: int, balance: int) -> list[tuple[str, int, int]]:
    """The simulated cards a station's citizens carry, as (card_id, balance, counter):
    `EC-<station>-0001` … with `balance` NT$ each and counter 0. Register these on the server
    (they are what a fresh wallet holds)."""
    prefix = card_prefix(station)
    return [(f"{prefix}-{n:04d}", balance, 0) for n in range(1, count + 1)]


@dataclass
class WalletCard(SimulatedEasyCard):
    """A simulated card whose state is saved in its wallet after every write."""

    wallet: Wallet | None = field(default=None, repr=False, compare=False)

    def debit(self, amount: int, terminal_id: str, terminal_seq: int) -> CardWrite:
        try:
            return super().debit(amount, terminal_id, terminal_seq)
        finally:
            self._save(terminal_id, terminal_seq)

    def credit(
        self, amount: int, terminal_id: str, terminal_seq: int, points_after: int | None = None
    ) -> CardWrite:
        try:
            return super().credit(amount, terminal_id, terminal_seq, points_after)
        finally:
            self._save(terminal_id, terminal_seq)

    def _save(self, terminal_id: str, terminal_seq: int) -> None:
        if self.wallet is not None:
            self.wallet.save(self, self._done.get((terminal_id, terminal_seq)))


class Wallet:
    """The citizens' cards, kept in a SQLite file (WAL, synchronous=FULL)."""

    def __init__(self, path: Path | str, station: str, count: int = 50, balance: int = 1000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cards (card_id TEXT PRIMARY KEY, balance INTEGER NOT "
            "NULL, counter INTEGER NOT NULL, points INTEGER NOT NULL DEFAULT 0, "
            "blocked INTEGER NOT NULL DEFAULT 0)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS card_writes (card_id TEXT NOT NULL, terminal_id TEXT "
            "NOT NULL, terminal_seq INTEGER NOT NULL, counter INTEGER NOT NULL, amount INTEGER "
            "NOT NULL, balance_before INTEGER NOT NULL, balance_after INTEGER NOT NULL, "
            "points_before INTEGER NOT NULL, points_after INTEGER NOT NULL, "
            "PRIMARY KEY (card_id, terminal_id, terminal_seq))"
        )
        with self._tx() as c:
            c.executemany(
                "INSERT OR IGNORE INTO cards (card_id, balance, counter) VALUES (?, ?, ?)",
                wallet_cards(station, count, balance),
            )
        self.cards: list[WalletCard] = []
        for card_id, bal, counter, points, blocked in self._db.execute(
            "SELECT card_id, balance, counter, points, blocked FROM cards ORDER BY card_id"
        ):
            card = WalletCard(card_id, bal, counter, bool(blocked), points, wallet=self)
            card.present = False
            self.cards.append(card)
        by_id = {c.card_id: c for c in self.cards}
        for row in self._db.execute("SELECT * FROM card_writes"):
            w = CardWrite(*row)
            by_id[w.card_id]._done[(w.terminal_id, w.terminal_seq)] = w

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def card(self, card_id: str) -> WalletCard:
        for c in self.cards:
            if c.card_id == card_id:
                return c
        raise KeyError(card_id)

    def save(self, card: SimulatedEasyCard, write: CardWrite | None = None) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE cards SET balance = ?, counter = ?, points = ?, blocked = ? "
                "WHERE card_id = ?",
                (card.balance, card.counter, card.points, int(card.blocked), card.card_id),
            )
            if write is not None:
                c.execute(
                    "INSERT OR IGNORE INTO card_writes VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        write.card_id,
                        write.terminal_id,
                        write.terminal_seq,
                        write.counter,
                        write.amount,
                        write.balance_before,
                        write.balance_after,
                        write.points_before,
                        write.points_after,
                    ),
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()


# --- citizens -------------------------------------------------------------------------------


def _ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


# Drinks sold in Taiwan (GS1 prefix 471): bottles and cans the machine knows.
PET_BARCODES = tuple(_ean13(f"4710{n:08d}") for n in (11_801, 22_405, 35_017, 40_226, 58_300))
CAN_BARCODES = tuple(_ean13(f"4711{n:08d}") for n in (10_920, 27_338, 39_041, 61_457))
GLASS_BARCODES = tuple(_ean13(f"4712{n:08d}") for n in (3_310, 8_842))


@dataclass
class FaultRates:
    """How often things go wrong, per visit (0 to 1), and how the station is looked after."""

    card_pull: float = 0.02  # the citizen pulls the card during the card write
    never_back: float = 0.1  # … and of those, never puts it back
    door_jam: float = 0.001
    scale_error: float = 0.003
    no_deposit: float = 0.02  # opens the door and deposits nothing
    blocked_card: float = 0.005  # presents a card its issuer blocked
    overweight: float = 0.0005  # a drop over 50 kg
    paper_roll: int | None = 400  # receipts per paper roll (None: never runs out)
    recycle_share: float = 0.3  # visits to the bottle/can intake


@dataclass
class Visit:
    kind: Kind
    card: SimulatedEasyCard
    grams: int = 0
    deposit_after_s: float | None = None  # None: never deposits
    closes_door: bool = True
    items: list[tuple[float, Item]] = field(default_factory=list)
    pull_card: bool = False
    reinserts: int = 1
    door_jam: str | None = None  # "open" | "close"
    scale_error: bool = False


class Citizens:
    """Who walks up to the station, with what, and what goes wrong."""

    def __init__(
        self, wallet: Wallet, station: str, rng: random.Random, faults: FaultRates
    ) -> None:
        self.wallet = wallet
        self.station = station
        self.rng = rng
        self.faults = faults
        self._strangers = 0

    def interarrival_s(self, per_minute: float) -> float:
        return self.rng.expovariate(per_minute / 60.0) if per_minute > 0 else math.inf

    def garbage_grams(self) -> int:
        """Household bags: median about 0.9 kg, most between 0.2 and 3.5 kg."""
        if self.rng.random() < self.faults.overweight:
            return self.rng.randint(MAX_DROP_GRAMS + 1, 80_000)
        g = math.exp(self.rng.gauss(math.log(900), 0.8))
        return max(40, min(int(g), 15_000))

    def item(self) -> Item:
        r = self.rng.random()
        if r < 0.04:
            return Item(self.rng.choice(PET_BARCODES), Material.PET, RejectReason.NOT_EMPTY)
        if r < 0.07:
            return Item("", None, RejectReason.CRUSHED)
        if r < 0.09:
            return Item(self.rng.choice(CAN_BARCODES)[:7], None, RejectReason.UNREADABLE_LABEL)
        if r < 0.12:
            return Item(_ean13(f"490{self.rng.randrange(10**9):09d}"), None, "unknown_barcode")
        if r < 0.15:
            return Item(self.rng.choice(GLASS_BARCODES), None, RejectReason.WRONG_MATERIAL)
        if self.rng.random() < 0.6:
            return Item(self.rng.choice(PET_BARCODES), Material.PET)
        return Item(self.rng.choice(CAN_BARCODES), Material.ALUMINIUM)

    def next_visit(self) -> Visit:
        f, rng = self.faults, self.rng
        if rng.random() < f.blocked_card:
            self._strangers += 1
            card: SimulatedEasyCard = SimulatedEasyCard(
                f"{card_prefix(self.station)}-X{self._strangers:03d}", 500, 3, blocked=True
            )
        else:
            card = rng.choice(self.wallet.cards)
        kind = Kind.RECYCLE if rng.random() < f.recycle_share else Kind.GARBAGE
        v = Visit(kind, card)
        v.pull_card = rng.random() < f.card_pull
        v.reinserts = 0 if rng.random() < f.never_back else 1
        if kind is Kind.GARBAGE:
            v.grams = self.garbage_grams()
            if rng.random() >= f.no_deposit:
                v.deposit_after_s = rng.uniform(2, 12)
                v.closes_door = rng.random() > 0.05
            if rng.random() < f.door_jam:
                v.door_jam = rng.choice(("open", "close"))
            v.scale_error = rng.random() < f.scale_error
        else:
            n = max(1, min(30, round(rng.triangular(1, 30, 5))))
            v.items = [(rng.uniform(1, 4), self.item()) for _ in range(n)]
        return v

    @staticmethod
    def prepare(v: Visit, sim: SimStation) -> None:
        """Set the stage: the citizen's card in the slot, their bag, their bottles."""
        v.card.pull_after_write = v.pull_card
        sim.reader.insert(v.card, reinserts=v.reinserts)
        if v.deposit_after_s is not None:
            sim.door.expect_deposit(v.grams, v.deposit_after_s, closes=v.closes_door)
        if v.door_jam == "open":
            sim.door.jam_on_open = True
        elif v.door_jam == "close":
            sim.door.jam_on_close = True
        sim.scale.fail_next_read = v.scale_error
        sim.recogniser.feed(v.items)


# --- a whole station ------------------------------------------------------------------------


@dataclass
class KioskConfig:
    station: str
    server: str | None = None
    key: str | None = None
    journal: Path | None = None  # default var/kiosk-<station>.sqlite
    wallet: Path | None = None  # default var/kiosk-<station>-wallet.sqlite
    cards: int = 50
    card_balance: int = 1000
    rate: float = 2.0  # citizens per minute (of station time: see speed)
    max_sessions: int | None = None
    speed: float = 1.0  # waits run this many times faster; timestamps stay real
    batch_minutes: float | None = None  # close the batch this often, not at local midnight
    seed: int | None = None
    drain_seconds: float = 60.0
    settle_on_exit: bool = False
    faults: FaultRates = field(default_factory=FaultRates)
    repair_minutes: float = 30.0  # a technician comes this long after a fault
    crew_minutes: float = 45.0  # a crew empties a full compartment or bin after this
    lang: str = "en"

    @property
    def journal_path(self) -> Path:
        return self.journal or Path(f"var/kiosk-{self.station}.sqlite")

    @property
    def wallet_path(self) -> Path:
        return self.wallet or Path(f"var/kiosk-{self.station}-wallet.sqlite")


@dataclass
class RunSummary:
    sessions: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    counts: dict[str, int] = field(default_factory=dict)
    drained: bool = True
    batch_no: int = 0


class KioskBusy(Exception):
    """Another kiosk process holds this journal."""


class SimulatedKiosk:
    """A station with simulated hardware and citizens, its journal, and its uploader.

    In-process: `SimulatedKiosk(KioskConfig(...), transport=...).run(stop_event)`. The
    uploader runs in its own thread with its own journal connection; the citizens and the
    state machine in the calling thread."""

    def __init__(
        self,
        cfg: KioskConfig,
        *,
        clock: Clock | None = None,
        net_clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        out: Callable[[str], None] | None = None,
        quiet: bool = False,
    ) -> None:
        self.cfg = cfg
        self.clock = clock or SystemClock(cfg.speed)
        self.net_clock = net_clock or SystemClock()
        self.transport = transport
        self._out = out or print
        self._out_lock = threading.Lock()
        self.quiet = quiet
        self.rng = random.Random(cfg.seed)
        self.summary = RunSummary()
        self.uploader: Uploader | None = None
        self._repair_at: datetime | None = None
        self._empty_at: datetime | None = None

    def say(self, text: str, *, always: bool = False) -> None:
        if always or not self.quiet:
            with self._out_lock:
                self._out(text)

    def _screen(self, line: ScreenLine) -> None:
        self.say(line.text(self.cfg.lang))

    def run(self, stop: threading.Event | None = None) -> RunSummary:
        stop = stop or threading.Event()
        cfg = self.cfg
        lock = JournalLock(cfg.journal_path)
        if not lock.acquire():
            raise KioskBusy(f"another kiosk is running on {cfg.journal_path}")
        journal = Journal(cfg.journal_path, cfg.station, self.clock)
        wallet = Wallet(cfg.wallet_path, cfg.station, cfg.cards, cfg.card_balance)
        sim = SimStation(self.clock, paper_roll=cfg.faults.paper_roll)
        citizens = Citizens(wallet, cfg.station, self.rng, cfg.faults)
        up_stop = threading.Event()
        thread: threading.Thread | None = None
        try:
            # Simulated hardware is the demo: its journal keeps the link codes it showed, so
            # `onecity kiosk status` can tell a visitor one to link a card with.
            machine = KioskMachine(
                cfg.station,
                journal,
                sim.hardware(),
                self.clock,
                screen=self._screen,
                journal_link_codes=True,
            )
            for it in machine.recovered:
                self.say(
                    f"restart · seq {it.terminal_seq} ({it.card_id}) was being written when the "
                    "station stopped: outcome unknown",
                    always=True,
                )
            if cfg.server:
                up_journal = Journal(cfg.journal_path, cfg.station, self.net_clock)
                self.uploader = Uploader(
                    up_journal,
                    cfg.server,
                    cfg.key or "",
                    clock=self.net_clock,
                    transport=self.transport,
                    rng=random.Random(self.rng.random()),
                    report=self.say,
                )
                thread = threading.Thread(
                    target=self._upload, args=(self.uploader, up_stop), name="kiosk-upload"
                )
                thread.start()
            if cfg.server and journal.blocklist_version() is None:
                # A new station signs on before it takes its first card (it needs the
                # blocklist); from then on it works offline as long as it must.
                self.say("waiting for the first sign-on with the city…", always=True)
                while journal.blocklist_version() is None and not stop.is_set():
                    stop.wait(0.2)
            self._serve(machine, sim, citizens, stop)
            if cfg.settle_on_exit:
                machine.close_batch()
            if cfg.max_sessions is not None and thread is not None and not stop.is_set():
                self._drain(journal, stop)
        finally:
            up_stop.set()
            if thread is not None:
                thread.join(timeout=60)
            self.summary.counts = journal.counts()
            self.summary.drained = journal.drained()
            self.summary.batch_no = journal.batch().batch_no
            journal.close()
            wallet.close()
            lock.release()
        return self.summary

    def _upload(self, uploader: Uploader, stop: threading.Event) -> None:
        try:
            uploader.run(stop)
        finally:
            uploader.close()
            uploader.journal.close()

    def _serve(
        self, machine: KioskMachine, sim: SimStation, citizens: Citizens, stop: threading.Event
    ) -> None:
        cfg = self.cfg
        while not stop.is_set():
            if cfg.max_sessions is not None and self.summary.sessions >= cfg.max_sessions:
                return
            self._housekeeping(machine, sim)
            wait = citizens.interarrival_s(cfg.rate)
            while wait > 0 and not stop.is_set():
                step = min(wait, 5.0)
                if self.clock.wait(stop, step):
                    return
                wait -= step
                self._housekeeping(machine, sim)
            visit = citizens.next_visit()
            citizens.prepare(visit, sim)
            result = machine.session(visit.kind, card_timeout_s=5.0)
            sim.after_visit()
            self._count(result)

    def _count(self, result: SessionResult) -> None:
        if result.outcome is not Outcome.NO_CARD:
            self.summary.sessions += 1
            self.summary.outcomes[result.outcome.value] += 1

    def _housekeeping(self, machine: KioskMachine, sim: SimStation) -> None:
        j, now = machine.journal, self.clock.now()
        batch = j.batch()
        if j.get("settle_requested") or batch_due(batch.opened_at, now, self.cfg.batch_minutes):
            machine.close_batch()
        needs_tech = machine.journal.out_of_service() is not None or sim.printer.paper_out
        if needs_tech and self._repair_at is None:
            self._repair_at = now + timedelta(minutes=self.cfg.repair_minutes)
        if self._repair_at is not None and now >= self._repair_at:
            self._repair_at = None
            sim.repair()
            if machine.journal.out_of_service() is not None:
                machine.repair()
            else:
                self.say("technician · new receipt roll")
        full = sim.fill.garbage_full() or sim.fill.recycle_full()
        if full and self._empty_at is None:
            self._empty_at = now + timedelta(minutes=self.cfg.crew_minutes)
        if self._empty_at is not None and now >= self._empty_at:
            self._empty_at = None
            sim.fill.empty()
            self.say("crew · compartment and bin emptied")

    def _drain(self, journal: Journal, stop: threading.Event) -> None:
        deadline = time.monotonic() + self.cfg.drain_seconds
        while not journal.drained() and time.monotonic() < deadline and not stop.is_set():
            stop.wait(0.2)
