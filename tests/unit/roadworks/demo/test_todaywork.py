"""How the real day of Taipei road works maps onto RPIC's books: who applies, what for, which
status, and dates moved so the snapshot day is today."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from onecity.roadworks.demo import todaywork as di
from onecity.roadworks.rules.permit import PURPOSES

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("自來水東區", "water"),
        ("台電市區", "power"),
        ("台電輸變電", "power"),
        ("大台北瓦斯", "gas"),
        ("欣湖天然氣", "gas"),
        ("電信北區", "telecom"),
        ("台灣智慧光網", "telecom"),
        ("臺灣固網", "telecom"),
        ("衛工處", "sewer"),
        ("新工處", None),
        ("宗輝營造股份有限公司", None),
    ],
)
def test_utility_kind_is_guessed_from_the_name(name: str, kind: str | None) -> None:
    assert di.utility_kind_of(name) == kind


def test_branches_of_one_utility_are_one_organisation() -> None:
    east, north = di.applicant_org("自來水東區"), di.applicant_org("自來水北區")
    assert east == north and east.code == "twc" and east.kind == "utility"
    assert di.applicant_org("台電南區").code == di.applicant_org("台電輸變電").code == "taipower"
    assert di.applicant_org("新工處") == di.Org(
        "nco", "新工處", "New Construction Office", "agency", None
    )
    ymgas = di.applicant_org("陽明山瓦斯")
    assert (ymgas.kind, ymgas.utility_kind) == ("utility", "gas") and ymgas.code != "gas"


def test_a_builder_that_also_digs_for_others_is_a_contractor() -> None:
    builder = "大陸工程股份有限公司"
    as_applicant = di.applicant_org(builder, frozenset({builder}))
    assert as_applicant == di.contractor_org(builder) and as_applicant.kind == "contractor"
    assert di.applicant_org("遠雄營造股份有限公司").kind == "agency"
    # A stray space in the source does not make a second company.
    assert di.contractor_org("安禾營造有限公 司") == di.contractor_org("安禾營造有限公司")


def test_purposes_follow_the_source_or_the_applicant() -> None:
    water, agency = di.applicant_org("自來水南區"), di.applicant_org("新工處")
    telecom = di.applicant_org("電信士林")
    assert di.purpose_of("道路維護", agency) == "road"
    assert di.purpose_of("市政建設(衛工處-污水管線)", di.applicant_org("衛工處")) == "sewer"
    assert di.purpose_of("市政建設(自來水-計畫性汰管)", water) == "water"
    assert di.purpose_of("人手孔提升", telecom) == "telecom"
    assert di.purpose_of("人手孔破損修復", agency) == "other"
    assert di.purpose_of("民生需求-新建房屋", water) == "water"
    assert di.purpose_of("市政建設(捷運局-捷運工程)", agency) == "other"


def test_status_on_the_snapshot_day_and_shifted_dates() -> None:
    snap = di.SNAPSHOT
    assert di.status_on(snap - timedelta(days=3), snap + timedelta(days=3)) == "in_progress"
    assert di.status_on(snap, snap) == "in_progress"
    assert di.status_on(snap + timedelta(days=1), snap + timedelta(days=9)) == "granted"
    assert di.status_on(snap - timedelta(days=9), snap - timedelta(days=1)) == "works_done"
    assert di.shifted(snap, TODAY) == TODAY
    assert di.shifted(date(2023, 5, 1), TODAY) == TODAY - timedelta(days=32)


def test_the_whole_source_maps() -> None:
    works = di.load(TODAY)
    assert len(works) == 112
    assert all(w.purpose in PURPOSES for w in works)
    assert Counter(w.status for w in works) == {"in_progress": 106, "works_done": 6}
    first = works[0]  # 捷運二工處 (南區), 2022-12-26 to 2024-07-15, 大陸工程
    assert first.applicant.code == "dorts-2" and first.contractor is not None
    assert first.contractor.name_zh == "大陸工程股份有限公司"
    assert (first.end - first.start).days == (date(2024, 7, 15) - date(2022, 12, 26)).days
    assert first.start == TODAY - (di.SNAPSHOT - date(2022, 12, 26))
    assert first.district == "中正區"
    assert sum(w.emergency for w in works) == 3  # 搶修
    assert {w.applicant.code for w in works} >= {"twc", "taipower", "cht", "sewer", "gas"}
    codes = [w.applicant.code for w in works] + [w.contractor.code for w in works if w.contractor]
    assert all(len(c) <= 32 and c == c.lower() for c in codes)


def _taipei_district(lon: float, lat: float) -> str | None:
    from onecity.core.geo import CityProfile

    return CityProfile.load("taipei").place(lon, lat).district


def test_implausible_real_records_are_flagged_not_believed() -> None:
    """The source's 新工處 manhole record (index 92) runs 2016-05-19 → 2110-12-31 and its point
    lies outside Taipei although it says 中正區: both are flagged, with reasons in both
    languages; the district comes from the city's boundaries, not the record's text."""
    works = di.load(TODAY, district_at=_taipei_district)
    odd = works[92]
    assert odd.source["結束日期"] == "2110-12-31" and odd.source["c_name"] == "中正區"
    codes = {n["code"]: n for n in odd.notes if n["severity"] == "data"}
    assert set(codes) == {"implausible_end", "outside_city"}
    assert odd.doubtful and odd.district is None
    assert "2110-12-31" in codes["implausible_end"]["reason"]["en"]
    assert "中正區" in codes["outside_city"]["reason"]["zh-TW"]
    assert "Implausible" in codes["outside_city"]["reason"]["en"]
    # The only one: the 8-year metro works are long but plausible, border points are placed.
    assert [w.index for w in works if w.doubtful] == [92]
    assert works[1].source["c_name"] == "信義區" and works[1].district == "南港區"


def test_every_record_says_in_each_language_that_its_footprint_is_approximated() -> None:
    for w in di.load(TODAY):
        (n,) = [n for n in w.notes if n["code"] == "footprint_from_point"]
        assert n["severity"] == "note" and n["data"] == {"length_m": 12, "width_m": 2}
        assert n["reason"]["en"] == "Footprint approximated from a point (12 m × 2 m)"
        assert n["reason"]["zh-TW"] == "範圍由點位推估（12 公尺 × 2 公尺）"
