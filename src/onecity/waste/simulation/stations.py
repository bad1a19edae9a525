"""A seedable simulator of iTrash station usage: citizens' visits in, station telemetry out.

For the demo, the tests and the benchmarks. Pure: no I/O and no clock; time is passed in and
every random draw comes from `random.Random` streams seeded from the station's seed. Visits,
incidents and temperature noise use separate streams, so the visits and faults of a seed do not
change with the reporting interval.

Samples use the telemetry keys of `docs/waste.md` (`<compartment>.fill`, `.weight_kg`, `.temp_c`,
`.door`, `.smoke`, `fault.<name>`, `heartbeat`), all values floats. Each deposit passes the
station's press (garbage) or crusher (recycling) before the next user: the fill a station
reports only rises between emptyings."""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import NormalDist
from types import MappingProxyType

GARBAGE, PET, CAN = "garbage", "recycling_pet", "recycling_can"
COMPARTMENTS = (GARBAGE, PET, CAN)
FAULTS = ("scale", "door", "card_reader", "printer_paper", "network")  # reported as fault.*
INCIDENTS = (*FAULTS, "cooling", "fire")  # cooling and fire show only in temp_c and smoke
DOOR_CLOSED, DOOR_OPEN, DOOR_JAMMED = 0.0, 1.0, 2.0
TEMP_LIMITS_C = (-40.0, 150.0)  # what the stations' sensors can report at all
_HORIZON = datetime(9000, 1, 1, tzinfo=UTC).timestamp()  # later than that is never
_TEMP_KEYS = tuple(f"{c}.temp_c" for c in COMPARTMENTS)
# Standard normal deviates at 4,096 equally likely quantiles: a table look-up costs a tenth of
# random.gauss, and sensor noise needs no finer tails (|z| <= 3.65).
_NORMAL_BITS = 12
_NORMAL = tuple(NormalDist().inv_cdf((i + 0.5) / 2**_NORMAL_BITS) for i in range(2**_NORMAL_BITS))

# Relative visit rate per local hour (mean ~1). Taipei households still drop garbage in the
# evening, when the garbage truck used to come (19-22 h); a smaller peak before work (7-9 h);
# almost nobody at 1-5 h.
TAIPEI_HOURS = (
    *(0.45, 0.15, 0.06, 0.04, 0.05, 0.15),  # 0-5
    *(0.60, 1.50, 1.70, 1.10, 0.80, 0.80),  # 6-11
    *(0.90, 0.80, 0.70, 0.70, 0.80, 1.10),  # 12-17
    *(1.60, 2.60, 3.00, 2.80, 1.70, 0.90),  # 18-23
)


class SimError(ValueError):
    """A simulator call that cannot be honoured; the message says what to do."""


@dataclass(frozen=True)
class CompartmentSpec:
    capacity_m3: float
    kg_per_m3: float  # bulk density as stored, after the press or crusher
    density_spread: float  # lognormal sigma of one deposit's density

    @property
    def capacity_kg(self) -> float:
        return self.capacity_m3 * self.kg_per_m3


@dataclass(frozen=True)
class IncidentSpec:
    per_day: float  # mean starts per station-day while not happening
    mean_hours: float | None  # mean duration (exponential); None: until repair()


def _compartments() -> Mapping[str, CompartmentSpec]:
    return MappingProxyType(
        {
            # 1.2 m3 pressed to ~250 kg/m3 (loose bagged garbage is 100-150): ~300 kg when full;
            # bags differ (wet kitchen waste vs. packaging), hence the spread.
            GARBAGE: CompartmentSpec(1.2, 250.0, 0.25),
            # a crushed 600 ml PET bottle takes ~0.2 l: 25 g / 0.2 l = 125 kg/m3, ~1,250 bottles
            PET: CompartmentSpec(0.25, 125.0, 0.10),
            # a crushed can takes ~0.05 l: 15 g / 0.05 l = 300 kg/m3, ~3,000 cans
            CAN: CompartmentSpec(0.15, 300.0, 0.10),
        }
    )


def _incidents() -> Mapping[str, IncidentSpec]:
    # Durations match the crew's targets (monitoring.DEFAULT_TARGETS: a fault within 24 h), so
    # a simulation without a crew model still recovers; set mean_hours=None and call repair()
    # to let a crew model decide.
    return MappingProxyType(
        {
            "scale": IncidentSpec(1 / 180, 24.0),  # load cells drift or fail a few times a year
            "door": IncidentSpec(1 / 60, 12.0),  # chute doors are the commonest mechanical jam
            "card_reader": IncidentSpec(1 / 120, 8.0),
            "printer_paper": IncidentSpec(1 / 90, 12.0),  # a jam; running out is modelled apart
            "network": IncidentSpec(1 / 20, 0.5),  # LTE drop-outs, short and self-healing
            "cooling": IncidentSpec(1 / 365, 24.0),  # a compressor failure, about once a year
            "fire": IncidentSpec(1 / 2000, 0.5),  # a battery in the garbage; put out in ~30 min
        }
    )


@dataclass(frozen=True)
class SimConfig:
    report_every: timedelta = timedelta(seconds=10)
    stagger: bool = True  # stations report at their own second, not all at once
    utc_offset_hours: float = 8.0  # Taipei local time drives the seasonality
    visits_per_day: float = 150.0  # a typical station: ~105 bags, ~160 kg a day
    popularity_sigma: float = 0.5  # lognormal spread of stations around that (median 1)
    hour_weights: tuple[float, ...] = TAIPEI_HOURS
    weekend_factor: float = 1.25  # people are at home and clear out on weekends
    garbage_share: float = 0.70
    bag_median_kg: float = 1.2  # a household's bag every day or two (~0.4 kg/person/day)
    bag_sigma: float = 0.75  # right-skewed: many small bags, a few heavy ones
    bag_range_kg: tuple[float, float] = (0.2, 5.0)
    items_mean: float = 4.0  # recycling items per visit beyond the first (1-20, geometric)
    items_max: int = 20
    pet_share: float = 0.6  # of recycled items
    pet_g: float = 25.0  # a 600 ml PET bottle
    can_g: float = 15.0  # a 330 ml aluminium can
    item_spread: float = 0.2  # +- share of an item's weight
    compartments: Mapping[str, CompartmentSpec] = field(default_factory=_compartments)
    setpoint_c: float = 7.0  # refrigerated at 5-10 °C against odour and flies
    ambient_c: float = 28.0  # a Taipei summer evening
    temp_noise_c: float = 0.25  # standard deviation of the cabinet temperature
    cooling_tau_min: float = 15.0  # the compressor pulls a warmed cabinet back in ~15 min
    insulation_tau_h: float = 3.0  # without cooling: past 10 °C in ~30 min, ~20 °C in ~3 h
    door_tau_min: float = 30.0  # a small chute door: a 15 s opening warms ~0.2 °C
    fire_tau_s: float = 60.0  # a fire heats the sensor past 60 °C within about a minute
    fire_peak_c: tuple[float, float] = (80.0, 140.0)
    fire_weights: tuple[float, float, float] = (0.8, 0.1, 0.1)  # garbage, PET, cans
    door_jam_weights: tuple[float, float, float] = (0.5, 0.25, 0.25)
    garbage_door_s: tuple[float, float] = (8.0, 20.0)  # open, drop the bag, close
    item_door_s: float = 1.5  # per recycled item fed to the inlet, plus 3 s
    crew_door_s: float = 120.0  # an emptying keeps the compartment open
    receipts_per_roll: int = 800  # 80 m of 80 mm thermal paper at ~10 cm a receipt
    incidents: Mapping[str, IncidentSpec] = field(default_factory=_incidents)
    network_drops_samples: bool = False  # True: samples during a network fault never arrive
    full_at: float = 0.80  # Taoyuan's "full", for full_minutes
    empty_residual_kg: float = 0.3  # what sticks to the bin after an emptying, at most
    keep_deposits: bool = True

    def __post_init__(self) -> None:
        if self.report_every < timedelta(seconds=1):
            raise SimError("report_every must be at least one second")
        if len(self.hour_weights) != 24 or min(self.hour_weights) < 0:
            raise SimError("hour_weights needs 24 weights, none negative")
        if sum(self.hour_weights) <= 0 or self.visits_per_day < 0:
            raise SimError("visits need a positive hour weight and visits_per_day >= 0")
        if set(self.compartments) != set(COMPARTMENTS):
            raise SimError(f"compartments must be exactly {', '.join(COMPARTMENTS)}")
        if set(self.incidents) != set(INCIDENTS):
            raise SimError(f"incidents must be exactly {', '.join(INCIDENTS)}")
        if self.receipts_per_roll < 1:
            raise SimError("receipts_per_roll must be at least 1")
        # 10 standard deviations of noise from every target is still a value a sensor reports
        low, high = TEMP_LIMITS_C
        margin = 10 * self.temp_noise_c
        targets = (self.setpoint_c, self.ambient_c, *self.fire_peak_c)
        if self.temp_noise_c < 0 or min(targets) - margin < low or max(targets) + margin > high:
            raise SimError(
                f"temperatures +- 10 x temp_noise_c must stay within {low:g} to {high:g} °C"
            )
        if self.setpoint_c >= self.ambient_c:
            raise SimError("setpoint_c must be below ambient_c: the cabinet is refrigerated")


DEFAULT_SIM = SimConfig()


@dataclass(frozen=True, slots=True)
class Sample:
    station_id: str
    observed_at: datetime
    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class Deposit:
    station_id: str
    at: datetime
    kind: str  # "garbage", "pet" or "can"
    compartment: str
    grams: int
    items: int  # 1 for a garbage bag
    refused: str | None = None  # full, door, scale, card_reader, fire; None: accepted


@dataclass(frozen=True)
class CompartmentStats:
    fill: float
    weight_kg: float
    temp_c: float
    door: float
    smoke: bool
    accepted: int
    refused_full: int
    refused_other: int
    collected_kg: float
    full_minutes: float  # at or above config.full_at
    overflow_minutes: float  # from the first deposit refused as full until the emptying


class _Comp:
    __slots__ = (
        "accepted",
        "close_at",
        "collected",
        "door",
        "fire",
        "full_s",
        "full_since",
        "kg",
        "m3",
        "name",
        "over_s",
        "over_since",
        "refused_full",
        "refused_other",
        "shown_kg",
        "smoke",
        "spec",
        "temp",
        "temp_t",
    )

    def __init__(self, name: str, spec: CompartmentSpec, temp: float, t: float) -> None:
        self.name, self.spec = name, spec
        self.kg = self.m3 = self.shown_kg = self.collected = 0.0
        self.temp, self.temp_t = temp, t
        self.door, self.close_at, self.smoke, self.fire = DOOR_CLOSED, math.inf, False, 0.0
        self.accepted = self.refused_full = self.refused_other = 0
        self.full_s = self.over_s = 0.0
        self.full_since: float | None = None
        self.over_since: float | None = None

    @property
    def fill(self) -> float:
        return min(1.0, self.m3 / self.spec.capacity_m3)


def _aware(at: datetime, name: str) -> float:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise SimError(f"{name} must be a datetime with a time zone (e.g. UTC)")
    return at.timestamp()


class StationSim:
    """One station. `advance(until)` returns the samples in (now, until]; `empty`, `repair`
    and `force_fire` act at a time not before now (the samples up to it are kept for the next
    `advance`)."""

    def __init__(
        self,
        station_id: str,
        seed: int | str,
        config: SimConfig = DEFAULT_SIM,
        start: datetime | None = None,
        popularity: float | None = None,
    ) -> None:
        if start is None:
            raise SimError("start is required: the simulator never reads the clock")
        self.station_id, self.config = station_id, config
        self._t = _aware(start, "start")
        self._rv = random.Random(f"{seed}:visits")
        self._ri = random.Random(f"{seed}:incidents")
        self._rt = random.Random(f"{seed}:temperature")
        setup = random.Random(f"{seed}:setup")
        self.popularity = (
            popularity
            if popularity is not None
            else setup.lognormvariate(0.0, config.popularity_sigma)
        )
        if not 0 <= self.popularity < math.inf:
            raise SimError("popularity must be a finite number >= 0 (1: a typical station)")
        step = config.report_every.total_seconds()
        phase = float(setup.randrange(1, int(step) + 1)) if config.stagger else step
        self._step, self._base, self._k = step, self._t + phase, 0
        self._obs = start.astimezone(UTC) + timedelta(seconds=phase)
        self._step_td = config.report_every
        self.comps = {
            n: _Comp(n, config.compartments[n], config.setpoint_c, self._t) for n in COMPARTMENTS
        }
        self._order = [self.comps[n] for n in COMPARTMENTS]
        self.active = dict.fromkeys(INCIDENTS, False)
        self.started = dict.fromkeys(INCIDENTS, 0)  # incidents so far, random or forced
        self._ends: dict[str, float] = {}
        self._starts: dict[str, float] = {}
        self.paper = setup.randint(max(1, config.receipts_per_roll // 5), config.receipts_per_roll)
        self.deposits: list[Deposit] = []
        self._pending: list[Sample] = []
        self._heap: list[tuple[float, int, str, str]] = []
        self._seq = 0
        self._rates = self._hourly_rates()
        self._week = 3600 * (5 * sum(self._rates[0]) + 2 * sum(self._rates[1]))
        self._k_leak = 1.0 / (config.insulation_tau_h * 3600)
        self._k_cool = 1.0 / (config.cooling_tau_min * 60)
        self._k_door = 1.0 / (config.door_tau_min * 60)
        self._k_fire = 1.0 / config.fire_tau_s
        # the compressor's target, such that cooling against the leak settles at the setpoint
        leak = self._k_leak / self._k_cool
        self._t_cool = config.setpoint_c - leak * (config.ambient_c - config.setpoint_c)
        self._vals = self._initial_values()
        self._push(self._next_visit(self._t), "visit", "")
        for name in INCIDENTS:
            self._schedule_start(name, self._t)

    # --- time and the event queue ---------------------------------------------------------

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self._t, UTC)

    def _push(self, t: float, kind: str, arg: str) -> None:
        if t < math.inf:
            self._seq += 1
            heapq.heappush(self._heap, (t, self._seq, kind, arg))

    def _hourly_rates(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        cfg = self.config
        mean_w = sum(cfg.hour_weights) / 24 * (5 + 2 * cfg.weekend_factor) / 7
        per_s = cfg.visits_per_day * self.popularity / 86400 / mean_w
        weekday = tuple(w * per_s for w in cfg.hour_weights)
        return weekday, tuple(w * cfg.weekend_factor for w in weekday)

    def _next_visit(self, t: float) -> float:
        """Next arrival of the non-homogeneous Poisson process, exactly: the rate is constant
        within a local hour, so invert the integrated rate hour by hour."""
        if self._week <= 0:
            return math.inf
        need = self._rv.expovariate(1.0)
        weeks = need // self._week  # a very quiet station: skip whole weeks at once
        if t + weeks * 7 * 86400 > _HORIZON:
            return math.inf
        t, need = t + weeks * 7 * 86400, need - weeks * self._week
        off = self.config.utc_offset_hours * 3600
        while True:
            local = t + off
            day, sec = divmod(local, 86400)
            rate = self._rates[(int(day) + 3) % 7 >= 5][int(sec // 3600)]  # 1970-01-01: Thu
            hour_end = t + (3600 - sec % 3600)
            if rate * (hour_end - t) >= need:
                return t + need / rate
            need -= rate * (hour_end - t)
            t = hour_end

    def _schedule_start(self, name: str, after: float) -> None:
        per_day = self.config.incidents[name].per_day
        t = after + self._ri.expovariate(per_day / 86400) if per_day > 0 else math.inf
        self._starts[name] = t
        self._push(t, "start", name)

    def _at(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, UTC)

    # --- public API -----------------------------------------------------------------------

    def advance(self, until: datetime) -> list[Sample]:
        """Step to `until`; the samples observed in between, oldest first."""
        self._run(self._not_before(until, "until"))
        out, self._pending = self._pending, []
        return out

    def empty(self, compartment: str, at: datetime) -> float:
        """The crew empties a compartment: fill and weight to ~0. Returns the kg collected."""
        c = self._comp(compartment)
        t = self._goto(at)
        self._close_window(c, t)
        residual = min(c.kg, self._ri.uniform(0.0, self.config.empty_residual_kg))
        collected = c.kg - residual
        c.m3 = c.m3 * residual / c.kg if c.kg > 0 else 0.0
        c.kg, c.collected = residual, c.collected + collected
        if not self.active["scale"]:
            c.shown_kg = residual
        self._open_door(c, t, self.config.crew_door_s)
        self._refresh(c)
        return round(collected, 2)

    def repair(self, fault: str, at: datetime) -> bool:
        """End a fault, cooling failure or fire now; `printer_paper` also refills the roll.
        Returns whether it was happening."""
        if fault not in INCIDENTS:
            raise SimError(f"unknown fault {fault!r}; one of: {', '.join(INCIDENTS)}")
        t = self._goto(at)
        if fault == "printer_paper":
            self.paper = self.config.receipts_per_roll
        was = self.active[fault]
        if was:
            self._end(fault, t)
        return was

    def fail(self, incident: str, at: datetime, compartment: str | None = None) -> bool:
        """Start a fault, cooling failure or fire now (demos, tests); `compartment` places a
        door jam or a fire. It ends like a random one, or by `repair`. Returns whether it
        started (False: it was already happening)."""
        if incident not in INCIDENTS:
            raise SimError(f"unknown incident {incident!r}; one of: {', '.join(INCIDENTS)}")
        c = None if compartment is None else self._comp(compartment)
        t = self._goto(at)
        if self.active[incident]:
            return False
        self._start(incident, t, c)
        return True

    def force_fire(self, at: datetime, compartment: str = GARBAGE) -> bool:
        return self.fail("fire", at, compartment)

    def stats(self, compartment: str) -> CompartmentStats:
        c, t = self._comp(compartment), self._t
        full = c.full_s + (t - c.full_since if c.full_since is not None else 0.0)
        over = c.over_s + (t - c.over_since if c.over_since is not None else 0.0)
        return CompartmentStats(
            fill=c.fill,
            weight_kg=c.kg,
            temp_c=c.temp,
            door=c.door,
            smoke=c.smoke,
            accepted=c.accepted,
            refused_full=c.refused_full,
            refused_other=c.refused_other,
            collected_kg=c.collected,
            full_minutes=full / 60,
            overflow_minutes=over / 60,
        )

    def drain_deposits(self) -> list[Deposit]:
        out, self.deposits = self.deposits, []
        return out

    def _comp(self, name: str) -> _Comp:
        if name not in self.comps:
            raise SimError(f"unknown compartment {name!r}; one of: {', '.join(COMPARTMENTS)}")
        return self.comps[name]

    def _not_before(self, at: datetime, name: str) -> float:
        t = _aware(at, name)
        if t < self._t:
            raise SimError(f"{name} {at.isoformat()} is before the simulation's now")
        return t

    def _goto(self, at: datetime) -> float:
        t = self._not_before(at, "at")
        self._run(t)
        self._settle(t)
        return t

    # --- the loop -------------------------------------------------------------------------

    def _run(self, end: float) -> None:
        heap, out = self._heap, self._pending
        while True:
            t_ev = heap[0][0] if heap else math.inf
            if t_ev > end:
                self._emit(end, True, out)
                break
            self._emit(t_ev, False, out)  # an event at a sample's time comes first
            _, _, kind, arg = heapq.heappop(heap)
            self._event(t_ev, kind, arg)
        self._t = end

    def _emit(self, stop: float, inclusive: bool, out: list[Sample]) -> None:
        """The samples due up to `stop`; between events each compartment's temperature is an
        Ornstein-Uhlenbeck process, stepped exactly."""
        step, base, k = self._step, self._base, self._k
        t_s = base + k * step
        if t_s > stop or (t_s == stop and not inclusive):
            return
        self._settle(t_s)
        g, p, n = self._order
        (mg, ag, bg), (mp, ap, bp), (mn, an, bn) = (self._coeffs(c) for c in self._order)
        tg, tp, tn = g.temp, p.temp, n.temp
        vals, sid, obs, td = self._vals, self.station_id, self._obs, self._step_td
        noise, bits, floor = _NORMAL, self._rt.getrandbits, math.floor
        drop = self.config.network_drops_samples and self.active["network"]
        last = t_s
        while True:  # the hot loop of a benchmark: locals only, three compartments unrolled
            v = vals.copy()
            v[_TEMP_KEYS[0]] = floor(tg * 10 + 0.5) / 10  # sensors resolve 0.1 °C
            v[_TEMP_KEYS[1]] = floor(tp * 10 + 0.5) / 10
            v[_TEMP_KEYS[2]] = floor(tn * 10 + 0.5) / 10
            if not drop:
                out.append(Sample(sid, obs, v))
            k += 1
            obs += td
            t_s = base + k * step
            if t_s > stop or (t_s == stop and not inclusive):
                break
            tg = mg + (tg - mg) * ag + bg * noise[bits(_NORMAL_BITS)]
            tp = mp + (tp - mp) * ap + bp * noise[bits(_NORMAL_BITS)]
            tn = mn + (tn - mn) * an + bn * noise[bits(_NORMAL_BITS)]
            last = t_s
        g.temp, p.temp, n.temp = tg, tp, tn
        g.temp_t = p.temp_t = n.temp_t = last
        self._k, self._obs = k, obs

    def _coeffs(self, c: _Comp) -> tuple[float, float, float]:
        """Target, decay and noise of one report step in the compartment's current regime."""
        k, m = self._regime(c)
        a = math.exp(-k * self._step)
        return m, a, self.config.temp_noise_c * math.sqrt(1 - a * a)

    def _regime(self, c: _Comp) -> tuple[float, float]:
        """Rate and target of the temperature: the cabinet leaks toward ambient, the
        compressor pulls toward its target, an open door and a fire pull harder."""
        cfg = self.config
        k, pull = self._k_leak, self._k_leak * cfg.ambient_c
        if not self.active["cooling"]:
            k, pull = k + self._k_cool, pull + self._k_cool * self._t_cool
        if c.door == DOOR_OPEN:
            k, pull = k + self._k_door, pull + self._k_door * cfg.ambient_c
        if c.fire:
            k, pull = k + self._k_fire, pull + self._k_fire * c.fire
        return k, pull / k

    def _settle(self, t: float, only: _Comp | None = None) -> None:
        """Bring temperatures up to `t` before their regime changes (one compartment's, or
        all of them)."""
        sd = self.config.temp_noise_c
        for c in self._order if only is None else (only,):
            dt = t - c.temp_t
            if dt > 0:
                k, m = self._regime(c)
                a = math.exp(-k * dt)
                z = _NORMAL[self._rt.getrandbits(_NORMAL_BITS)]
                c.temp = m + (c.temp - m) * a + sd * math.sqrt(1 - a * a) * z
                c.temp_t = t

    def _event(self, t: float, kind: str, arg: str) -> None:
        if kind == "visit":
            self._visit(t)
            self._push(self._next_visit(t), "visit", "")
        elif kind == "close":
            c = self.comps[arg]
            if c.close_at == t and c.door == DOOR_OPEN:
                self._settle(t, c)
                c.door, c.close_at = DOOR_CLOSED, math.inf
                self._refresh(c)
        elif kind == "start" and self._starts.get(arg) == t and not self.active[arg]:
            self._settle(t)
            self._start(arg, t)
        elif kind == "end" and self._ends.get(arg) == t and self.active[arg]:
            self._settle(t)
            self._end(arg, t)

    # --- incidents ------------------------------------------------------------------------

    def _start(self, name: str, t: float, where: _Comp | None = None) -> None:
        self.started[name] += 1
        if name == "fire":
            self._start_fire(where or self._order[self._pick(self.config.fire_weights)], t)
            return
        self.active[name] = True
        if name == "door":
            c = where or self._order[self._pick(self.config.door_jam_weights)]
            c.door, c.close_at = DOOR_JAMMED, math.inf
            self._refresh(c)
        if name in FAULTS:
            self._vals[f"fault.{name}"] = 1.0
        self._schedule_end(name, t)

    def _pick(self, weights: Iterable[float]) -> int:
        return self._ri.choices(range(len(COMPARTMENTS)), weights=list(weights))[0]

    def _schedule_end(self, name: str, t: float) -> None:
        hours = self.config.incidents[name].mean_hours
        end = t + self._ri.expovariate(1 / (hours * 3600)) if hours else math.inf
        self._ends[name] = end
        self._push(end, "end", name)

    def _start_fire(self, c: _Comp, t: float) -> None:
        self.active["fire"] = True
        c.fire, c.smoke = self._ri.uniform(*self.config.fire_peak_c), True
        self._refresh(c)
        self._schedule_end("fire", t)

    def _end(self, name: str, t: float) -> None:
        self.active[name] = False
        self._ends.pop(name, None)
        if name in FAULTS:
            self._vals[f"fault.{name}"] = 0.0
        for c in self._order:
            if name == "door" and c.door == DOOR_JAMMED:
                c.door = DOOR_CLOSED
            elif name == "fire":
                c.fire, c.smoke = 0.0, False
            elif name == "scale":
                c.shown_kg = c.kg
            self._refresh(c)
        self._schedule_start(name, t)

    # --- visits ---------------------------------------------------------------------------

    def _visit(self, t: float) -> None:
        r, cfg = self._rv, self.config
        drops: list[tuple[_Comp, str, int, int, float]] = []  # comp, kind, grams, items, m3
        if r.random() < cfg.garbage_share:
            low, high = cfg.bag_range_kg
            mu, bits = math.log(cfg.bag_median_kg), r.getrandbits
            kg = math.exp(mu + cfg.bag_sigma * _NORMAL[bits(_NORMAL_BITS)])
            while not low <= kg <= high:  # truncated by drawing again
                kg = math.exp(mu + cfg.bag_sigma * _NORMAL[bits(_NORMAL_BITS)])
            drops.append(self._drop(GARBAGE, "garbage", round(kg * 1000), 1))
        else:
            n = min(cfg.items_max, 1 + int(r.expovariate(1 / cfg.items_mean)))
            pets = sum(r.random() < cfg.pet_share for _ in range(n))
            for name, kind, count, grams in (
                (PET, "pet", pets, cfg.pet_g),
                (CAN, "can", n - pets, cfg.can_g),
            ):
                if count:
                    total = sum(
                        grams * r.uniform(1 - cfg.item_spread, 1 + cfg.item_spread)
                        for _ in range(count)
                    )
                    drops.append(self._drop(name, kind, round(total), count))
        refused = self._refusal(drops)
        at = self._at(t) if cfg.keep_deposits else None
        took = False
        for c, kind, grams, items, m3 in drops:
            why = refused or ("full" if c.m3 + m3 > c.spec.capacity_m3 else None)
            if why is None:
                self._accept(c, t, grams, items, m3)
                took = True
            elif why == "full":
                c.refused_full += 1
                if c.over_since is None:
                    c.over_since = t
            else:
                c.refused_other += 1
            if at is not None:
                self.deposits.append(Deposit(self.station_id, at, kind, c.name, grams, items, why))
        if took:
            self._receipt(t)

    def _drop(
        self, name: str, kind: str, grams: int, items: int
    ) -> tuple[_Comp, str, int, int, float]:
        c = self.comps[name]
        z = _NORMAL[self._rv.getrandbits(_NORMAL_BITS)]
        density = c.spec.kg_per_m3 * math.exp(c.spec.density_spread * z)
        return c, kind, grams, items, grams / 1000 / density

    def _refusal(self, drops: list[tuple[_Comp, str, int, int, float]]) -> str | None:
        """Why the station turns the whole visit away: a card is needed to pay or be credited,
        a garbage fee needs the scale, a burning station locks its doors."""
        act = self.active
        if not (act["fire"] or act["card_reader"] or act["scale"] or act["door"]):
            return None
        if self.active["fire"]:
            return "fire"
        if self.active["card_reader"]:
            return "card_reader"
        if self.active["scale"] and any(d[0].name == GARBAGE for d in drops):
            return "scale"
        if any(d[0].door == DOOR_JAMMED for d in drops):
            return "door"
        return None

    def _accept(self, c: _Comp, t: float, grams: int, items: int, m3: float) -> None:
        c.kg += grams / 1000
        c.m3 += m3
        c.accepted += 1
        if not self.active["scale"]:
            c.shown_kg = c.kg
        if c.full_since is None and c.fill >= self.config.full_at:
            c.full_since = t
        cfg = self.config
        hold = (
            self._rv.uniform(*cfg.garbage_door_s)
            if c.name == GARBAGE
            else 3 + items * cfg.item_door_s
        )
        self._open_door(c, t, hold)
        self._refresh(c)

    def _receipt(self, t: float) -> None:
        if self.paper > 0:
            self.paper -= 1
            if self.paper == 0 and not self.active["printer_paper"]:
                self.started["printer_paper"] += 1
                self.active["printer_paper"] = True
                self._vals["fault.printer_paper"] = 1.0
                self._schedule_end("printer_paper", t)

    def _open_door(self, c: _Comp, t: float, hold: float) -> None:
        if c.door == DOOR_JAMMED:
            return
        if c.door == DOOR_CLOSED:
            self._settle(t, c)
        c.door = DOOR_OPEN
        c.close_at = max(t + hold, c.close_at if c.close_at < math.inf else 0.0)
        self._push(c.close_at, "close", c.name)

    def _close_window(self, c: _Comp, t: float) -> None:
        """Before an emptying: bank the full and overflow time of this load."""
        if c.full_since is not None:
            c.full_s += t - c.full_since
        if c.over_since is not None:
            c.over_s += t - c.over_since
        c.full_since = c.over_since = None

    # --- values ---------------------------------------------------------------------------

    def _initial_values(self) -> dict[str, float]:
        vals: dict[str, float] = {}
        for c in self._order:
            vals[f"{c.name}.fill"] = 0.0
            vals[f"{c.name}.weight_kg"] = 0.0
            vals[f"{c.name}.temp_c"] = c.temp
            vals[f"{c.name}.door"] = DOOR_CLOSED
            vals[f"{c.name}.smoke"] = 0.0
        vals.update({f"fault.{f}": 0.0 for f in FAULTS})
        vals["heartbeat"] = 1.0
        return vals

    def _refresh(self, c: _Comp) -> None:
        v, n = self._vals, c.name
        v[f"{n}.fill"] = round(c.fill, 3)  # an ultrasonic level sensor resolves ~1 mm in 1 m
        v[f"{n}.weight_kg"] = round(c.shown_kg, 2)
        v[f"{n}.door"] = c.door
        v[f"{n}.smoke"] = 1.0 if c.smoke else 0.0


class CitySim:
    """Many stations advanced together; each station's seed derives from the city's seed and
    its id, so adding a station leaves the others as they were."""

    def __init__(
        self,
        station_ids: Iterable[str],
        seed: int | str,
        config: SimConfig = DEFAULT_SIM,
        start: datetime | None = None,
    ) -> None:
        self.stations = {
            sid: StationSim(sid, f"{seed}/{sid}", config, start) for sid in station_ids
        }

    def advance(self, until: datetime, sink: Callable[[list[Sample]], None] | None = None) -> int:
        """Step every station to `until`, hand each station's samples to `sink` (or drop
        them) and return how many there were."""
        n = 0
        for sim in self.stations.values():
            samples = sim.advance(until)
            n += len(samples)
            if sink is not None:
                sink(samples)
        return n

    def slices(self, until: datetime, step: timedelta) -> Iterator[tuple[datetime, list[Sample]]]:
        """Advance all stations `step` at a time, yielding (slice end, its samples)."""
        if step <= timedelta(0):
            raise SimError("step must be positive")
        at = min(s.now for s in self.stations.values()) if self.stations else until
        while at < until:
            at = min(at + step, until)
            batch: list[Sample] = []
            self.advance(at, batch.extend)
            yield at, batch

    def drain_deposits(self) -> list[Deposit]:
        return [d for sim in self.stations.values() for d in sim.drain_deposits()]
