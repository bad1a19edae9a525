"""Permit checks an officer sees: clashes, repeat digs, dig bans, embargoes, night works, notice."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from shapely.geometry import Point, box

from onecity.core.geo import CityProfile
from onecity.core.workdays import calendar_from_profile
from onecity.roadworks.rules.assessment import (
    check_all,
    check_dates,
    check_night,
    check_notice,
    decide_by,
    is_deemed_granted,
)
from onecity.roadworks.rules.permit import (
    DigBan,
    Embargo,
    RuleConfig,
    Works,
    category,
    check_dig_bans,
    check_embargoes,
    find_conflicts,
    propose_joint_dig,
)

CFG = RuleConfig()
CAL = calendar_from_profile(CityProfile.load("taipei").raw)
STRETCH = box(0, 0, 60, 1)  # a 60 m trench along a road, 60 m²


def works(ref: str, start: date, end: date, geom: Any = STRETCH, **kw: Any) -> Works:
    args: dict[str, Any] = {
        "depth_m": 1.2,
        "purpose": "water",
        "applicant": "TWC",
        "road": "忠孝東路四段",
    }
    args.update(kw)
    return Works(ref=ref, geom=geom, start=start, end=end, **args)


APP = works("NEW", date(2026, 12, 1), date(2026, 12, 10), applicant="TPC-N", purpose="power")


def codes(findings: list[Any]) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in findings]


# --- space-time conflicts -------------------------------------------------------------------


def test_same_stretch_same_time_is_a_clash_that_blocks() -> None:
    other = works("RW-2026-000012", date(2026, 12, 5), date(2026, 12, 20), applicant="台電北區")
    [f] = find_conflicts(APP, [other], CFG)
    assert (f.code, f.severity) == ("clash", "block")
    assert f.reason["zh-TW"] == (
        "與 RW-2026-000012（台電北區）同一路段、同期施工（2026-12-05 至 2026-12-20）"
    )
    assert "RW-2026-000012 by 台電北區" in f.reason["en"]
    assert f.data["other"] == "RW-2026-000012"
    assert f.data["start"] == "2026-12-05"


def test_same_stretch_soon_after_is_a_repeat_dig_warning() -> None:
    other = works("RW-2026-000030", date(2026, 10, 1), date(2026, 10, 31), geom=box(65, 0, 90, 1))
    [f] = find_conflicts(APP, [other], CFG)
    assert (f.code, f.severity) == ("repeat_dig", "warn")
    assert f.data["gap_days"] == 31
    assert "dug twice within 90 days" in f.reason["en"]


def test_repeat_dig_window_is_inclusive_at_ninety_days() -> None:
    at_90 = works("A", date(2026, 9, 1), date(2026, 9, 2))  # 2 Sep + 90 days = 1 Dec
    at_91 = works("B", date(2026, 9, 1), date(2026, 9, 1))
    assert [f.data["other"] for f in find_conflicts(APP, [at_90, at_91], CFG)] == ["A"]


def test_works_further_than_twenty_metres_do_not_conflict() -> None:
    far = works("FAR", APP.start, APP.end, geom=box(80.5, 0, 120, 1))  # 20.5 m away
    near = works("NEAR", APP.start, APP.end, geom=Point(80, 0.5))  # exactly 20 m away
    assert [f.data["other"] for f in find_conflicts(APP, [far, near], CFG)] == ["NEAR"]


def test_different_dates_far_apart_do_not_conflict() -> None:
    other = works("OLD", date(2026, 1, 5), date(2026, 1, 20))
    assert find_conflicts(APP, [other], CFG) == []


def test_refused_and_withdrawn_permits_never_conflict() -> None:
    refused = works("R", APP.start, APP.end, status="refused")
    withdrawn = works("W", APP.start, APP.end, status="withdrawn")
    assert find_conflicts(APP, [refused, withdrawn], CFG) == []


def test_closed_works_only_count_as_a_recent_dig() -> None:
    recent = works("C1", date(2026, 11, 1), date(2026, 12, 2), status="closed")
    long_ago = works("C2", date(2026, 1, 1), date(2026, 2, 1), status="closed")
    assert codes(find_conflicts(APP, [recent, long_ago], CFG)) == [("repeat_dig", "warn")]


def test_an_emergency_clash_is_only_a_warning() -> None:
    burst = works("NEW", APP.start, APP.end, emergency=True)
    other = works("RW-1", APP.start, APP.end)
    assert codes(find_conflicts(burst, [other], CFG)) == [("clash", "warn")]


# --- joint dig ------------------------------------------------------------------------------


def test_joint_dig_goes_deepest_first_and_resurfacing_last() -> None:
    app = works("NEW", date(2026, 12, 1), date(2026, 12, 10), purpose="road", depth_m=0.3)
    power = works("RW-P", date(2026, 11, 20), date(2026, 12, 5), purpose="power", depth_m=1.2)
    gas = works("RW-G", date(2026, 12, 8), date(2026, 12, 30), purpose="gas", depth_m=1.5)
    water = works("RW-W", date(2026, 12, 3), date(2026, 12, 15), purpose="water", depth_m=1.5)
    joint = propose_joint_dig(app, [power, gas, water])
    assert joint is not None
    assert joint.members == ["RW-W", "RW-G", "RW-P", "NEW"]
    assert joint.window == (date(2026, 11, 20), date(2026, 12, 30))
    assert "deepest first (RW-W at 1.5 m)" in joint.reason["en"]
    assert "RW-W、RW-G、RW-P、NEW" in joint.reason["zh-TW"]


def test_no_joint_dig_without_partners() -> None:
    assert propose_joint_dig(APP, []) is None


def test_check_all_blocks_a_clash_and_offers_the_joint_dig_instead() -> None:
    other = works("RW-2026-000012", date(2026, 12, 5), date(2026, 12, 20), depth_m=2.0)
    finished = works("RW-OLD", date(2026, 11, 1), date(2026, 11, 20), status="closed")
    result = check_all(
        APP,
        candidates=[other, finished],
        bans=[],
        embargoes=[],
        filed_at=date(2026, 10, 1),
        cal=CAL,
    )
    assert result.blocked
    assert result.category == "standard"
    assert codes(result.findings) == [("clash", "block"), ("repeat_dig", "warn")]
    assert result.joint_dig is not None
    assert result.joint_dig.members == ["RW-2026-000012", "NEW"]  # closed works cannot join


def test_check_all_passes_a_clean_application() -> None:
    result = check_all(
        APP, candidates=[], bans=[], embargoes=[], filed_at=datetime(2026, 10, 1, 9), cal=CAL
    )
    assert not result.blocked
    assert result.findings == []
    assert result.joint_dig is None


# --- dig bans -------------------------------------------------------------------------------


def test_dig_ban_by_geometry() -> None:
    ban = DigBan("忠孝東路四段", box(0, 10, 500, 30), paved_on=date(2024, 6, 1), years=5)
    [f] = check_dig_bans(APP, [ban], CFG)
    assert (f.code, f.severity) == ("dig_ban", "block")
    assert f.data["until"] == "2029-06-01"
    assert "until 2029-06-01" in f.reason["en"]
    elsewhere = DigBan("忠孝東路四段", box(0, 100, 500, 130), date(2024, 6, 1), 5)
    assert check_dig_bans(APP, [elsewhere], CFG) == []


def test_dig_ban_by_road_name_when_no_shape_is_drawn() -> None:
    ban = DigBan("忠孝東路四段", None, paved_on=date(2024, 6, 1), years=5)
    assert codes(check_dig_bans(APP, [ban], CFG)) == [("dig_ban", "block")]
    other_road = DigBan("仁愛路四段", None, paved_on=date(2024, 6, 1), years=5)
    assert check_dig_bans(APP, [other_road], CFG) == []


def test_an_expired_dig_ban_no_longer_applies() -> None:
    ban = DigBan("忠孝東路四段", None, paved_on=date(2021, 12, 1), years=5)
    assert check_dig_bans(APP, [ban], CFG) == []  # lifted on the day the works start


def test_a_road_paved_on_29_february_is_banned_until_1_march() -> None:
    ban = DigBan("忠孝東路四段", None, paved_on=date(2024, 2, 29), years=5)
    on_28 = works("A", date(2029, 2, 28), date(2029, 3, 5))
    on_1 = works("B", date(2029, 3, 1), date(2029, 3, 5))
    assert codes(check_dig_bans(on_28, [ban], CFG)) == [("dig_ban", "block")]
    assert check_dig_bans(on_1, [ban], CFG) == []


def test_emergency_works_may_dig_a_banned_road_but_restore_it_fully() -> None:
    ban = DigBan("忠孝東路四段", None, paved_on=date(2025, 1, 1), years=5)
    burst = works("NEW", date(2026, 3, 10), date(2026, 3, 11), emergency=True)
    [f] = check_dig_bans(burst, [ban], CFG)
    assert f.severity == "warn"
    assert "must restore to the new surface's standard" in f.reason["en"]
    assert "新鋪路面標準修復" in f.reason["zh-TW"]


# --- embargoes ------------------------------------------------------------------------------

NEW_YEAR = Embargo(
    {"zh-TW": "跨年活動", "en": "New Year's Eve"}, "event", date(2026, 12, 28), date(2027, 1, 2)
)


def test_city_wide_embargo_blocks_overlapping_works() -> None:
    late = works("NEW", date(2026, 12, 20), date(2026, 12, 29))
    [f] = check_embargoes(late, [NEW_YEAR])
    assert (f.code, f.severity) == ("embargo", "block")
    assert "跨年活動" in f.reason["zh-TW"]
    assert check_embargoes(APP, [NEW_YEAR]) == []  # ends 10 Dec, before the embargo


def test_area_embargo_only_blocks_works_inside_the_area() -> None:
    exam = Embargo({"zh-TW": "學測", "en": "exam"}, "exam", APP.start, APP.start)
    inside = Embargo(exam.name, exam.kind, exam.start, exam.end, area=Point(30, 0).buffer(200))
    outside = Embargo(exam.name, exam.kind, exam.start, exam.end, area=Point(5000, 0).buffer(200))
    assert codes(check_embargoes(APP, [inside, outside])) == [("embargo", "block")]


def test_emergency_works_go_ahead_in_an_embargo_with_a_warning() -> None:
    burst = works("NEW", date(2026, 12, 31), date(2026, 12, 31), emergency=True)
    assert codes(check_embargoes(burst, [NEW_YEAR])) == [("embargo", "warn")]


# --- night works ----------------------------------------------------------------------------


def test_night_works_in_a_residential_area_are_refused() -> None:
    w = works("NEW", APP.start, APP.end, night=True, residential=True)
    [f] = check_night(w)
    assert (f.code, f.severity) == ("night_residential", "block")
    assert "22:00–06:00" in f.reason["en"]


def test_night_works_elsewhere_or_in_an_emergency_only_warn() -> None:
    assert codes(check_night(works("N", APP.start, APP.end, night=True))) == [
        ("night_works", "warn")
    ]
    burst = works("E", APP.start, APP.end, night=True, residential=True, emergency=True)
    assert [f.severity for f in check_night(burst)] == ["warn"]
    assert check_night(APP) == []


# --- categories, notice, dates --------------------------------------------------------------


def test_categories_by_duration_and_footprint() -> None:
    small = Point(0, 0).buffer(2)  # about 12.5 m²
    assert category(works("a", date(2026, 5, 4), date(2026, 5, 6), geom=small), CFG) == "minor"
    assert category(works("b", date(2026, 5, 4), date(2026, 5, 6)), CFG) == "standard"
    assert category(works("c", date(2026, 5, 4), date(2026, 5, 13)), CFG) == "standard"
    assert category(works("d", date(2026, 5, 4), date(2026, 5, 14)), CFG) == "major"
    assert category(works("e", date(2026, 5, 4), date(2026, 5, 30), emergency=True), CFG) == (
        "emergency"
    )


def test_short_notice_names_the_earliest_start_counting_holidays() -> None:
    # Filed Mon 21 Sep: Mid-Autumn (Fri 25) and Teachers' Day (Mon 28) push 10 working days
    # to 7 Oct.
    filed = date(2026, 9, 21)
    too_soon = works("NEW", date(2026, 10, 5), date(2026, 10, 9))
    [f] = check_notice(too_soon, filed, CAL, CFG)
    assert (f.code, f.severity) == ("short_notice", "block")
    assert f.data == {"needed": 10, "given": 8, "earliest_start": "2026-10-07"}
    assert "最早可於 2026-10-07 開工" in f.reason["zh-TW"]
    ok = works("NEW", date(2026, 10, 7), date(2026, 10, 9))
    assert check_notice(ok, filed, CAL, CFG) == []


def test_emergency_works_must_be_filed_within_three_days() -> None:
    burst = works("NEW", date(2026, 3, 10), date(2026, 3, 11), emergency=True)
    assert check_notice(burst, date(2026, 3, 13), CAL, CFG) == []
    [f] = check_notice(burst, date(2026, 3, 14), CAL, CFG)
    assert (f.code, f.severity) == ("late_emergency_filing", "block")
    assert f.data["latest"] == "2026-03-13"


def test_end_before_start_is_refused() -> None:
    assert codes(check_dates(works("X", date(2026, 5, 2), date(2026, 5, 1)))) == [
        ("end_before_start", "block")
    ]
    assert check_dates(works("X", date(2026, 5, 1), date(2026, 5, 1))) == []


def test_unknown_purpose_is_refused() -> None:
    with pytest.raises(ValueError, match="purpose must be one of"):
        works("X", date(2026, 5, 1), date(2026, 5, 1), purpose="fibre")


# --- answer deadlines -----------------------------------------------------------------------


def test_decide_by_skips_the_weekend_and_the_tomb_sweeping_holidays() -> None:
    filed = datetime(2026, 4, 2, 15, 0)  # Thursday; Fri 3 and Mon 6 April are holidays
    assert decide_by(filed, "standard", CAL, CFG) == date(2026, 4, 13)
    assert decide_by(filed, "minor", CAL, CFG) == date(2026, 4, 8)
    assert decide_by(filed, "emergency", CAL, CFG) == date(2026, 4, 2)


def test_a_permit_is_deemed_granted_the_day_after_the_deadline() -> None:
    deadline = date(2026, 4, 13)
    assert not is_deemed_granted(deadline, date(2026, 4, 13))
    assert is_deemed_granted(deadline, date(2026, 4, 14))
