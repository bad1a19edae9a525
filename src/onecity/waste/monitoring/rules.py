"""Station monitoring rules: from one telemetry reading to alert transitions, crew-job
escalation, and the FIWARE `WasteContainer` view of a compartment.

Pure: no database, broker or clock. The caller keeps one `StationState` per station, passes it
with each reading and the current time to `apply_reading`, stores the state it gets back and
turns each `Transition` into a crew job (raised), a job note (updated) or a job closure
(cleared). `check_offline` runs on a timer, since a silent station sends nothing.

Priorities, 1 most urgent: fire 1; offline, fault and temperature_high 2; full 3; full_soon 4.
An alert is identified by its `AlertKey` (kind, compartment, detail); at most one is open per
key. Station-wide alerts (offline, and the card reader, printer paper and network faults)
have no compartment."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from onecity.waste.rules.money import RuleError

MAX_WEIGHT_KG = 5000.0  # more than a compartment can hold: a scale fault, not a load
TEMPERATURE_RANGE_C = (-40.0, 150.0)  # what the stations' sensors can report at all
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # ids end up inside NGSI-LD URNs


class MonitoringError(RuleError):
    """Telemetry or a job record that cannot be true; `field` names the culprit."""


class AlertKind(StrEnum):
    FIRE = "fire"
    OFFLINE = "offline"
    FAULT = "fault"
    TEMPERATURE_HIGH = "temperature_high"
    FULL = "full"
    FULL_SOON = "full_soon"


PRIORITY: Mapping[AlertKind, int] = {
    AlertKind.FIRE: 1,
    AlertKind.OFFLINE: 2,
    AlertKind.FAULT: 2,
    AlertKind.TEMPERATURE_HIGH: 2,
    AlertKind.FULL: 3,
    AlertKind.FULL_SOON: 4,
}


class Action(StrEnum):
    RAISED = "raised"
    UPDATED = "updated"
    CLEARED = "cleared"


class DoorState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    JAMMED = "jammed"


class CompactorState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    OFF = "off"


class Fault(StrEnum):
    SCALE = "scale"
    DOOR = "door"
    CARD_READER = "card_reader"
    PRINTER_PAPER = "printer_paper"
    NETWORK = "network"


# Faults of the station as a whole: whichever compartment reports one, it is one alert.
STATION_FAULTS = frozenset({Fault.CARD_READER, Fault.PRINTER_PAPER, Fault.NETWORK})

Param = str | int | float
Params = Mapping[str, Param]


def _aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise MonitoringError(f"{name} must be a datetime", field=name)
    if value.tzinfo is None or value.utcoffset() is None:
        raise MonitoringError(f"{name} must carry a time zone (e.g. +08:00 or Z)", field=name)
    return value


def _number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MonitoringError(f"{name} must be a number", field=name)
    if not math.isfinite(value) or not low <= value <= high:
        raise MonitoringError(
            f"{name} must be between {low:g} and {high:g}, got {value}", field=name
        )
    return float(value)


def _choice(enum: type[StrEnum], value: object, name: str) -> Any:
    if isinstance(value, str) and value in enum._value2member_map_:
        return enum(value)
    known = ", ".join(m.value for m in enum)
    raise MonitoringError(f"unknown {name} {value!r}; one of: {known}", field=name)


def _check_id(value: object, name: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise MonitoringError(f"{name} must be 1-64 letters, digits, '_', '.' or '-'", field=name)
    return value


@dataclass(frozen=True)
class Reading:
    """One compartment's telemetry. Built from raw values it checks them, naming the field."""

    compartment: str
    observed_at: datetime
    fill: float  # 0 empty .. 1 full
    weight_kg: float
    temperature_c: float
    door: DoorState = DoorState.CLOSED
    compactor: CompactorState = CompactorState.IDLE
    smoke: bool = False
    faults: frozenset[Fault] = frozenset()

    def __post_init__(self) -> None:
        _check_id(self.compartment, "compartment")
        _aware(self.observed_at, "observed_at")
        low, high = TEMPERATURE_RANGE_C
        fix = object.__setattr__  # frozen: normalise once, here, the way the wire sends it
        fix(self, "fill", _number(self.fill, "fill", 0.0, 1.0))
        fix(self, "weight_kg", _number(self.weight_kg, "weight_kg", 0.0, MAX_WEIGHT_KG))
        fix(self, "temperature_c", _number(self.temperature_c, "temperature_c", low, high))
        fix(self, "door", _choice(DoorState, self.door, "door"))
        fix(self, "compactor", _choice(CompactorState, self.compactor, "compactor"))
        if not isinstance(self.smoke, bool):
            raise MonitoringError("smoke must be true or false", field="smoke")
        if isinstance(self.faults, str) or not isinstance(self.faults, Iterable):
            raise MonitoringError("faults must be a list of fault names", field="faults")
        fix(self, "faults", frozenset(_choice(Fault, f, "faults") for f in self.faults))


@dataclass(frozen=True)
class MonitoringConfig:
    full_at: float = 0.80  # Taoyuan's stations call a compartment full at 80 %
    full_clears_below: float = 0.50  # only an emptying clears `full`: no flapping near 80 %
    emptying_drop: float = 0.30  # a fall this large is an emptying: the fill history restarts
    full_soon_horizon: timedelta = timedelta(hours=4)
    full_soon_clear_margin: timedelta = timedelta(hours=1)
    fill_window: timedelta = timedelta(hours=3)
    fill_history_max: int = 180
    fill_min_points: int = 3
    fill_min_span: timedelta = timedelta(minutes=15)
    eta_update_step: timedelta = timedelta(minutes=30)
    temperature_max_c: float = 10.0  # refrigerated at 5-10 °C
    temperature_sustain: timedelta = timedelta(minutes=10)
    temperature_clear_margin_c: float = 0.5
    fire_temperature_c: float = 60.0
    fire_rise_c: float = 20.0
    fire_rise_window: timedelta = timedelta(minutes=2)
    fire_normal_below_c: float = 40.0  # a reading counts toward the all-clear only below this
    fire_all_clear_after: timedelta = timedelta(minutes=10)
    heartbeat: timedelta = timedelta(seconds=60)
    offline_missed_heartbeats: int = 3
    max_clock_skew: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if not 0 < self.full_clears_below < self.full_at <= 1:
            raise MonitoringError("need 0 < full_clears_below < full_at <= 1", field="full_at")
        if self.fill_min_points < 2 or self.fill_history_max < self.fill_min_points:
            raise MonitoringError("fill history needs at least 2 points", field="fill_min_points")
        if self.offline_missed_heartbeats < 1:
            raise MonitoringError("offline needs at least one missed heartbeat", field="heartbeat")
        for name in ("full_soon_horizon", "temperature_sustain", "fire_rise_window", "heartbeat"):
            if getattr(self, name) <= timedelta(0):
                raise MonitoringError(f"{name} must be positive", field=name)

    @property
    def offline_after(self) -> timedelta:
        return self.heartbeat * self.offline_missed_heartbeats


DEFAULT_CONFIG = MonitoringConfig()


@dataclass(frozen=True)
class AlertKey:
    kind: AlertKind
    compartment: str | None = None  # None: the station as a whole
    detail: str | None = None  # the fault name for `fault`


@dataclass(frozen=True)
class OpenAlert:
    key: AlertKey
    raised_at: datetime
    params: Params


@dataclass(frozen=True)
class Transition:
    action: Action
    key: AlertKey
    at: datetime
    params: Params

    @property
    def kind(self) -> AlertKind:
        return self.key.kind

    @property
    def compartment(self) -> str | None:
        return self.key.compartment

    @property
    def priority(self) -> int:
        return PRIORITY[self.key.kind]

    @property
    def code(self) -> str:
        """The i18n message key, e.g. `waste.alert.full.raised`; `params` fill it in."""
        return f"waste.alert.{self.key.kind}.{self.action}"


@dataclass(frozen=True)
class CompartmentState:
    last: Reading
    fills: tuple[tuple[datetime, float], ...] = ()  # since the last emptying, bounded
    temps: tuple[tuple[datetime, float], ...] = ()  # within fire_rise_window
    fire_causes: frozenset[str] = frozenset()  # of the last reading
    hot_since: datetime | None = None  # start of the current run above temperature_max_c
    normal_since: datetime | None = None  # start of the current run of fire-free readings
    last_emptied_at: datetime | None = None


@dataclass(frozen=True)
class StationState:
    station_id: str
    last_seen_at: datetime | None = None
    compartments: Mapping[str, CompartmentState] = field(default_factory=dict)
    alerts: Mapping[AlertKey, OpenAlert] = field(default_factory=dict)


Result = tuple[StationState, list[Transition]]


def new_station(station_id: str) -> StationState:
    return StationState(_check_id(station_id, "station_id"))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- the rules -------------------------------------------------------------------------------


def fill_rate_per_hour(
    points: tuple[tuple[datetime, float], ...], config: MonitoringConfig = DEFAULT_CONFIG
) -> float | None:
    """Least-squares slope of fill over time, or None with too few or too close points."""
    if len(points) < config.fill_min_points:
        return None
    if points[-1][0] - points[0][0] < config.fill_min_span:
        return None
    xs = [(t - points[0][0]).total_seconds() / 3600 for t, _ in points]
    ys = [f for _, f in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def _fire_causes(prev: CompartmentState | None, r: Reading, cfg: MonitoringConfig) -> set[str]:
    causes = set()
    if r.smoke:
        causes.add("smoke")
    if r.temperature_c >= cfg.fire_temperature_c:
        causes.add("temperature")
    if prev is not None:
        recent = [c for t, c in prev.temps if r.observed_at - t <= cfg.fire_rise_window]
        if recent and r.temperature_c - min(recent) >= cfg.fire_rise_c:
            causes.add("rise")
    return causes


def _run_since(previous: datetime | None, unbroken: bool, on: bool, t: datetime) -> datetime | None:
    """Start of a run of readings that meet a condition, or None when this one does not."""
    if not on:
        return None
    return previous if unbroken and previous is not None else t


def _next_compartment(
    prev: CompartmentState | None, r: Reading, cfg: MonitoringConfig
) -> CompartmentState:
    t = r.observed_at
    fills, temps, emptied = (
        (prev.fills, prev.temps, prev.last_emptied_at) if prev else ((), (), None)
    )
    if prev is not None and prev.last.fill - r.fill > cfg.emptying_drop:
        fills, emptied = (), t
    fills = (*((ft, f) for ft, f in fills if t - ft <= cfg.fill_window), (t, r.fill))
    temps = (*((tt, c) for tt, c in temps if t - tt <= cfg.fire_rise_window), (t, r.temperature_c))
    causes = _fire_causes(prev, r, cfg)
    # After a silence longer than the offline limit, nothing is known to have been continuous.
    unbroken = prev is not None and t - prev.last.observed_at <= cfg.offline_after
    hot = r.temperature_c > cfg.temperature_max_c
    normal = not causes and r.temperature_c < cfg.fire_normal_below_c
    return CompartmentState(
        last=r,
        fills=fills[-cfg.fill_history_max :],
        temps=temps,
        fire_causes=frozenset(causes),
        hot_since=_run_since(prev.hot_since if prev else None, unbroken, hot, t),
        normal_since=_run_since(prev.normal_since if prev else None, unbroken, normal, t),
        last_emptied_at=emptied,
    )


def _full(c: CompartmentState, old: OpenAlert | None, cfg: MonitoringConfig) -> Params | None:
    fill = c.last.fill
    if old is not None:
        emptied = c.last_emptied_at == c.last.observed_at  # even a partial emptying is service
        return old.params if fill >= cfg.full_clears_below and not emptied else None
    return {"fill": round(fill, 3), "threshold": cfg.full_at} if fill >= cfg.full_at else None


def _full_soon(
    c: CompartmentState, old: OpenAlert | None, full: bool, cfg: MonitoringConfig
) -> Params | None:
    rate = fill_rate_per_hour(c.fills, cfg)
    if full or rate is None or rate <= 0:
        return None
    hours = (cfg.full_at - c.last.fill) / rate
    limit = cfg.full_soon_horizon + (cfg.full_soon_clear_margin if old else timedelta(0))
    if hours > limit / timedelta(hours=1):
        return None
    eta = c.last.observed_at + timedelta(hours=hours)
    if old is not None:
        old_eta = datetime.fromisoformat(str(old.params["eta"]))
        if abs(eta - old_eta) < cfg.eta_update_step:
            return old.params
    return {"eta": _iso(eta), "hours": round(hours, 2), "rate_per_hour": round(rate, 4)}


def _temperature_high(
    c: CompartmentState, old: OpenAlert | None, cfg: MonitoringConfig
) -> Params | None:
    temp = c.last.temperature_c
    if old is not None:
        return old.params if temp > cfg.temperature_max_c - cfg.temperature_clear_margin_c else None
    if c.hot_since is None or c.last.observed_at - c.hot_since < cfg.temperature_sustain:
        return None
    return {"temperature_c": temp, "threshold_c": cfg.temperature_max_c, "since": _iso(c.hot_since)}


def _fire(c: CompartmentState, old: OpenAlert | None, cfg: MonitoringConfig) -> Params | None:
    now = c.last.observed_at
    if old is None and not c.fire_causes:
        return None
    if old is not None and c.normal_since and now - c.normal_since >= cfg.fire_all_clear_after:
        return None
    before = set(str(old.params["causes"]).split("+")) if old else set()
    causes = before | c.fire_causes
    if old is not None and causes == before:
        return old.params  # still open; nothing new to tell the crew
    return {"causes": "+".join(sorted(causes)), "temperature_c": c.last.temperature_c}


def _faults(c: CompartmentState) -> set[Fault]:
    found = set(c.last.faults)
    if c.last.door is DoorState.JAMMED:
        found.add(Fault.DOOR)
    return found


def _desired(
    comps: Mapping[str, CompartmentState],
    name: str,
    alerts: Mapping[AlertKey, OpenAlert],
    cfg: MonitoringConfig,
) -> tuple[set[AlertKey], dict[AlertKey, Params]]:
    """The keys this compartment's reading decides, and which of them should be open."""
    c = comps[name]
    want: dict[AlertKey, Params | None] = {}
    full_key = AlertKey(AlertKind.FULL, name)
    want[full_key] = _full(c, alerts.get(full_key), cfg)
    soon_key = AlertKey(AlertKind.FULL_SOON, name)
    want[soon_key] = _full_soon(c, alerts.get(soon_key), want[full_key] is not None, cfg)
    hot_key = AlertKey(AlertKind.TEMPERATURE_HIGH, name)
    want[hot_key] = _temperature_high(c, alerts.get(hot_key), cfg)
    fire_key = AlertKey(AlertKind.FIRE, name)
    want[fire_key] = _fire(c, alerts.get(fire_key), cfg)
    station_faults: set[Fault] = set()
    for other in comps.values():
        station_faults |= _faults(other) & STATION_FAULTS
    mine = _faults(c) - STATION_FAULTS
    for f in Fault:
        key = AlertKey(AlertKind.FAULT, None if f in STATION_FAULTS else name, f.value)
        on = f in (station_faults if f in STATION_FAULTS else mine)
        old = alerts.get(key)
        want[key] = (old.params if old else {"fault": f.value}) if on else None
    return set(want), {k: p for k, p in want.items() if p is not None}


def _reconcile(
    alerts: dict[AlertKey, OpenAlert],
    governed: Iterable[AlertKey],
    desired: Mapping[AlertKey, Params],
    at: datetime,
    reason: str = "normal",
) -> list[Transition]:
    out: list[Transition] = []
    for key in governed:
        old, params = alerts.get(key), desired.get(key)
        if old is None and params is not None:
            alerts[key] = OpenAlert(key, at, params)
            out.append(Transition(Action.RAISED, key, at, params))
        elif old is not None and params is None:
            del alerts[key]
            open_s = max(0, int((at - old.raised_at).total_seconds()))
            info: Params = {"raised_at": _iso(old.raised_at), "open_s": open_s, "reason": reason}
            out.append(Transition(Action.CLEARED, key, at, info))
        elif old is not None and params is not None and params != old.params:
            alerts[key] = OpenAlert(key, old.raised_at, params)
            out.append(Transition(Action.UPDATED, key, at, params))
    return out


def _ordered(transitions: list[Transition]) -> list[Transition]:
    return sorted(
        transitions,
        key=lambda t: (t.priority, t.kind, t.compartment or "", t.key.detail or "", t.action),
    )


def apply_reading(
    state: StationState, reading: Reading, now: datetime, config: MonitoringConfig = DEFAULT_CONFIG
) -> Result:
    """Fold one reading into the station's state; return the new state and what changed.

    A duplicate or out-of-order reading (not newer than the compartment's last) proves the
    station is alive but changes no rule."""
    _aware(now, "now")
    if reading.observed_at > now + config.max_clock_skew:
        raise MonitoringError(
            f"observed_at is more than {config.max_clock_skew} ahead of the server clock; "
            "check the station's clock",
            field="observed_at",
        )
    seen = now if state.last_seen_at is None else max(state.last_seen_at, now)
    alerts = dict(state.alerts)
    out = _reconcile(alerts, [AlertKey(AlertKind.OFFLINE)], {}, now, reason="reading")
    prev = state.compartments.get(reading.compartment)
    if prev is not None and reading.observed_at <= prev.last.observed_at:
        return replace(state, last_seen_at=seen, alerts=alerts), out
    comps = {**state.compartments, reading.compartment: _next_compartment(prev, reading, config)}
    governed, desired = _desired(comps, reading.compartment, alerts, config)
    out += _reconcile(alerts, sorted(governed, key=str), desired, reading.observed_at)
    return StationState(state.station_id, seen, comps, alerts), _ordered(out)


def heartbeat(state: StationState, now: datetime) -> Result:
    """A sign of life without measurements: clears `offline`."""
    _aware(now, "now")
    seen = now if state.last_seen_at is None else max(state.last_seen_at, now)
    alerts = dict(state.alerts)
    out = _reconcile(alerts, [AlertKey(AlertKind.OFFLINE)], {}, now, reason="heartbeat")
    return replace(state, last_seen_at=seen, alerts=alerts), out


def check_offline(
    state: StationState, now: datetime, config: MonitoringConfig = DEFAULT_CONFIG
) -> Result:
    """Raise `offline` once the station has been silent past the limit. A station never heard
    from is not offline: it has not been commissioned. Only a reading or heartbeat clears it."""
    _aware(now, "now")
    key = AlertKey(AlertKind.OFFLINE)
    if state.last_seen_at is None or key in state.alerts:
        return state, []
    silent = now - state.last_seen_at
    if silent <= config.offline_after:
        return state, []
    params: Params = {
        "last_seen_at": _iso(state.last_seen_at),
        "silent_s": int(silent.total_seconds()),
    }
    alerts = dict(state.alerts)
    out = _reconcile(alerts, [key], {key: params}, now)
    return replace(state, alerts=alerts), out


def acknowledge_fire(state: StationState, compartment: str, at: datetime) -> Result:
    """A person has dealt with the fire: clear it now. Acknowledging twice changes nothing; a
    later reading that still shows fire raises a new alert."""
    _aware(at, "at")
    key = AlertKey(AlertKind.FIRE, _check_id(compartment, "compartment"))
    alerts = dict(state.alerts)
    out = _reconcile(alerts, [key], {}, at, reason="acknowledged")
    return replace(state, alerts=alerts), out


# --- crew jobs: targets and escalation -------------------------------------------------------

SERVICE_KINDS = frozenset({AlertKind.FULL, AlertKind.FULL_SOON})  # a collection
# everything else is a repair (fire: an emergency response, measured the same way)

DEFAULT_TARGETS: Mapping[AlertKind, timedelta] = {
    AlertKind.FIRE: timedelta(minutes=15),
    AlertKind.OFFLINE: timedelta(hours=8),
    AlertKind.FAULT: timedelta(hours=24),
    AlertKind.TEMPERATURE_HIGH: timedelta(hours=4),
    AlertKind.FULL: timedelta(hours=4),
    AlertKind.FULL_SOON: timedelta(hours=8),
}


@dataclass(frozen=True)
class Job:
    kind: AlertKind
    priority: int
    raised_at: datetime
    accepted_at: datetime | None = None
    closed_at: datetime | None = None  # an alert that cleared by itself closes unaccepted

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _choice(AlertKind, self.kind, "kind"))
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise MonitoringError("priority must be a whole number", field="priority")
        if not 1 <= self.priority <= 9:
            raise MonitoringError("priority must be 1 (most urgent) to 9", field="priority")
        _aware(self.raised_at, "raised_at")
        for name in ("accepted_at", "closed_at"):
            at = getattr(self, name)
            if at is not None and _aware(at, name) < self.raised_at:
                raise MonitoringError(f"{name} is before raised_at", field=name)
        if self.accepted_at and self.closed_at and self.closed_at < self.accepted_at:
            raise MonitoringError("closed_at is before accepted_at", field="closed_at")


@dataclass(frozen=True)
class Escalation:
    due_at: datetime
    overdue: bool  # past its target (closed late, or still open past it)
    overdue_by: timedelta  # zero when on time
    escalate: bool  # still open past its target: tell the supervisor


def escalation(
    job: Job, now: datetime, targets: Mapping[AlertKind, timedelta] = DEFAULT_TARGETS
) -> Escalation:
    _aware(now, "now")
    if job.kind not in targets:
        raise MonitoringError(f"no target time for {job.kind} jobs", field="kind")
    due = job.raised_at + targets[job.kind]
    end = job.closed_at or now
    late = max(end - due, timedelta(0))
    overdue = late > timedelta(0)
    return Escalation(due, overdue, late, overdue and job.closed_at is None)


def time_to_close(job: Job) -> timedelta | None:
    return None if job.closed_at is None else job.closed_at - job.raised_at


def time_to_accept(job: Job) -> timedelta | None:
    return None if job.accepted_at is None else job.accepted_at - job.raised_at


def time_to_service(job: Job) -> timedelta | None:
    """Raised to closed for a collection job (full, full_soon); None while it is open."""
    if job.kind not in SERVICE_KINDS:
        raise MonitoringError(f"a {job.kind} job is a repair: use time_to_repair", field="kind")
    return time_to_close(job)


def time_to_repair(job: Job) -> timedelta | None:
    """Raised to closed for a repair job (fault, offline, temperature_high, fire)."""
    if job.kind in SERVICE_KINDS:
        raise MonitoringError(
            f"a {job.kind} job is a collection: use time_to_service", field="kind"
        )
    return time_to_close(job)


# --- FIWARE Smart Data Models: WasteContainer ------------------------------------------------

SDM_CONTEXT = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.WasteManagement/"
    "master/context.jsonld"
)
NGSI_LD_CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
# storedWasteKind enum values; a compartment not listed has its kind omitted unless given.
WASTE_KIND: Mapping[str, str] = {
    "garbage": "other",  # mixed household garbage: no single kind of the model's enum fits
    "recycling_pet": "plastic",
    "recycling_can": "metal",
}


def container_status(state: StationState, compartment: str) -> str:
    """The model's safety status: burning > unknown (offline, never heard) > lidOpen > ok.
    A jammed door is not in the model's enum; it shows in `doorState` and as a fault."""
    comp = state.compartments.get(compartment)
    if AlertKey(AlertKind.FIRE, compartment) in state.alerts:
        return "burning"
    if comp is None or AlertKey(AlertKind.OFFLINE) in state.alerts:
        return "unknown"
    return "lidOpen" if comp.last.door is DoorState.OPEN else "ok"


def _prop(value: Any, observed_at: datetime | None = None) -> dict[str, Any]:
    if isinstance(value, datetime):
        value = {"@type": "DateTime", "@value": _iso(value)}
    prop: dict[str, Any] = {"type": "Property", "value": value}
    if observed_at is not None:
        prop["observedAt"] = _iso(observed_at)
    return prop


def to_waste_container(
    station_id: str,
    compartment: str,
    state: StationState,
    lon: float,
    lat: float,
    *,
    stored_waste_kind: str | None = None,
    service_target: timedelta = DEFAULT_TARGETS[AlertKind.FULL],
) -> dict[str, Any]:
    """The compartment as an NGSI-LD `WasteContainer` entity in normalized form."""
    _check_id(station_id, "station_id")
    _check_id(compartment, "compartment")
    lon = _number(lon, "lon", -180.0, 180.0)
    lat = _number(lat, "lat", -90.0, 90.0)
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:WasteContainer:{station_id}:{compartment}",
        "type": "WasteContainer",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
        "status": _prop(container_status(state, compartment)),
    }
    kind = stored_waste_kind or WASTE_KIND.get(compartment)
    if kind:
        entity["storedWasteKind"] = _prop(kind)
    comp = state.compartments.get(compartment)
    if comp is not None:
        r = comp.last
        entity["fillingLevel"] = _prop(r.fill, r.observed_at)
        entity["cargoWeight"] = _prop(r.weight_kg, r.observed_at)
        entity["temperature"] = _prop(r.temperature_c, r.observed_at)
        entity["doorState"] = _prop(r.door.value, r.observed_at)
        entity["compactorState"] = _prop(r.compactor.value, r.observed_at)
        entity["dateObserved"] = _prop(r.observed_at)
        if comp.last_emptied_at is not None:
            entity["dateLastEmptying"] = _prop(comp.last_emptied_at)
    full = state.alerts.get(AlertKey(AlertKind.FULL, compartment))
    soon = state.alerts.get(AlertKey(AlertKind.FULL_SOON, compartment))
    if full is not None:
        entity["nextActuationDeadline"] = _prop(full.raised_at + service_target)
    elif soon is not None:
        entity["nextActuationDeadline"] = _prop(datetime.fromisoformat(str(soon.params["eta"])))
    entity["@context"] = [SDM_CONTEXT, NGSI_LD_CORE_CONTEXT]
    return entity
