"""Station monitoring rules: from one telemetry reading to alert transitions. The readings
and alert kinds are in `readings`, crew jobs' targets and escalation in `targets`, the FIWARE
`WasteContainer` view of a compartment in `container`.

Pure: no database, broker or clock. The caller keeps one `StationState` per station, passes it
with each reading and the current time to `apply_reading`, stores the state it gets back and
turns each `Transition` into a crew job (raised), a job note (updated) or a job closure
(cleared). `check_offline` runs on a timer, since a silent station sends nothing.

Priorities, 1 most urgent: fire 1; offline, fault and temperature_high 2; full 3; full_soon 4.
An alert is identified by its `AlertKey` (kind, compartment, detail); at most one is open per
key. Station-wide alerts (offline, and the card reader, printer paper and network faults)
have no compartment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from onecity.waste.monitoring.readings import (
    PRIORITY,
    STATION_FAULTS,
    Action,
    AlertKind,
    DoorState,
    Fault,
    MonitoringError,
    Params,
    Reading,
    aware,
    check_id,
    iso,
)


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
    return StationState(check_id(station_id, "station_id"))


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
    return {"eta": iso(eta), "hours": round(hours, 2), "rate_per_hour": round(rate, 4)}


def _temperature_high(
    c: CompartmentState, old: OpenAlert | None, cfg: MonitoringConfig
) -> Params | None:
    temp = c.last.temperature_c
    if old is not None:
        return old.params if temp > cfg.temperature_max_c - cfg.temperature_clear_margin_c else None
    if c.hot_since is None or c.last.observed_at - c.hot_since < cfg.temperature_sustain:
        return None
    return {"temperature_c": temp, "threshold_c": cfg.temperature_max_c, "since": iso(c.hot_since)}


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
            info: Params = {"raised_at": iso(old.raised_at), "open_s": open_s, "reason": reason}
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
    aware(now, "now")
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
    aware(now, "now")
    seen = now if state.last_seen_at is None else max(state.last_seen_at, now)
    alerts = dict(state.alerts)
    out = _reconcile(alerts, [AlertKey(AlertKind.OFFLINE)], {}, now, reason="heartbeat")
    return replace(state, last_seen_at=seen, alerts=alerts), out


def check_offline(
    state: StationState, now: datetime, config: MonitoringConfig = DEFAULT_CONFIG
) -> Result:
    """Raise `offline` once the station has been silent past the limit. A station never heard
    from is not offline: it has not been commissioned. Only a reading or heartbeat clears it."""
    aware(now, "now")
    key = AlertKey(AlertKind.OFFLINE)
    if state.last_seen_at is None or key in state.alerts:
        return state, []
    silent = now - state.last_seen_at
    if silent <= config.offline_after:
        return state, []
    params: Params = {
        "last_seen_at": iso(state.last_seen_at),
        "silent_s": int(silent.total_seconds()),
    }
    alerts = dict(state.alerts)
    out = _reconcile(alerts, [key], {key: params}, now)
    return replace(state, alerts=alerts), out


def acknowledge_fire(state: StationState, compartment: str, at: datetime) -> Result:
    """A person has dealt with the fire: clear it now. Acknowledging twice changes nothing; a
    later reading that still shows fire raises a new alert."""
    aware(at, "at")
    key = AlertKey(AlertKind.FIRE, check_id(compartment, "compartment"))
    alerts = dict(state.alerts)
    out = _reconcile(alerts, [key], {}, at, reason="acknowledged")
    return replace(state, alerts=alerts), out
