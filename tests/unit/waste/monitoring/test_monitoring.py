"""Station monitoring rules without a database or a clock: readings in, alert transitions out;
job escalation; the FIWARE WasteContainer entity."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onecity.waste.monitoring.container import container_status, to_waste_container
from onecity.waste.monitoring.readings import (
    PRIORITY,
    Action,
    AlertKind,
    DoorState,
    Fault,
    MonitoringError,
    Reading,
)
from onecity.waste.monitoring.rules import (
    AlertKey,
    MonitoringConfig,
    StationState,
    Transition,
    acknowledge_fire,
    apply_reading,
    check_offline,
    heartbeat,
    new_station,
)
from onecity.waste.monitoring.targets import (
    Job,
    escalation,
    time_to_accept,
    time_to_repair,
    time_to_service,
)
from onecity.waste.rules.money import RuleError

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
GARBAGE = "garbage"
PET = "recycling_pet"


def rd(
    minutes: float = 0.0,
    comp: str = GARBAGE,
    fill: float = 0.2,
    temp: float = 7.0,
    **kw: Any,
) -> Reading:
    return Reading(comp, T0 + timedelta(minutes=minutes), fill, 40.0, temp, **kw)


def feed(
    readings: Iterable[Reading],
    state: StationState | None = None,
    config: MonitoringConfig | None = None,
) -> tuple[StationState, list[Transition]]:
    state = state or new_station("IT125-1")
    out: list[Transition] = []
    for r in readings:
        if config is None:
            state, ts = apply_reading(state, r, r.observed_at)
        else:
            state, ts = apply_reading(state, r, r.observed_at, config)
        out += ts
    return state, out


def seen(ts: Iterable[Transition], action: Action) -> list[tuple[str, str | None]]:
    return [(t.kind.value, t.compartment) for t in ts if t.action is action]


# --- input checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fill": 1.2}, "fill"),
        ({"fill": -0.01}, "fill"),
        ({"fill": math.nan}, "fill"),
        ({"weight_kg": -1.0}, "weight_kg"),
        ({"weight_kg": 5000.5}, "weight_kg"),
        ({"temperature_c": -41.0}, "temperature_c"),
        ({"temperature_c": 151.0}, "temperature_c"),
        ({"temperature_c": math.inf}, "temperature_c"),
        ({"observed_at": datetime(2026, 3, 1, 8, 0)}, "observed_at"),
        ({"faults": frozenset({"toaster"})}, "faults"),
        ({"faults": "scale"}, "faults"),
        ({"door": "ajar"}, "door"),
        ({"compactor": "exploded"}, "compactor"),
        ({"smoke": "yes"}, "smoke"),
        ({"compartment": "bad id"}, "compartment"),
    ],
)
def test_impossible_reading_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {
        "compartment": GARBAGE,
        "observed_at": T0,
        "fill": 0.5,
        "weight_kg": 10.0,
        "temperature_c": 7.0,
    }
    with pytest.raises(MonitoringError) as err:
        Reading(**(values | change))
    assert err.value.field == field
    assert isinstance(err.value, RuleError)  # the waste module's one error family


def test_raw_wire_values_become_enums() -> None:
    wire: dict[str, Any] = {"door": "open", "compactor": "running", "faults": ["scale", "network"]}
    r = Reading("recycling_can", T0, 1, 0, 5, **wire)
    assert r.door is DoorState.OPEN
    assert r.faults == frozenset({Fault.SCALE, Fault.NETWORK})
    assert isinstance(r.fill, float)


def test_reading_from_the_future_and_naive_now_are_refused() -> None:
    state = new_station("IT125-1")
    with pytest.raises(MonitoringError) as err:
        apply_reading(state, rd(minutes=10), T0)
    assert err.value.field == "observed_at"
    with pytest.raises(MonitoringError) as err:
        apply_reading(state, rd(), datetime(2026, 3, 1, 8, 0))
    assert err.value.field == "now"


def test_config_and_ids_are_checked() -> None:
    with pytest.raises(MonitoringError):
        MonitoringConfig(full_at=0.5, full_clears_below=0.6)
    with pytest.raises(MonitoringError) as err:
        new_station("IT 125")
    assert err.value.field == "station_id"


# --- full and its hysteresis -----------------------------------------------------------------


def test_full_raises_at_80_percent() -> None:
    _, ts = feed([rd(0, fill=0.79)])
    assert seen(ts, Action.RAISED) == []
    _, ts = feed([rd(0, fill=0.80)])
    assert seen(ts, Action.RAISED) == [("full", GARBAGE)]
    (t,) = ts
    assert t.priority == 3
    assert t.code == "waste.alert.full.raised"
    assert t.params == {"fill": 0.8, "threshold": 0.8}


def test_full_does_not_flap_around_80_and_clears_on_emptying() -> None:
    state, ts = feed([rd(0, fill=0.81)])
    assert seen(ts, Action.RAISED) == [("full", GARBAGE)]
    noise = [0.79, 0.82, 0.78, 0.80, 0.77, 0.83, 0.6, 0.55, 0.51]
    state, ts = feed([rd(i + 1, fill=f) for i, f in enumerate(noise)], state)
    assert [t for t in ts if t.kind is AlertKind.FULL] == []
    state, ts = feed([rd(20, fill=0.1)], state)
    assert seen(ts, Action.CLEARED) == [("full", GARBAGE)]
    assert ts[0].code == "waste.alert.full.cleared"
    assert state.compartments[GARBAGE].last_emptied_at == T0 + timedelta(minutes=20)


def test_a_partial_emptying_also_clears_full() -> None:
    state, _ = feed([rd(0, fill=0.95)])
    state, ts = feed([rd(5, fill=0.6)], state)  # a 0.35 drop: the crew took some bags
    assert seen(ts, Action.CLEARED) == [("full", GARBAGE)]


def test_each_compartment_has_its_own_full() -> None:
    _, ts = feed([rd(0, comp=PET, fill=0.9), rd(1, comp=GARBAGE, fill=0.9)])
    assert seen(ts, Action.RAISED) == [("full", PET), ("full", GARBAGE)]


# --- full_soon -------------------------------------------------------------------------------


def rising(start: float, per_hour: float, hours: float, step_min: int = 20) -> list[Reading]:
    n = int(hours * 60 / step_min) + 1
    return [rd(i * step_min, fill=start + per_hour * i * step_min / 60, temp=7.0) for i in range(n)]


def test_full_soon_predicts_the_time_to_80_percent() -> None:
    # 0.3 at 08:00 rising 0.1/h: 0.4 at 09:00 is the first reading within 4 h of 0.8 (13:00)
    _, ts = feed(rising(0.3, 0.1, 2))
    raised = [t for t in ts if t.action is Action.RAISED]
    assert [(t.kind, t.priority, t.at.hour) for t in raised] == [(AlertKind.FULL_SOON, 4, 9)]
    assert raised[0].params["eta"] == "2026-03-01T13:00:00Z"
    assert raised[0].params["hours"] == pytest.approx(4.0)
    assert raised[0].params["rate_per_hour"] == pytest.approx(0.1)


def test_full_soon_ignores_slow_and_falling_fill_and_too_little_history() -> None:
    assert feed(rising(0.3, 0.05, 2))[1] == []  # 0.8 in 8 h: beyond the 4 h horizon
    assert feed(rising(0.7, -0.05, 2))[1] == []  # falling: no prediction
    assert feed([rd(0, fill=0.5), rd(5, fill=0.7)])[1] == []  # two points, five minutes


def test_full_soon_horizon_is_configurable() -> None:
    cfg = MonitoringConfig(full_soon_horizon=timedelta(hours=10))
    _, ts = feed(rising(0.3, 0.05, 2), config=cfg)
    assert seen(ts, Action.RAISED) == [("full_soon", GARBAGE)]


def test_full_soon_gives_way_to_full() -> None:
    state, _ = feed(rising(0.3, 0.1, 2))
    state, ts = feed([rd(200, fill=0.8)], state)
    assert seen(ts, Action.RAISED) == [("full", GARBAGE)]
    assert seen(ts, Action.CLEARED) == [("full_soon", GARBAGE)]


def test_an_emptying_resets_the_fill_history() -> None:
    state, _ = feed(rising(0.3, 0.1, 2))
    state, ts = feed([rd(130, fill=0.05)], state)
    assert seen(ts, Action.CLEARED) == [("full_soon", GARBAGE)]
    assert [f for _, f in state.compartments[GARBAGE].fills] == [0.05]


def test_full_soon_updates_only_when_the_eta_moves_enough() -> None:
    state, _ = feed(rising(0.3, 0.1, 2))
    state, ts = feed([rd(121, fill=0.5)], state)  # barely changes the slope
    assert ts == []
    state, ts = feed([rd(140, fill=0.7)], state)  # a burst: much sooner
    assert seen(ts, Action.UPDATED) == [("full_soon", GARBAGE)]
    assert str(ts[0].params["eta"]) < "2026-03-01T13:00:00Z"


def test_fill_history_stays_bounded() -> None:
    state, _ = feed([rd(i, fill=0.1 + (i % 50) / 1000) for i in range(600)])
    assert len(state.compartments[GARBAGE].fills) <= MonitoringConfig().fill_history_max


# --- temperature_high ------------------------------------------------------------------------


def test_temperature_must_stay_high_for_ten_minutes() -> None:
    state, ts = feed([rd(m, temp=11.0) for m in range(10)])  # minutes 0..9: 9 minutes above
    assert ts == []
    state, ts = feed([rd(10, temp=11.0)], state)
    assert seen(ts, Action.RAISED) == [("temperature_high", GARBAGE)]
    assert ts[0].priority == 2
    assert ts[0].params["since"] == "2026-03-01T08:00:00Z"


def test_a_cool_reading_restarts_the_ten_minutes() -> None:
    temps = [11.0] * 6 + [9.0] + [11.0] * 9  # minutes 7..15 above: only 8 minutes unbroken
    assert feed([rd(m, temp=c) for m, c in enumerate(temps)])[1] == []


def test_a_silence_breaks_the_run() -> None:
    assert feed([rd(0, temp=12.0), rd(15, temp=12.0)])[1] == []  # unknown in between


def test_temperature_sustain_is_configurable() -> None:
    cfg = MonitoringConfig(temperature_sustain=timedelta(minutes=2))
    _, ts = feed([rd(m, temp=11.0) for m in range(3)], config=cfg)
    assert seen(ts, Action.RAISED) == [("temperature_high", GARBAGE)]


def test_temperature_high_clears_below_the_margin() -> None:
    state, _ = feed([rd(m, temp=11.0) for m in range(11)])
    state, ts = feed([rd(11, temp=9.8), rd(12, temp=10.4)], state)
    assert ts == []  # inside the 0.5 °C margin: still open
    state, ts = feed([rd(13, temp=9.5)], state)
    assert seen(ts, Action.CLEARED) == [("temperature_high", GARBAGE)]


# --- fire ------------------------------------------------------------------------------------


def test_smoke_is_fire_at_once_and_comes_first() -> None:
    _, ts = feed([rd(0, fill=0.9, smoke=True)])
    assert [(t.kind, t.priority) for t in ts] == [(AlertKind.FIRE, 1), (AlertKind.FULL, 3)]
    assert ts[0].params["causes"] == "smoke"
    assert PRIORITY[AlertKind.FIRE] < min(p for k, p in PRIORITY.items() if k != AlertKind.FIRE)


def test_hot_is_fire() -> None:
    _, ts = feed([rd(0, temp=59.9)])
    assert ts == []
    _, ts = feed([rd(0, temp=60.0)])
    assert seen(ts, Action.RAISED) == [("fire", GARBAGE)]


def test_a_fast_rise_is_fire_a_slow_one_is_not() -> None:
    _, ts = feed([rd(0, temp=7.0), rd(1, temp=27.0)])
    assert seen(ts, Action.RAISED) == [("fire", GARBAGE)]
    assert ts[0].params["causes"] == "rise"
    assert feed([rd(0, temp=7.0), rd(3, temp=27.0)])[1] == []


def test_fire_does_not_clear_on_one_normal_reading() -> None:
    state, _ = feed([rd(0, smoke=True)])
    state, ts = feed([rd(m) for m in range(1, 10)], state)  # nine normal minutes
    assert ts == []
    assert AlertKey(AlertKind.FIRE, GARBAGE) in state.alerts
    state, ts = feed([rd(11)], state)  # ten minutes of normal since minute 1
    assert seen(ts, Action.CLEARED) == [("fire", GARBAGE)]
    assert ts[0].params["reason"] == "normal"


def test_a_relapse_restarts_the_all_clear() -> None:
    state, _ = feed([rd(0, smoke=True), rd(1), rd(8, smoke=True)])
    state, ts = feed([rd(m) for m in range(9, 18)], state)
    assert ts == []
    state, ts = feed([rd(19)], state)
    assert seen(ts, Action.CLEARED) == [("fire", GARBAGE)]


def test_a_new_cause_updates_the_fire() -> None:
    state, _ = feed([rd(0, smoke=True)])
    state, ts = feed([rd(1, temp=70.0, smoke=True)], state)
    assert seen(ts, Action.UPDATED) == [("fire", GARBAGE)]
    assert ts[0].params["causes"] == "rise+smoke+temperature"
    state, ts = feed([rd(2, temp=71.0, smoke=True)], state)
    assert ts == []


def test_acknowledging_clears_the_fire_once() -> None:
    state, _ = feed([rd(0, smoke=True)])
    state, ts = acknowledge_fire(state, GARBAGE, T0 + timedelta(minutes=1))
    assert seen(ts, Action.CLEARED) == [("fire", GARBAGE)]
    assert ts[0].params["reason"] == "acknowledged"
    state, ts = acknowledge_fire(state, GARBAGE, T0 + timedelta(minutes=1))
    assert ts == []
    state, ts = feed([rd(2, smoke=True)], state)  # still smoking: a new alert
    assert seen(ts, Action.RAISED) == [("fire", GARBAGE)]


# --- faults ----------------------------------------------------------------------------------


def test_one_alert_per_fault_and_it_clears_when_gone() -> None:
    state, ts = feed([rd(0, faults=frozenset({Fault.SCALE, Fault.PRINTER_PAPER}))])
    raised = {(t.compartment, t.key.detail, t.priority) for t in ts}
    assert raised == {(GARBAGE, "scale", 2), (None, "printer_paper", 2)}
    state, ts = feed([rd(1, faults=frozenset({Fault.PRINTER_PAPER}))], state)
    assert [(t.action, t.key.detail) for t in ts] == [(Action.CLEARED, "scale")]


def test_a_jammed_door_is_a_door_fault() -> None:
    state, ts = feed([rd(0, door=DoorState.JAMMED)])
    assert [(t.kind, t.compartment, t.key.detail) for t in ts] == [
        (AlertKind.FAULT, GARBAGE, "door")
    ]
    assert container_status(state, GARBAGE) == "ok"  # not a safety status in the model


def test_a_station_fault_stays_while_any_compartment_reports_it() -> None:
    net = frozenset({Fault.NETWORK})
    state, ts = feed([rd(0, comp=GARBAGE, faults=net), rd(0, comp=PET, faults=net)])
    assert len(ts) == 1
    state, ts = feed([rd(1, comp=GARBAGE)], state)
    assert ts == []
    state, ts = feed([rd(1, comp=PET)], state)
    assert [(t.action, t.compartment, t.key.detail) for t in ts] == [
        (Action.CLEARED, None, "network")
    ]


# --- offline ---------------------------------------------------------------------------------


def test_offline_after_three_missed_heartbeats_and_back_on_the_next_reading() -> None:
    state, _ = feed([rd(0)])
    state, ts = check_offline(state, T0 + timedelta(seconds=180))
    assert ts == []
    state, ts = check_offline(state, T0 + timedelta(seconds=181))
    assert [(t.action, t.kind, t.compartment, t.priority) for t in ts] == [
        (Action.RAISED, AlertKind.OFFLINE, None, 2)
    ]
    assert ts[0].params["silent_s"] == 181
    assert container_status(state, GARBAGE) == "unknown"
    state, ts = check_offline(state, T0 + timedelta(minutes=30))
    assert ts == []  # already open
    state, ts = apply_reading(state, rd(31), T0 + timedelta(minutes=31))
    assert seen(ts, Action.CLEARED) == [("offline", None)]


def test_a_heartbeat_clears_offline_and_a_new_station_is_never_offline() -> None:
    assert check_offline(new_station("IT125-1"), T0 + timedelta(days=9))[1] == []
    state, _ = feed([rd(0)])
    state, _ = check_offline(state, T0 + timedelta(minutes=5))
    state, ts = heartbeat(state, T0 + timedelta(minutes=6))
    assert seen(ts, Action.CLEARED) == [("offline", None)]
    assert state.last_seen_at == T0 + timedelta(minutes=6)


def test_offline_interval_follows_the_heartbeat_setting() -> None:
    cfg = MonitoringConfig(heartbeat=timedelta(minutes=5))
    state, _ = feed([rd(0)])
    assert check_offline(state, T0 + timedelta(minutes=14), cfg)[1] == []
    assert len(check_offline(state, T0 + timedelta(minutes=16), cfg)[1]) == 1


def test_a_late_or_repeated_reading_changes_no_rule() -> None:
    state, _ = feed([rd(0, fill=0.3), rd(5, fill=0.4)])
    later, ts = apply_reading(state, rd(2, fill=0.95), T0 + timedelta(minutes=6))
    assert ts == []
    assert later.compartments == state.compartments
    assert later.last_seen_at == T0 + timedelta(minutes=6)


# --- escalation and service times ------------------------------------------------------------


def test_a_full_job_escalates_after_four_hours() -> None:
    job = Job(AlertKind.FULL, 3, T0)
    assert not escalation(job, T0 + timedelta(hours=4)).overdue
    late = escalation(job, T0 + timedelta(hours=4, minutes=1))
    assert (late.overdue, late.escalate) == (True, True)
    assert late.overdue_by == timedelta(minutes=1)
    assert late.due_at == T0 + timedelta(hours=4)


def test_a_closed_job_can_be_late_but_is_not_escalated() -> None:
    job = Job(AlertKind.FULL, 3, T0, T0 + timedelta(hours=1), T0 + timedelta(hours=5))
    result = escalation(job, T0 + timedelta(days=1))
    assert (result.overdue, result.escalate) == (True, False)
    assert time_to_service(job) == timedelta(hours=5)
    assert time_to_accept(job) == timedelta(hours=1)


def test_fire_and_fault_targets() -> None:
    assert escalation(Job(AlertKind.FIRE, 1, T0), T0 + timedelta(minutes=16)).escalate
    fault = Job(AlertKind.FAULT, 2, T0)
    assert not escalation(fault, T0 + timedelta(hours=23)).escalate
    assert escalation(fault, T0 + timedelta(hours=25)).escalate
    assert escalation(fault, T0, {AlertKind.FAULT: timedelta(0)}).overdue is False
    assert time_to_repair(fault) is None
    closed = Job(AlertKind.FAULT, 2, T0, closed_at=T0 + timedelta(hours=3))
    assert time_to_repair(closed) == timedelta(hours=3)


def test_service_and_repair_times_are_not_mixed_up() -> None:
    with pytest.raises(MonitoringError) as err:
        time_to_service(Job(AlertKind.FAULT, 2, T0))
    assert err.value.field == "kind"
    with pytest.raises(MonitoringError):
        time_to_repair(Job(AlertKind.FULL, 3, T0))


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"closed_at": T0 - timedelta(minutes=1)}, "closed_at"),
        (
            {"accepted_at": T0 + timedelta(hours=2), "closed_at": T0 + timedelta(hours=1)},
            "closed_at",
        ),
        ({"raised_at": datetime(2026, 3, 1)}, "raised_at"),
        ({"priority": 0}, "priority"),
        ({"kind": "flood"}, "kind"),
    ],
)
def test_an_impossible_job_is_refused(kw: dict[str, Any], field: str) -> None:
    values: dict[str, Any] = {"kind": AlertKind.FULL, "priority": 3, "raised_at": T0}
    with pytest.raises(MonitoringError) as err:
        Job(**(values | kw))
    assert err.value.field == field


# --- FIWARE WasteContainer -------------------------------------------------------------------

MODEL_STATUS = {"ok", "lidOpen", "dropped", "moved", "vandalized", "burning", "unknown"}


def test_waste_container_entity_in_normalized_form() -> None:
    state, _ = feed([rd(0, comp=PET, fill=0.9), rd(1, comp=PET, fill=0.5), rd(2, comp=PET)])
    state, _ = feed([rd(3, comp=PET, fill=0.85)], state)
    e = to_waste_container("IT125-1", PET, state, 121.5654, 25.0330)
    assert e["id"] == "urn:ngsi-ld:WasteContainer:IT125-1:recycling_pet"
    assert e["type"] == "WasteContainer"
    assert e["fillingLevel"] == {
        "type": "Property",
        "value": 0.85,
        "observedAt": "2026-03-01T08:03:00Z",
    }
    assert e["cargoWeight"]["value"] == 40.0
    assert e["temperature"]["value"] == 7.0
    assert e["storedWasteKind"]["value"] == "plastic"
    assert e["status"] == {"type": "Property", "value": "ok"}
    assert e["location"] == {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [121.5654, 25.033]},
    }
    assert e["dateLastEmptying"]["value"] == {"@type": "DateTime", "@value": "2026-03-01T08:01:00Z"}
    assert e["nextActuationDeadline"]["value"]["@value"] == "2026-03-01T12:03:00Z"
    assert e["dateObserved"]["value"]["@value"] == "2026-03-01T08:03:00Z"
    assert len(e["@context"]) == 2


def test_waste_container_status_follows_the_alerts() -> None:
    state, _ = feed([rd(0, door=DoorState.OPEN)])
    assert to_waste_container("IT125-1", GARBAGE, state, 121.5, 25.0)["status"]["value"] == (
        "lidOpen"
    )
    state, _ = feed([rd(1, smoke=True)], state)
    assert container_status(state, GARBAGE) == "burning"
    bare = to_waste_container("IT125-1", "recycling_can", state, 121.5, 25.0)
    assert bare["status"]["value"] == "unknown"
    assert "fillingLevel" not in bare
    assert bare["storedWasteKind"]["value"] == "metal"


def test_waste_container_refuses_a_bad_location() -> None:
    with pytest.raises(MonitoringError) as err:
        to_waste_container("IT125-1", GARBAGE, new_station("IT125-1"), 200.0, 25.0)
    assert err.value.field == "lon"


# --- properties over any sequence ------------------------------------------------------------

# Weighted toward the interesting values so every rule both raises and clears; a reading op
# repeats `repeat` times `step_s` apart, its fill climbing by `rise`, so runs can be sustained.
step_st = st.one_of(st.integers(0, 120), st.integers(0, 900))
cool_or_warm = st.sampled_from([7.0, 9.4, 10.0, 11.0, 12.0])
reading_st: st.SearchStrategy[dict[str, Any]] = st.builds(
    dict,
    comp=st.sampled_from([GARBAGE, PET]),
    step_s=step_st,
    repeat=st.one_of(st.just(1), st.integers(1, 15)),
    fill=st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.49, 0.5, 0.79, 0.8, 1.0])),
    rise=st.sampled_from([0.0, 0.0, 0.005, 0.02]),
    temp=st.one_of(cool_or_warm, cool_or_warm, st.floats(-40, 150), st.just(60.0)),
    smoke=st.sampled_from([False] * 9 + [True]),  # mostly no smoke, so fires can clear
    faults=st.frozensets(st.sampled_from(list(Fault)), max_size=2),
    door=st.sampled_from(list(DoorState)),
)
op_st: st.SearchStrategy[dict[str, Any]] = st.one_of(
    reading_st,
    st.builds(dict, op=st.sampled_from(["offline", "heartbeat", "ack"]), step_s=step_st),
)


def run_op(
    state: StationState, now: datetime, op: dict[str, Any]
) -> tuple[StationState, datetime, list[list[Transition]]]:
    """Apply one generated op; return the state, the clock, and each call's transitions."""
    calls: list[list[Transition]] = []
    for i in range(op.get("repeat", 1)):
        now += timedelta(seconds=op["step_s"])
        if op.get("op") == "offline":
            state, ts = check_offline(state, now)
        elif op.get("op") == "heartbeat":
            state, ts = heartbeat(state, now)
        elif op.get("op") == "ack":
            state, ts = acknowledge_fire(state, GARBAGE, now)
        else:
            fill = min(1.0, op["fill"] + i * op["rise"])
            r = Reading(op["comp"], now, fill, 1.0, op["temp"], op["door"], smoke=op["smoke"])
            state, ts = apply_reading(state, replace(r, faults=op["faults"]), now)
        calls.append(ts)
    return state, now, calls


@settings(max_examples=200, deadline=None)
@given(st.lists(op_st, max_size=30))
def test_alerts_open_and_close_in_order(ops: list[dict[str, Any]]) -> None:
    """Never two open alerts with the same key; `updated` and `cleared` only follow `raised`;
    what the transitions say is open is exactly what the state holds."""
    state, now, open_keys = new_station("IT125-1"), T0, set()
    for op in ops:
        state, now, calls = run_op(state, now, op)
        for ts in calls:
            assert len({t.key for t in ts}) == len(ts)
            for t in ts:
                if t.action is Action.RAISED:
                    assert t.key not in open_keys
                    open_keys.add(t.key)
                else:
                    assert t.key in open_keys
                    if t.action is Action.CLEARED:
                        open_keys.discard(t.key)
        assert open_keys == set(state.alerts)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.5, 1.0), min_size=1, max_size=30))
def test_full_never_clears_while_fill_stays_above_half(fills: list[float]) -> None:
    state, _ = feed([rd(0, fill=0.85)])
    prev = 0.85
    for i, f in enumerate(fills, start=1):
        f = max(f, prev - 0.29)  # a drop no bigger than the emptying threshold
        state, ts = feed([rd(i, fill=f)], state)
        assert all(t.kind is not AlertKind.FULL for t in ts)
        prev = f
