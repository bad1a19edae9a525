"""A seedable simulator of iTrash station usage: citizens' visits in, station telemetry out.

For the demo, the tests and the benchmarks. Pure: no I/O and no clock; time is passed in and
every random draw comes from `random.Random` streams seeded from the station's seed. Visits,
incidents and temperature noise use separate streams, so the visits and faults of a seed do not
change with the reporting interval.

Samples use the telemetry keys of `docs/waste.md` (`<compartment>.fill`, `.weight_kg`, `.temp_c`,
`.door`, `.smoke`, `fault.<name>`, `heartbeat`), all values floats. Each deposit passes the
station's press (garbage) or crusher (recycling) before the next user: the fill a station
reports only rises between emptyings.

Over 400 lines: `StationSim` is one event-driven state machine (visits, doors, incidents,
temperatures, emptyings) whose hot loop keeps its state in locals; its settings and outputs are
in `station_config`, a city of them in `city_sim`."""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from onecity.waste.simulation.station_config import (
    CAN,
    COMPARTMENTS,
    DEFAULT_SIM,
    DOOR_CLOSED,
    DOOR_JAMMED,
    DOOR_OPEN,
    FAULTS,
    GARBAGE,
    HORIZON,
    INCIDENTS,
    NORMAL,
    NORMAL_BITS,
    PET,
    TEMP_KEYS,
    CompartmentSpec,
    CompartmentStats,
    Deposit,
    Sample,
    SimConfig,
    SimError,
)


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
        if t + weeks * 7 * 86400 > HORIZON:
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
        noise, bits, floor = NORMAL, self._rt.getrandbits, math.floor
        drop = self.config.network_drops_samples and self.active["network"]
        last = t_s
        while True:  # the hot loop of a benchmark: locals only, three compartments unrolled
            v = vals.copy()
            v[TEMP_KEYS[0]] = floor(tg * 10 + 0.5) / 10  # sensors resolve 0.1 °C
            v[TEMP_KEYS[1]] = floor(tp * 10 + 0.5) / 10
            v[TEMP_KEYS[2]] = floor(tn * 10 + 0.5) / 10
            if not drop:
                out.append(Sample(sid, obs, v))
            k += 1
            obs += td
            t_s = base + k * step
            if t_s > stop or (t_s == stop and not inclusive):
                break
            tg = mg + (tg - mg) * ag + bg * noise[bits(NORMAL_BITS)]
            tp = mp + (tp - mp) * ap + bp * noise[bits(NORMAL_BITS)]
            tn = mn + (tn - mn) * an + bn * noise[bits(NORMAL_BITS)]
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
                z = NORMAL[self._rt.getrandbits(NORMAL_BITS)]
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
            kg = math.exp(mu + cfg.bag_sigma * NORMAL[bits(NORMAL_BITS)])
            while not low <= kg <= high:  # truncated by drawing again
                kg = math.exp(mu + cfg.bag_sigma * NORMAL[bits(NORMAL_BITS)])
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
        z = NORMAL[self._rv.getrandbits(NORMAL_BITS)]
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
