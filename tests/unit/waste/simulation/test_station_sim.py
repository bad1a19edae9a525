"""The station-usage simulator: deterministic, physically sane, and readable by the monitoring
rules. No database, no clock."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onecity.waste.monitoring.readings import AlertKind, DoorState, Reading
from onecity.waste.monitoring.rules import (
    AlertKey,
    StationState,
    Transition,
    apply_reading,
    new_station,
)
from onecity.waste.simulation.city_sim import CitySim
from onecity.waste.simulation.station_config import (
    CAN,
    COMPARTMENTS,
    DEFAULT_SIM,
    FAULTS,
    GARBAGE,
    INCIDENTS,
    PET,
    IncidentSpec,
    Sample,
    SimConfig,
    SimError,
)
from onecity.waste.simulation.stations import StationSim

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, 08:00 in Taipei
TPE = timezone(timedelta(hours=8))
MINUTE = timedelta(seconds=60)
KEYS = {
    *(f"{c}.{k}" for c in COMPARTMENTS for k in ("fill", "weight_kg", "temp_c", "door", "smoke")),
    *(f"fault.{f}" for f in FAULTS),
    "heartbeat",
}
DOORS = {0.0: DoorState.CLOSED, 1.0: DoorState.OPEN, 2.0: DoorState.JAMMED}


def quiet(**kw: object) -> SimConfig:
    """No random incidents: normal operation."""
    base = replace(DEFAULT_SIM, **{"report_every": MINUTE, **kw})  # type: ignore[arg-type]
    return replace(base, incidents={n: IncidentSpec(0.0, None) for n in INCIDENTS})


def stormy(**kw: object) -> SimConfig:
    """Every incident a few times a day, so that short runs see them all."""
    incidents = {n: IncidentSpec(4.0, 1.0) for n in INCIDENTS}
    return replace(DEFAULT_SIM, incidents=incidents, **kw)  # type: ignore[arg-type]


def readings(sample: Sample) -> list[Reading]:
    """The compartments of one flat message, as the monitoring rules take them."""
    v = sample.values
    faults = frozenset(f for f in FAULTS if v[f"fault.{f}"] == 1.0)
    return [
        Reading(
            compartment=c,
            observed_at=sample.observed_at,
            fill=v[f"{c}.fill"],
            weight_kg=v[f"{c}.weight_kg"],
            temperature_c=v[f"{c}.temp_c"],
            door=DOORS[v[f"{c}.door"]],
            smoke={0.0: False, 1.0: True}[v[f"{c}.smoke"]],
            faults=faults,
        )
        for c in COMPARTMENTS
    ]


def monitor(samples: list[Sample]) -> tuple[StationState, list[Transition]]:
    state = new_station(samples[0].station_id)
    out: list[Transition] = []
    for s in samples:
        for r in readings(s):
            state, changed = apply_reading(state, r, s.observed_at)
            out += changed
    return state, out


def series(samples: list[Sample], key: str) -> list[float]:
    return [s.values[key] for s in samples]


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_same_samples_and_deposits() -> None:
    runs = []
    for _ in range(2):
        sim = StationSim("IT125-1", 42, stormy(), T0)
        samples = sim.advance(T0 + timedelta(hours=12))
        sim.empty(GARBAGE, T0 + timedelta(hours=12, minutes=5))
        samples += sim.advance(T0 + timedelta(hours=20))
        runs.append((samples, sim.deposits))
    assert runs[0] == runs[1]
    other = StationSim("IT125-1", 43, stormy(), T0).advance(T0 + timedelta(hours=12))
    assert other != runs[0][0][: len(other)]


def test_visits_do_not_depend_on_the_report_interval_or_on_stepping() -> None:
    fast = StationSim("S", 7, DEFAULT_SIM, T0)
    fast.advance(T0 + timedelta(days=2))
    slow = StationSim("S", 7, replace(DEFAULT_SIM, report_every=timedelta(minutes=5)), T0)
    for h in range(1, 49):
        slow.advance(T0 + timedelta(hours=h))
    assert fast.deposits == slow.deposits
    assert len(fast.deposits) > 100


def test_samples_are_every_report_interval_in_utc_with_exactly_the_wire_keys() -> None:
    sim = StationSim("S", 1, replace(DEFAULT_SIM, report_every=MINUTE), T0)
    samples = sim.advance(T0 + timedelta(hours=1))
    first = sim.advance(T0 + timedelta(hours=2))
    assert len(samples) == len(first) == 60
    times = [s.observed_at for s in samples + first]
    assert all(b - a == MINUTE for a, b in itertools.pairwise(times))
    assert T0 < times[0] <= T0 + MINUTE and times[0].utcoffset() == timedelta(0)
    assert all(set(s.values) == KEYS for s in samples)
    assert all(isinstance(x, float) for s in samples for x in s.values.values())
    assert {s.values["heartbeat"] for s in samples} == {1.0}
    assert sim.advance(T0 + timedelta(hours=2)) == []


def test_default_reports_every_ten_seconds() -> None:
    assert len(StationSim("S", 1, DEFAULT_SIM, T0).advance(T0 + timedelta(hours=1))) == 360


# --- fill, weight, emptying ------------------------------------------------------------------


def test_fill_and_weight_only_rise_between_emptyings_and_emptying_resets() -> None:
    sim = StationSim("S", 3, quiet(), T0, popularity=2.0)
    samples = sim.advance(T0 + timedelta(hours=30))
    for c in COMPARTMENTS:
        for key in (f"{c}.fill", f"{c}.weight_kg"):
            xs = series(samples, key)
            assert xs == sorted(xs), key
    before = sim.stats(GARBAGE)
    assert before.fill > 0.5 and before.weight_kg > 100
    collected = sim.empty(GARBAGE, T0 + timedelta(hours=30))
    assert collected == pytest.approx(before.weight_kg, abs=0.31)
    assert sim.stats(GARBAGE).weight_kg <= 0.3 and sim.stats(GARBAGE).fill < 0.01
    after = sim.advance(T0 + timedelta(hours=30, minutes=1))
    assert after[0].values["garbage.fill"] < 0.05  # a bag may have come in since
    assert after[0].values["garbage.door"] == 1.0  # the crew has it open
    assert after[0].values["recycling_pet.fill"] == samples[-1].values["recycling_pet.fill"]
    assert sim.stats(GARBAGE).collected_kg == pytest.approx(collected, abs=0.01)
    later = sim.advance(T0 + timedelta(hours=40))
    xs = series(after + later, "garbage.fill")
    assert xs == sorted(xs)


def test_a_full_compartment_refuses_deposits_and_counts_overflow() -> None:
    small = dict(DEFAULT_SIM.compartments)
    small[GARBAGE] = replace(small[GARBAGE], capacity_m3=0.1)  # ~25 kg
    sim = StationSim("S", 5, quiet(compartments=small), T0, popularity=1.0)
    samples = sim.advance(T0 + timedelta(days=1))
    assert max(series(samples, "garbage.fill")) <= 1.0
    st_ = sim.stats(GARBAGE)
    assert st_.refused_full > 0 and st_.overflow_minutes > 0 and st_.full_minutes > 0
    assert st_.fill > 0.9
    assert sum(d.refused == "full" for d in sim.deposits) == st_.refused_full
    assert all(d.refused is None for d in sim.deposits if d.compartment != GARBAGE)
    sim.empty(GARBAGE, T0 + timedelta(days=1))
    frozen = sim.stats(GARBAGE).overflow_minutes
    sim.advance(T0 + timedelta(days=1, minutes=10))
    assert sim.stats(GARBAGE).overflow_minutes == frozen


def test_deposits_have_realistic_sizes() -> None:
    sim = StationSim("S", 11, quiet(), T0, popularity=1.0)
    sim.advance(T0 + timedelta(days=14))
    kinds = Counter(d.kind for d in sim.deposits)
    bags = sorted(d.grams for d in sim.deposits if d.kind == "garbage")
    assert bags[0] >= 200 and bags[-1] <= 5000
    median = bags[len(bags) // 2]
    mean = sum(bags) / len(bags)
    assert 1000 <= median <= 1400 and mean > median  # skewed to the right
    for kind, grams in (("pet", 25), ("can", 15)):
        per_item = [d.grams / d.items for d in sim.deposits if d.kind == kind]
        assert sum(per_item) / len(per_item) == pytest.approx(grams, rel=0.05)
    assert all(1 <= d.items <= 20 for d in sim.deposits)
    visits = len({d.at for d in sim.deposits})
    assert kinds["garbage"] / visits == pytest.approx(0.70, abs=0.03)
    assert visits / 14 == pytest.approx(150, rel=0.1)  # the weekly mean is visits_per_day


# --- seasonality -----------------------------------------------------------------------------


def test_evening_is_busier_than_night_and_weekends_than_weekdays() -> None:
    config = quiet(report_every=timedelta(hours=1))
    sim = StationSim("S", 2026, config, T0, popularity=1.0)
    sim.advance(T0 + timedelta(days=28))
    visits = {d.at.astimezone(TPE) for d in sim.deposits}
    by_hour = Counter(t.hour for t in visits)
    evening = sum(by_hour[h] for h in (19, 20, 21)) / 3
    night = sum(by_hour[h] for h in (1, 2, 3, 4)) / 4
    morning = sum(by_hour[h] for h in (7, 8)) / 2
    afternoon = sum(by_hour[h] for h in (14, 15)) / 2
    assert evening > 20 * night
    assert evening > morning > afternoon > night
    weekend = sum(t.weekday() >= 5 for t in visits) / 2
    weekday = sum(t.weekday() < 5 for t in visits) / 5
    assert weekend / weekday == pytest.approx(1.25, rel=0.1)


def test_popularity_scales_the_visits() -> None:
    busy = StationSim("S", 9, quiet(), T0, popularity=3.0)
    calm = StationSim("S", 9, quiet(), T0, popularity=1.0)
    for sim in (busy, calm):
        sim.advance(T0 + timedelta(days=3))
    assert len(busy.deposits) / len(calm.deposits) == pytest.approx(3.0, rel=0.15)


# --- temperature, fire -----------------------------------------------------------------------


def test_temperature_stays_refrigerated_in_normal_operation() -> None:
    for seed in range(3):
        sim = StationSim("S", seed, quiet(), T0, popularity=3.0)
        samples = sim.advance(T0 + timedelta(days=2))
        sim.empty(GARBAGE, T0 + timedelta(days=2))
        samples += sim.advance(T0 + timedelta(days=2, hours=1))
        for c in COMPARTMENTS:
            temps = series(samples, f"{c}.temp_c")
            assert min(temps) >= 5.0 and max(temps) <= 10.0
            assert sum(temps) / len(temps) == pytest.approx(7.0, abs=0.7)


def test_a_cooling_fault_warms_past_ten_degrees_slowly_and_monitoring_sees_it() -> None:
    sim = StationSim("S", 1, quiet(), T0)
    calm = sim.advance(T0 + timedelta(hours=1))
    assert sim.fail("cooling", T0 + timedelta(hours=1))
    assert not sim.fail("cooling", T0 + timedelta(hours=1))
    warm = sim.advance(T0 + timedelta(hours=4))
    temps = series(warm, "garbage.temp_c")
    assert max(series(warm[:10], "garbage.temp_c")) < 10.0  # slowly, not a jump
    assert temps[-1] > 15.0
    _, alerts = monitor(calm + warm)
    assert AlertKey(AlertKind.TEMPERATURE_HIGH, GARBAGE) in {t.key for t in alerts}
    assert sim.repair("cooling", T0 + timedelta(hours=4))
    cooled = sim.advance(T0 + timedelta(hours=6))
    assert 5.0 <= cooled[-1].values["garbage.temp_c"] <= 10.0


def test_a_forced_fire_gives_smoke_and_a_temperature_spike() -> None:
    sim = StationSim("S", 1, quiet(), T0)
    before = sim.advance(T0 + timedelta(hours=1))
    sim.force_fire(T0 + timedelta(hours=1), PET)
    burning = sim.advance(T0 + timedelta(hours=1, minutes=5))
    assert all(s.values["recycling_pet.smoke"] == 1.0 for s in burning)
    assert all(s.values["garbage.smoke"] == 0.0 for s in burning)
    assert max(series(burning, "recycling_pet.temp_c")) > 60.0
    assert max(series(burning, "recycling_pet.temp_c")) <= 150.0
    state, _ = monitor(before + burning)
    assert AlertKey(AlertKind.FIRE, PET) in state.alerts
    assert sim.deposits == [] or all(
        d.refused == "fire" for d in sim.deposits if d.at > T0 + timedelta(hours=1)
    )
    assert sim.repair("fire", T0 + timedelta(hours=1, minutes=5))
    out = sim.advance(T0 + timedelta(hours=2, minutes=30))
    assert out[-1].values["recycling_pet.smoke"] == 0.0
    assert out[-1].values["recycling_pet.temp_c"] < 12.0


def test_random_fires_are_rare_by_default() -> None:
    assert DEFAULT_SIM.incidents["fire"].per_day <= 1 / 1000
    config = replace(DEFAULT_SIM, report_every=timedelta(hours=6), visits_per_day=0.0)
    city = CitySim([f"S{i}" for i in range(500)], 1, config, T0)
    city.advance(T0 + timedelta(days=20))
    started = Counter[str]()
    for sim in city.stations.values():
        started.update(sim.started)
    assert started["fire"] <= 12  # 10,000 station-days: 5 expected
    assert 400 <= started["network"] <= 600  # 500 expected
    assert 10 <= started["cooling"] <= 50  # 27 expected


# --- faults ----------------------------------------------------------------------------------


def test_the_printer_runs_out_of_paper_until_refilled() -> None:
    incidents = {n: IncidentSpec(0.0, None) for n in INCIDENTS}
    config = replace(DEFAULT_SIM, report_every=MINUTE, receipts_per_roll=5, incidents=incidents)
    sim = StationSim("S", 4, config, T0)
    samples = sim.advance(T0 + timedelta(hours=12))
    flags = series(samples, "fault.printer_paper")
    assert flags[0] == 0.0 and flags[-1] == 1.0 and sim.paper == 0
    assert flags == sorted(flags)  # stays out until someone refills it
    assert sim.repair("printer_paper", T0 + timedelta(hours=12))
    assert sim.paper == 5
    assert sim.advance(T0 + timedelta(hours=12, minutes=1))[0].values["fault.printer_paper"] == 0
    accepted = sum(1 for d in sim.deposits if d.refused is None)
    assert accepted > 5  # no paper, still serving


def test_a_jammed_door_is_reported_and_refuses_that_compartment() -> None:
    sim = StationSim("S", 8, quiet(), T0, popularity=2.0)
    sim.fail("door", T0 + timedelta(hours=10), GARBAGE)
    out = sim.advance(T0 + timedelta(hours=14))
    late = [s for s in out if s.observed_at > T0 + timedelta(hours=10)]
    assert all(s.values["garbage.door"] == 2.0 and s.values["fault.door"] == 1.0 for s in late)
    refused = [d for d in sim.deposits if d.at > T0 + timedelta(hours=10)]
    assert refused and all(d.refused == "door" for d in refused if d.compartment == GARBAGE)
    assert any(d.refused is None for d in refused if d.compartment != GARBAGE)
    sim.repair("door", T0 + timedelta(hours=14))
    assert sim.advance(T0 + timedelta(hours=14, minutes=1))[0].values["garbage.door"] == 0.0


@pytest.mark.parametrize(
    ("fault", "refusal"), [("card_reader", "card_reader"), ("scale", "scale"), ("network", None)]
)
def test_what_a_fault_does_to_visits(fault: str, refusal: str | None) -> None:
    sim = StationSim("S", 12, quiet(), T0, popularity=2.0)
    sim.fail(fault, T0 + timedelta(hours=10))
    out = sim.advance(T0 + timedelta(hours=13))
    assert out[-1].values[f"fault.{fault}"] == 1.0
    during = [d for d in sim.deposits if d.at > T0 + timedelta(hours=10)]
    garbage = [d.refused for d in during if d.kind == "garbage"]
    assert garbage and set(garbage) == {refusal}
    if fault == "scale":  # recycling needs no fee; the shown weight is frozen
        assert any(d.refused is None for d in during if d.kind != "garbage")
        weights = {s.values["garbage.weight_kg"] for s in out[-60:]}
        assert len(weights) == 1


def test_random_faults_start_and_end_by_themselves() -> None:
    sim = StationSim("S", 21, stormy(report_every=MINUTE), T0)
    samples = sim.advance(T0 + timedelta(days=3))
    for f in FAULTS:
        flags = series(samples, f"fault.{f}")
        assert 0 < sum(flags) < len(flags), f
    assert (
        max(series(samples, "garbage.door")) == 2.0
        or max(series(samples, "recycling_can.door")) == 2.0
        or max(series(samples, "recycling_pet.door")) == 2.0
    )


def test_a_network_fault_can_silence_the_station() -> None:
    sim = StationSim("S", 1, quiet(network_drops_samples=True), T0)
    sim.fail("network", T0 + timedelta(hours=1))
    out = sim.advance(T0 + timedelta(hours=2))
    assert len(out) == 60 and out[-1].observed_at <= T0 + timedelta(hours=1)
    sim.repair("network", T0 + timedelta(hours=2))
    assert len(sim.advance(T0 + timedelta(hours=3))) == 60


# --- the monitoring rules accept everything it sends -----------------------------------------


@pytest.mark.parametrize("config", [DEFAULT_SIM, stormy()], ids=["default", "stormy"])
def test_a_day_of_samples_passes_the_monitoring_rules(config: SimConfig) -> None:
    sim = StationSim("IT125-1", 99, replace(config, report_every=MINUTE), T0, popularity=2.0)
    samples = sim.advance(T0 + timedelta(hours=12))
    sim.empty(GARBAGE, T0 + timedelta(hours=12))
    sim.force_fire(T0 + timedelta(hours=13))
    samples += sim.advance(T0 + timedelta(days=1))
    state, alerts = monitor(samples)
    assert state.last_seen_at == samples[-1].observed_at
    assert AlertKey(AlertKind.FIRE, GARBAGE) in {t.key for t in alerts}
    assert len(state.compartments) == 3


# --- actions and errors ----------------------------------------------------------------------


def test_acting_in_the_future_keeps_the_samples_in_between() -> None:
    sim = StationSim("S", 1, quiet(), T0)
    first = sim.advance(T0 + timedelta(hours=1))
    sim.empty(CAN, T0 + timedelta(hours=2))
    sim.repair("scale", T0 + timedelta(hours=3))
    rest = sim.advance(T0 + timedelta(hours=4))
    times = [s.observed_at for s in first + rest]
    assert len(times) == 240 and len(set(times)) == 240 and times == sorted(times)
    assert sim.now == T0 + timedelta(hours=4)


def test_bad_calls_say_what_to_do() -> None:
    sim = StationSim("S", 1, quiet(), T0)
    sim.advance(T0 + timedelta(hours=1))
    with pytest.raises(SimError, match="before"):
        sim.advance(T0)
    with pytest.raises(SimError, match="time zone"):
        sim.advance(datetime(2026, 3, 2, 3, 0))  # naive: the point of the test
    with pytest.raises(SimError, match="compartment"):
        sim.empty("glass", T0 + timedelta(hours=1))
    with pytest.raises(SimError, match="unknown fault"):
        sim.repair("wifi", T0 + timedelta(hours=1))
    with pytest.raises(SimError, match="start"):
        StationSim("S", 1)
    with pytest.raises(SimError, match="report_every"):
        SimConfig(report_every=timedelta(milliseconds=10))
    with pytest.raises(SimError, match="temperatures"):
        SimConfig(fire_peak_c=(80.0, 200.0))


# --- many stations ---------------------------------------------------------------------------


def test_city_stations_do_not_depend_on_each_other() -> None:
    config = replace(DEFAULT_SIM, report_every=MINUTE)
    small = CitySim(["A", "B"], 5, config, T0)
    big = CitySim(["A", "B", "C", "D"], 5, config, T0)
    got: list[Sample] = []
    assert small.advance(T0 + timedelta(hours=2), got.extend) == 240
    big.advance(T0 + timedelta(hours=2))
    assert big.stations["B"].deposits == small.stations["B"].deposits
    assert got[120:] == StationSim("B", "5/B", config, T0).advance(T0 + timedelta(hours=2))
    assert small.stations["A"].popularity != small.stations["B"].popularity


def test_city_slices_cover_the_run() -> None:
    city = CitySim([f"S{i}" for i in range(20)], 1, DEFAULT_SIM, T0)
    slices = list(city.slices(T0 + timedelta(minutes=10), timedelta(minutes=3)))
    assert [at - T0 for at, _ in slices] == [timedelta(minutes=m) for m in (3, 6, 9, 10)]
    assert sum(len(b) for _, b in slices) == 20 * 60
    assert all(b[0].observed_at <= at for at, b in slices)
    assert len(city.drain_deposits()) > 0 and city.drain_deposits() == []


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    every=st.sampled_from([1, 10, 60, 300]),
    popularity=st.floats(0.0, 8.0),
    empties=st.lists(st.tuples(st.integers(1, 359), st.sampled_from(COMPARTMENTS)), max_size=4),
    fire=st.one_of(st.none(), st.integers(0, 359)),
)
def test_values_always_within_the_wire_ranges(
    seed: int,
    every: int,
    popularity: float,
    empties: list[tuple[int, str]],
    fire: int | None,
) -> None:
    small = dict(DEFAULT_SIM.compartments)
    small[GARBAGE] = replace(small[GARBAGE], capacity_m3=0.15)  # so it fills within hours
    config = stormy(report_every=timedelta(seconds=every), compartments=small)
    sim = StationSim("S", seed, config, T0, popularity=popularity)
    samples: list[Sample] = []
    actions = sorted([(m, c) for m, c in empties] + ([(fire, "fire")] if fire is not None else []))
    for minute, what in actions:
        at = T0 + timedelta(minutes=minute)
        if what == "fire":
            sim.force_fire(at)
        else:
            assert sim.empty(what, at) >= 0
        samples += sim.advance(at)
    samples += sim.advance(T0 + timedelta(hours=6))
    for s in samples:
        v = s.values
        assert set(v) == KEYS
        for c in COMPARTMENTS:
            assert 0.0 <= v[f"{c}.fill"] <= 1.0
            assert 0.0 <= v[f"{c}.weight_kg"] <= 5000.0
            assert -40.0 <= v[f"{c}.temp_c"] <= 150.0
            assert v[f"{c}.door"] in (0.0, 1.0, 2.0)
            assert v[f"{c}.smoke"] in (0.0, 1.0)
        assert all(v[f"fault.{f}"] in (0.0, 1.0) for f in FAULTS)
    for c in COMPARTMENTS:
        assert 0.0 <= sim.stats(c).fill <= 1.0 and sim.stats(c).weight_kg >= 0.0
