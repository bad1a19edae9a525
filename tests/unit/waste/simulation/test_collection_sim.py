"""The collection-policy simulation: consistent, deterministic figures, and its charts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from onecity.waste.simulation import policies as sim_policies
from onecity.waste.simulation import shifts as sim_shifts
from onecity.waste.simulation.collection import run_policies, simulate
from onecity.waste.simulation.plots import plots
from onecity.waste.simulation.results import PolicyResult, SimReport
from onecity.waste.simulation.shifts import POLICIES, busy_day_load
from onecity.waste.simulation.station_config import COMPARTMENTS, IncidentSpec
from onecity.waste.simulation.stations import StationSim

DAYS, STATIONS = 3, 15
SEED, SOLVE_S, WARMUP = 7, 0.2, 2


@pytest.fixture(scope="module")
def small() -> tuple[SimReport, dict[str, list[StationSim]]]:
    return run_policies(DAYS, STATIONS, seed=SEED, solve_s=SOLVE_S, warmup_days=WARMUP)


def _sim_totals(sims: list[StationSim]) -> tuple[float, float]:
    kg = sum(s.stats(c).collected_kg for s in sims for c in COMPARTMENTS)
    hours = sum(s.stats(c).overflow_minutes for s in sims for c in COMPARTMENTS) / 60
    return kg, hours


def test_every_policy_is_reported_with_sane_figures(
    small: tuple[SimReport, dict[str, list[StationSim]]],
) -> None:
    report, _ = small
    assert [r.policy for r in report.results] == list(POLICIES)
    assert (report.days, report.stations, report.seed) == (DAYS, STATIONS, SEED)
    assert report.trucks >= 1
    for r in report.results:
        assert r.truck_km > 0
        assert r.stops > 0 and r.collected_kg > 0
        assert len(r.daily_km) == len(r.daily_overflow_hours) == DAYS
        assert sum(r.daily_km) == pytest.approx(r.truck_km, abs=0.01)
        assert sum(r.daily_overflow_hours) == pytest.approx(r.overflow_hours, abs=0.01)
        numbers = [r.truck_km, r.stops, r.collected_kg, r.overflow_hours, r.fires, r.fires_late]
        assert min(numbers + list(r.daily_km) + list(r.daily_overflow_hours)) >= 0
        assert r.fires_late <= r.fires


def test_the_fixed_schedule_visits_every_station_every_day_on_the_same_routes(
    small: tuple[SimReport, dict[str, list[StationSim]]],
) -> None:
    fixed = small[0].result("fixed")
    assert fixed.stops == STATIONS * DAYS
    assert len(set(fixed.daily_km)) == 1


def test_collected_kg_and_overflow_hours_are_the_simulators_own(
    small: tuple[SimReport, dict[str, list[StationSim]]],
) -> None:
    """What the report counts is what the stations' counters moved by after the warm-up,
    which is the same state for every policy."""
    report, ends = small
    before = []
    for r in report.results:
        kg, hours = _sim_totals(ends[r.policy])
        before.append((kg - r.collected_kg, hours - r.overflow_hours))
    # the warm-up's share, identical under every policy (the report rounds to 0.01 kg/0.001 h)
    warm_kg, warm_h = before[0]
    assert warm_kg > 0 and warm_h >= -0.001  # the warm-up ran the fixed schedule
    for r, (kg, hours) in zip(report.results[1:], before[1:], strict=True):
        # StationSim.empty reports each emptying to 0.01 kg: three per stop, each within 0.005
        rounding = 0.005 * 3 * (r.stops + report.results[0].stops) + 0.01
        assert kg == pytest.approx(warm_kg, abs=rounding)
        assert hours == pytest.approx(warm_h, abs=0.005)


def test_the_same_seed_gives_the_same_report(
    small: tuple[SimReport, dict[str, list[StationSim]]],
) -> None:
    again = simulate(DAYS, STATIONS, seed=SEED, solve_s=SOLVE_S, warmup_days=WARMUP)
    assert again == small[0]


def test_the_report_has_a_table_and_json(
    small: tuple[SimReport, dict[str, list[StationSim]]],
) -> None:
    report = small[0]
    lines = report.table().splitlines()
    assert lines[0].split()[:3] == ["policy", "truck", "km"]
    assert [line.split()[0] for line in lines[2 : 2 + len(POLICIES)]] == list(POLICIES)
    assert "clairvoyant yardstick" in lines[-1]
    data = json.loads(json.dumps(report.to_dict()))
    assert [r["policy"] for r in data["results"]] == list(POLICIES)
    assert data["km_saved_vs_fixed_pct"] == pytest.approx(report.km_saved_vs_fixed_pct(), abs=0.01)
    fixed, forecast = report.result("fixed").truck_km, report.result("forecast").truck_km
    assert report.km_saved_vs_fixed_pct() == pytest.approx(100 * (fixed - forecast) / fixed)
    seer = report.result("clairvoyant").truck_km
    assert data["km_saved_clairvoyant_pct"] == pytest.approx(100 * (fixed - seer) / fixed, abs=0.01)
    with pytest.raises(KeyError):
        report.result("nope")


def test_fires_are_the_same_in_every_policy_and_counted_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With fires made common, every policy faces the same ones; the forecast policy sends a
    truck to the ones seen during its shift."""
    monkeypatch.setattr(sim_shifts, "_FIRE", IncidentSpec(1.0, 0.5))
    report = simulate(2, 8, seed=1, solve_s=0.1, warmup_days=1)
    fires = {r.fires for r in report.results}
    assert len(fires) == 1 and fires.pop() > 3
    for r in report.results:
        assert 0 <= r.fires_late <= r.fires
    assert report.result("forecast").fires_late <= report.result("threshold").fires_late


def test_busy_day_loads_fit_a_station_and_a_truck() -> None:
    kg, m3 = busy_day_load(1.0)
    assert 120 < kg < 260  # ~160 kg a day on average, more at weekends
    assert 0.5 < m3 < 1.6
    big_kg, big_m3 = busy_day_load(50.0)
    assert big_kg <= 300 + 31.25 + 45 + 1e-6  # never more than the compartments hold
    assert big_m3 <= 1.6 + 1e-9
    assert big_kg < sim_shifts.TRUCK_KG and big_m3 < sim_shifts.TRUCK_M3


def test_bad_arguments_say_what_to_change() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        simulate(0, 5)
    with pytest.raises(ValueError, match="trucks"):
        simulate(1, 5, trucks=0)
    for bad in (0.0, -5.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="visits_per_day"):
            simulate(1, 5, visits_per_day=bad)


def test_usage_can_be_scaled_for_a_sensitivity_run() -> None:
    """A third of the default deposits: the same stations (and popularity) fill a third as
    fast, so the fixed schedule collects about a third as much with no more trucks."""
    default = run_policies(2, 6, seed=3, solve_s=0.1, warmup_days=1)
    slow = run_policies(2, 6, seed=3, solve_s=0.1, warmup_days=1, visits_per_day=50.0)
    assert [s.popularity for s in slow[1]["fixed"]] == [s.popularity for s in default[1]["fixed"]]
    assert {s.config.visits_per_day for s in slow[1]["fixed"]} == {50.0}
    kg, slow_kg = default[0].result("fixed").collected_kg, slow[0].result("fixed").collected_kg
    assert 0.2 * kg < slow_kg < 0.5 * kg
    assert slow[0].trucks <= default[0].trucks


def test_plots_are_valid_non_empty_png_and_svg(
    small: tuple[SimReport, dict[str, list[StationSim]]], tmp_path: Path
) -> None:
    out = tmp_path / "charts"
    written = plots(small[0], out)
    assert {p.suffix for p in written} == {".png", ".svg"}
    assert len(written) == 6
    for p in written:
        assert p.parent == out and p.stat().st_size > 1000
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            root = ET.parse(p).getroot()  # noqa: S314  # our own file, just written
            assert root.tag.endswith("svg")


def test_a_report_round_trips_through_its_fields() -> None:
    r = PolicyResult("fixed", 1.0, 1, 1.0, 0.0, 0, 0, (1.0,), (0.0,))
    report = SimReport(
        1, 1, 1, 0, (r, PolicyResult("forecast", 0.5, 1, 1.0, 0.0, 0, 0, (0.5,), (0.0,)))
    )
    assert report.km_saved_vs_fixed_pct() == pytest.approx(50.0)
    assert "fixed" in report.table()


def test_the_clairvoyant_foresees_the_overflow_the_station_then_has() -> None:
    """The yardstick's look ahead runs a copy of the station: the first deposit it sees
    turned away is the one the station itself then turns away, and the station is untouched."""
    start = datetime(2026, 3, 2, tzinfo=timezone(timedelta(hours=8)))
    until = start + timedelta(days=2)
    busy = StationSim("busy", "clairvoyant/busy", sim_shifts.SIM_CONFIG, start, popularity=3.0)
    predicted = sim_policies.overflows_at(busy, until.timestamp())
    assert predicted is not None and start.timestamp() < predicted < until.timestamp()
    assert busy.now == start and all(c.accepted == 0 for c in busy.comps.values())
    busy.advance(until)
    turned_away = [c.over_since for c in busy.comps.values() if c.over_since is not None]
    assert min(turned_away) == predicted
    # already turning deposits away: due now
    assert sim_policies.overflows_at(busy, (until + timedelta(days=1)).timestamp()) == (
        until.timestamp()
    )
    quiet = StationSim("quiet", "clairvoyant/quiet", sim_shifts.SIM_CONFIG, start, 0.2)
    assert sim_policies.overflows_at(quiet, until.timestamp()) is None
    quiet.advance(until)
    assert all(c.over_since is None for c in quiet.comps.values())
    assert sum(c.accepted for c in quiet.comps.values()) > 20
