"""Which stations a shift's trucks must empty, which are worth emptying, and what each weighs:
the collection policy that turns station states and fill forecasts into routing stops.

Pure: the plan service feeds it from the database, the simulation from the station simulator.

A station is a **must-visit** when something needs a crew now (a fire, a fault, a job the
dispatcher marked urgent) or when one of its compartments will probably be full before the
next chance to empty it: the forecast's early (10th percentile) time to full is before the
next shift starts. It is **optional** when a compartment may fill by then; its prize is the
chance of that times `overflow_prize_m`, the metres of driving the city will spend to avoid one
overflow. A station not in either set waits. Every decision carries its reason, shown on the
planner page. Given the shift's end, a must-visit station that will not be full yet is emptied
late in the shift (a window opening shortly before its early time to full), so its bin has room
for the evening's deposits."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from onecity.waste.planning.forecast import Eta, FillModel
from onecity.waste.planning.routing import Stop

# The vehicle class the collection trucks are: their key in the city profile's
# [travel.speeds_kmh] (core.travel), whose hourly speeds the planner drives at.
TRUCK_CLASS = "garbage_truck"


@dataclass(frozen=True)
class Compartment:
    name: str
    fill: float  # 0..1 as last reported
    kg: float  # as last reported
    capacity_kg: float
    capacity_m3: float
    model: FillModel | None = None  # None: no forecast, the fill is taken as it is


@dataclass(frozen=True)
class Station:
    id: str
    site: int  # index into the problem's sites
    compartments: tuple[Compartment, ...]
    urgent: str | None = None  # a job that needs a crew: fire, fault, ...; None if none
    # Local seconds of the day when a truck may stop there (e.g. not at school hours).
    window: tuple[int, int] | None = None


@dataclass(frozen=True)
class Policy:
    full_at: float = 1.0  # "full": citizens turned away
    overflow_prize_m: int = 30_000  # 30 km of driving is worth one avoided overflow
    base_service_s: int = 180  # park, open the cabinet, close up
    per_compartment_s: int = 90  # swap or empty one bin
    repair_service_s: int = 1200  # a fault repaired on the spot
    min_prize_chance: float = 0.05  # below this a station waits
    # A compartment this full now is emptied whatever its forecast says: the next bag may be
    # refused, and a station with no usage history would otherwise be trusted to stay put.
    full_now: float = 0.9
    # An optional station is only worth a stop when its fullest compartment will be at least
    # this full by then: emptying a half-empty bin spends a stop now and saves none later.
    worth_fill: float = 0.6
    # A must-visit station that will not be full until later is emptied as late as still
    # keeps it from overflowing: its bin then has the whole evening peak's room, and the next
    # full time moves later. Its window opens this long before the early (10 %) time to full...
    late_margin_s: int = 3600
    # ... but no later than this share of the way into the shift, so the routes keep room
    # (every such stop squeezed into the shift's last minutes would go unserved).
    latest_open: float = 0.5

    def service_s(self, station: Station, emptied: int) -> int:
        extra = self.repair_service_s if station.urgent and station.urgent != "fire" else 0
        return self.base_service_s + self.per_compartment_s * emptied + extra


@dataclass(frozen=True)
class Decision:
    station: str
    stop: Stop | None  # None: waits for a later shift
    reason: str  # why it must be visited, may be, or can wait
    chance: float  # probability a compartment is full before the next shift
    eta_full: datetime | None  # the soonest expected full time of its compartments


def chance_before(eta: Eta, deadline: datetime) -> float:
    """P(full before deadline), read off the forecast's 10/50/90 % times by linear steps."""
    points = [(eta.early, 0.1), (eta.expected, 0.5), (eta.late, 0.9)]
    known = [(t, p) for t, p in points if t is not None]
    if not known:
        return 0.0
    if deadline < known[0][0]:
        return known[0][1] * max(0.0, 1 - (known[0][0] - deadline) / timedelta(hours=24))
    for (t0, p0), (t1, p1) in itertools.pairwise(known):
        if t0 <= deadline < t1:
            return p0 + (p1 - p0) * ((deadline - t0) / (t1 - t0))
    # past the last known quantile: at least that likely
    return 0.95 if known[-1][1] >= 0.9 else known[-1][1]


def _eta(c: Compartment, now: datetime, target: float) -> Eta:
    if c.fill >= target:
        return Eta(now, now, now)
    if c.model is None:
        return Eta(None, None, None)
    return c.model.eta(now, c.fill, target)


def _load_at(c: Compartment, now: datetime, at: datetime) -> tuple[float, float]:
    """(kg, m3) expected in the compartment at `at` (the truck's arrival, roughly)."""
    fill = c.model.expected_fill(now, c.fill, at) if c.model else c.fill
    fill = min(max(fill, c.fill), 1.0)
    kg = c.kg * (fill / c.fill) if c.fill > 0.01 else fill * c.capacity_kg
    return min(kg, c.capacity_kg), fill * c.capacity_m3


def _late_window(
    early: datetime | None,
    shift_start: datetime,
    shift_end: datetime,
    day_start: datetime,
    window: tuple[int, int] | None,
    policy: Policy,
) -> tuple[int, int] | None:
    """The station's window narrowed to open shortly before its early time to full, clamped
    into the shift; the station's own window unchanged when the two do not meet."""
    if early is None:
        return window
    latest = shift_start + (shift_end - shift_start) * policy.latest_open
    opens = min(max(early - timedelta(seconds=policy.late_margin_s), shift_start), latest)
    lo = int((opens - day_start).total_seconds())
    hi = int((shift_end - day_start).total_seconds())
    if window is not None:
        lo, hi = max(lo, window[0]), min(hi, window[1])
        if lo > hi:
            return window
    return (lo, hi) if lo > int((shift_start - day_start).total_seconds()) else window


def decide(
    stations: Sequence[Station],
    now: datetime,
    shift_start: datetime,
    next_shift: datetime,
    day_start: datetime,
    policy: Policy = Policy(),
    shift_end: datetime | None = None,
) -> list[Decision]:
    """One decision per station for the shift starting at `shift_start`; the next chance to
    empty a station is `next_shift`. Stop windows are seconds from `day_start`, like the
    trucks' shifts. Given `shift_end`, a must-visit station that is not yet urgent gets a
    window that opens shortly before its early time to full (see `Policy.late_margin_s`)."""
    out = []
    for st in stations:
        etas = {c.name: _eta(c, now, policy.full_at) for c in st.compartments}
        chance = max((chance_before(e, next_shift) for e in etas.values()), default=0.0)
        soonest = min((e.expected for e in etas.values() if e.expected), default=None)
        nearly = max((c.fill for c in st.compartments), default=0.0)
        if st.urgent:
            reason = f"urgent: {st.urgent}"
        elif nearly >= policy.full_now:
            reason = f"already {nearly:.0%} full"
        elif any(e.early is not None and e.early <= next_shift for e in etas.values()):
            reason = "will probably be full before the next shift"
        elif chance >= policy.min_prize_chance:
            reason = f"may be full before the next shift ({chance:.0%})"
        else:
            out.append(Decision(st.id, None, "can wait for a later shift", chance, soonest))
            continue
        required = not reason.startswith("may")
        mid = shift_start + (next_shift - shift_start) / 4
        loads = [_load_at(c, now, mid) for c in st.compartments]
        fullest = max(
            (m3 / c.capacity_m3 for (_, m3), c in zip(loads, st.compartments, strict=True)),
            default=0.0,
        )
        if not required and fullest < policy.worth_fill:
            reason = f"can wait: {fullest:.0%} full by then, {chance:.0%} chance of full"
            out.append(Decision(st.id, None, reason, chance, soonest))
            continue
        window = None
        if st.window is not None:
            base = int((shift_start - day_start).total_seconds()) // 86400 * 86400
            window = (base + st.window[0], base + st.window[1])
        if required and not st.urgent and shift_end is not None:
            early = min((e.early for e in etas.values() if e.early is not None), default=None)
            window = _late_window(early, shift_start, shift_end, day_start, window, policy)
        stop = Stop(
            ref=st.id,
            site=st.site,
            kg=sum(kg for kg, _ in loads),
            m3=sum(m3 for _, m3 in loads),
            service_s=policy.service_s(st, len(st.compartments)),
            window=window,
            required=required,
            prize_m=0 if required else int(chance * policy.overflow_prize_m),
            priority=2 if st.urgent == "fire" else (1 if st.urgent else 0),
            kind="repair" if st.urgent and st.urgent != "fire" else "collect",
        )
        out.append(Decision(st.id, stop, reason, chance, soonest))
    return out
