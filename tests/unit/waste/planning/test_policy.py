"""The collection policy: which stations must be, may be or need not be emptied this shift."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from onecity.waste.planning.forecast import FillModel, flat_model
from onecity.waste.planning.policy import Compartment, Decision, Policy, Station, decide

TPE = timezone(timedelta(hours=8))
DAY = datetime(2026, 3, 2, tzinfo=TPE)  # a Monday, local midnight
SHIFT_START, SHIFT_END = DAY + timedelta(hours=6), DAY + timedelta(hours=14)
NEXT = SHIFT_START + timedelta(days=1)
H = 3600


def _station(
    fill: float,
    rate: float | None,
    *,
    urgent: str | None = None,
    window: tuple[int, int] | None = None,
    kg: float | None = None,
) -> Station:
    model: FillModel | None = None if rate is None else flat_model(rate)
    comp = Compartment("garbage", fill, fill * 300 if kg is None else kg, 300.0, 1.2, model)
    return Station("st-1", 3, (comp,), urgent, window)


def _one(station: Station, *, late: bool = False, policy: Policy = Policy()) -> Decision:
    end = SHIFT_END if late else None
    (d,) = decide([station], SHIFT_START, SHIFT_START, NEXT, DAY, policy, shift_end=end)
    return d


def test_a_full_station_must_be_visited_at_any_time_of_the_shift() -> None:
    d = _one(_station(1.0, None), late=True)
    assert d.reason == "already 100% full"
    assert d.stop is not None and d.stop.required and d.stop.prize_m == 0
    assert d.stop.window is None  # full now: no reason to come late
    assert (d.stop.ref, d.stop.site, d.stop.kind, d.stop.priority) == ("st-1", 3, "collect", 0)
    assert d.chance == pytest.approx(0.95)
    assert d.eta_full == SHIFT_START


def test_a_slow_station_waits() -> None:
    d = _one(_station(0.1, 0.001))
    assert (d.stop, d.reason) == (None, "can wait for a later shift")
    assert d.chance < Policy().min_prize_chance
    no_model = _one(_station(0.85, None))  # no forecast: nothing says it will fill
    assert (no_model.stop, no_model.chance) == (None, 0.0)
    nearly = _one(_station(0.9, None))  # but one this full is emptied whatever the forecast
    assert nearly.reason == "already 90% full"
    assert nearly.stop is not None and nearly.stop.required


def test_a_station_that_may_fill_is_optional_with_a_prize_for_the_chance() -> None:
    d = _one(_station(0.55, 0.014))
    assert d.reason.startswith("may be full before the next shift")
    assert 0.05 <= d.chance < 0.5
    assert d.stop is not None and not d.stop.required
    assert d.stop.prize_m == int(d.chance * Policy().overflow_prize_m) > 0
    assert d.stop.window is None


def test_an_optional_station_not_worth_a_stop_yet_waits_and_says_why() -> None:
    d = _one(_station(0.45, 0.016))
    assert 0.05 <= d.chance < 0.5
    assert d.stop is None
    assert d.reason.startswith("can wait: 5") and "% chance of full" in d.reason
    eager = _one(_station(0.45, 0.016), policy=Policy(worth_fill=0.5))
    assert eager.stop is not None and not eager.stop.required


def test_urgent_jobs_are_required_first_and_a_fault_takes_a_repair() -> None:
    base = Policy().base_service_s + Policy().per_compartment_s
    fire = _one(_station(0.1, 0.001, urgent="fire"), late=True)
    assert fire.reason == "urgent: fire"
    assert fire.stop is not None and fire.stop.required
    assert (fire.stop.priority, fire.stop.kind, fire.stop.service_s) == (2, "collect", base)
    assert fire.stop.window is None  # a crew is needed now, not late in the shift
    fault = _one(_station(0.1, 0.001, urgent="fault"))
    assert fault.stop is not None
    assert (fault.stop.priority, fault.stop.kind) == (1, "repair")
    assert fault.stop.service_s == base + Policy().repair_service_s


def test_a_must_visit_that_fills_after_the_shift_opens_halfway_through_it() -> None:
    d = _one(_station(0.2, 0.08), late=True)  # full at ~16:00 today
    assert d.reason == "will probably be full before the next shift"
    assert d.stop is not None and d.stop.window == (10 * H, 14 * H)
    assert _one(_station(0.2, 0.08)).stop.window is None  # type: ignore[union-attr]


def test_a_must_visit_that_fills_during_the_shift_opens_a_margin_before_its_early_eta() -> None:
    station = _station(0.6, 0.1)  # early (10 %) time to full ~09:16
    d = _one(station, late=True)
    assert d.stop is not None and d.stop.window is not None
    opens, closes = d.stop.window
    assert closes == 14 * H
    assert 8 * H < opens < 8 * H + 30 * 60  # early ETA minus an hour
    later = _one(station, late=True, policy=Policy(late_margin_s=0)).stop
    assert later is not None and later.window is not None
    assert later.window[0] == opens + 3600
    never = _one(station, late=True, policy=Policy(latest_open=0.0)).stop
    assert never is not None and never.window is None


def test_a_stations_own_window_is_kept_and_narrowed_by_the_late_one() -> None:
    own = _one(_station(0.2, 0.08, window=(6 * H, 9 * H)), late=True).stop
    assert own is not None and own.window == (6 * H, 9 * H)  # they do not meet: the station's
    both = _one(_station(0.2, 0.08, window=(8 * H, 12 * H)), late=True).stop
    assert both is not None and both.window == (10 * H, 12 * H)
    # a window given as local seconds is placed on the shift's day
    tomorrow = decide(
        [_station(1.0, None, window=(8 * H, 12 * H))],
        NEXT,
        NEXT,
        NEXT + timedelta(days=1),
        DAY,
    )[0].stop
    assert tomorrow is not None and tomorrow.window == (32 * H, 36 * H)


def test_loads_are_what_the_truck_will_find() -> None:
    still = _one(_station(0.5, None, kg=100.0))  # no forecast: as last reported
    filling = _one(_station(0.5, 0.03, kg=100.0))  # ~0.18 more by the shift's quarter mark
    assert still.stop is None  # 50 % with no forecast waits
    urgent = _one(_station(0.5, None, kg=100.0, urgent="fault")).stop
    assert urgent is not None
    assert urgent.kg == pytest.approx(100.0) and urgent.m3 == pytest.approx(0.6)
    assert filling.stop is not None
    assert filling.stop.m3 == pytest.approx((0.5 + 0.03 * 6) * 1.2)
    assert filling.stop.kg == pytest.approx(100.0 * (0.5 + 0.03 * 6) / 0.5)
    capped = _one(_station(0.95, 0.2, kg=290.0)).stop
    assert capped is not None and capped.kg == 300.0 and capped.m3 == pytest.approx(1.2)


def test_every_station_gets_one_decision_in_order() -> None:
    stations = [_station(1.0, None), _station(0.1, 0.001), _station(0.55, 0.014)]
    ids = [replace(s, id=f"s{k}") for k, s in enumerate(stations)]
    out = decide(ids, SHIFT_START, SHIFT_START, NEXT, DAY)
    assert [d.station for d in out] == ["s0", "s1", "s2"]
    assert [d.stop is not None for d in out] == [True, False, True]
