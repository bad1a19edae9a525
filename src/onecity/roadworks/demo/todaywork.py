"""How one day of Taipei's real road works (demo_data/traffic_todaywork_view.geojson, see
demo_data/SOURCES.md) maps onto RPIC's books: who the applicants and contractors are, what
each work is for, its dates moved to today, its status. Pure: no database, no projection."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from onecity.roadworks.rules.status import PermitStatus

SOURCE = Path(__file__).parents[1] / "demo_data" / "traffic_todaywork_view.geojson"
SNAPSHOT = date(2023, 6, 2)  # the day the source lists the works of


@dataclass(frozen=True)
class Org:
    code: str
    name_zh: str
    name_en: str
    kind: str  # utility | contractor | agency
    utility_kind: str | None


# The utilities whose branch offices apply under their own names (自來水東區, 台電北区…): one
# organisation each, with the codes the synthetic pipe network (pipe_gen) uses as owners.
FAMILIES: tuple[tuple[tuple[str, ...], Org], ...] = (
    (("自來水",), Org("twc", "臺北自來水事業處", "Taipei Water Department", "utility", "water")),
    (("台電", "臺電"), Org("taipower", "台灣電力公司", "Taipower", "utility", "power")),
    (("電信",), Org("cht", "中華電信", "Chunghwa Telecom", "utility", "telecom")),
    (
        ("衛工處",),
        Org("sewer", "衛生下水道工程處", "Sewerage Engineering Office", "utility", "sewer"),
    ),
    (
        ("大台北瓦斯", "大台北區瓦斯"),
        Org("gas", "大台北瓦斯", "Great Taipei Gas", "utility", "gas"),
    ),
)
# Other applicants with a known English name and a readable code.
KNOWN: dict[str, tuple[str, str]] = {
    "新工處": ("nco", "New Construction Office"),
    "水利處": ("heo", "Hydraulic Engineering Office"),
    "公園處": ("parks", "Parks and Street Lights Office"),
    "交工處": ("teo", "Traffic Engineering Office"),
    "捷運二工處(南區)": ("dorts-2", "DORTS Second District Project Office"),
    "陽明山瓦斯": ("ymgas", "Yangmingshan Gas"),
    "欣湖天然氣": ("shinhu-gas", "Shin Hu Gas"),
    "台灣智慧光網": ("tifo", "Taiwan Intelligent Fiber Optic Network"),
    "臺灣固網": ("tfn", "Taiwan Fixed Network"),
}

# npurp (the source's purpose) → RPIC purpose, first match wins. None: the applicant's own
# line of business (a manhole raised by 電信 is telecom work, a new house connected by 自來水
# is water work), or "other" when the applicant is not a utility.
PURPOSE_RULES: tuple[tuple[str, str | None], ...] = (
    ("道路維護", "road"),
    ("建案公設復舊", "road"),  # restoring the pavement after a building project
    ("污水", "sewer"),
    ("側溝", "sewer"),  # roadside drains: drainage, dug like a sewer
    ("自來水", "water"),
    ("路燈", "power"),
    ("號誌", "power"),  # signal cables
    ("光纖", "telecom"),
    ("監視器", "telecom"),  # CCTV cabling
    ("捷運", "other"),
    ("人手孔", None),
    ("新建房屋", None),
    ("舊有用戶", None),
    ("既設管線", None),
    ("管遷", None),
    ("搶修", None),
)
# A real record the import keeps but does not show as if true: works lasting longer than this
# (the source has a 2016 → 2110 permit; the longest plausible ones, metro works, run ~8 years).
MAX_PLAUSIBLE_DAYS = 15 * 366
FOOTPRINT_M = (12, 2)  # the trench drawn around a record's point: length, width

# What the import knows about a record, as a code stored with it (a finding of severity
# "data": the record looks wrong and is withheld from the public; "note": how it was read),
# and its reason in each language. `{…}` are filled from the note's data.
NOTE_TEXT: dict[str, tuple[str, dict[str, str]]] = {
    "implausible_end": (
        "data",
        {
            "zh-TW": "資料存疑：施工期間 {days} 天（{start} 至 {end}），超過 {max_years} 年，"
            "結束日期應有誤",
            "en": "Implausible data: the works would last {days} days ({start} to {end}), "
            "more than {max_years} years; the end date is probably wrong",
        },
    ),
    "outside_city": (
        "data",
        {
            "zh-TW": "資料存疑：點位（{lon}, {lat}）不在市界內，原資料卻標示為「{district_text}」",
            "en": "Implausible data: the point ({lon}, {lat}) lies outside the city, although "
            "the record names one of its districts",
        },
    ),
    "footprint_from_point": (
        "note",
        {
            "zh-TW": "範圍由點位推估（{length_m} 公尺 × {width_m} 公尺）",
            "en": "Footprint approximated from a point ({length_m} m × {width_m} m)",
        },
    ),
}


def note(code: str, **data: Any) -> dict[str, Any]:
    """A stored note: its code, severity, reason per language and data, in the shape of the
    rules' findings (so the permit page and API show it like one)."""
    severity, text = NOTE_TEXT[code]
    return {
        "code": code,
        "severity": severity,
        "reason": {lang: t.format(**data) for lang, t in text.items()},
        "data": data,
    }


def doubts(
    lon: float, lat: float, start: date, end: date, district: str | None, district_text: str
) -> list[dict[str, Any]]:
    """What is implausible in a real record: an end decades out, a point outside the city
    (`district` is the one core geo finds there, None outside)."""
    out = []
    if (end - start).days > MAX_PLAUSIBLE_DAYS:
        out.append(
            note(
                "implausible_end",
                days=(end - start).days,
                start=start.isoformat(),
                end=end.isoformat(),
                max_years=MAX_PLAUSIBLE_DAYS // 366,
            )
        )
    if district is None:
        out.append(note("outside_city", lon=lon, lat=lat, district_text=district_text))
    return out


DEPTH_M = {"road": 0.3, "sewer": 2.5, "water": 1.5, "power": 1.5, "gas": 1.2, "telecom": 1.0}


def _clean(name: str) -> str:
    """A company name without stray spaces (the source has '安禾營造有限公 司')."""
    return re.sub(r"\s+", "", name or "")


def utility_kind_of(name: str) -> str | None:
    """What an applicant runs, guessed from its name; None for an agency or a builder."""
    n = _clean(name)
    if "自來水" in n:
        return "water"
    if "台電" in n or "臺電" in n:
        return "power"
    if "瓦斯" in n or "天然氣" in n:
        return "gas"
    if any(w in n for w in ("電信", "光網", "固網")):
        return "telecom"
    if "衛工處" in n:
        return "sewer"
    return None


def _hashed(prefix: str, name: str) -> str:
    return f"{prefix}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"  # noqa: S324 - a label


def applicant_org(name: str, contractors: frozenset[str] = frozenset()) -> Org:
    """The organisation an `app_name` files for. A builder that also digs for others (it is
    someone's `tc_na`) is registered as a contractor, so it can be named as one."""
    n = _clean(name)
    for words, org in FAMILIES:
        if any(w in n for w in words):
            return org
    if n in contractors:
        return contractor_org(n)
    kind = utility_kind_of(n)
    code, en = KNOWN.get(n, (_hashed("a", n), n))
    return Org(code, n, en, "utility" if kind else "agency", kind)


def contractor_org(name: str) -> Org:
    n = _clean(name)
    return Org(_hashed("c", n), n, n, "contractor", None)


def purpose_of(npurp: str, applicant: Org) -> str:
    for word, purpose in PURPOSE_RULES:
        if word in npurp:
            return purpose or applicant.utility_kind or "other"
    return applicant.utility_kind or "other"


def status_on(start: date, end: date, snapshot: date = SNAPSHOT) -> PermitStatus:
    """The permit's status on the snapshot day."""
    if start > snapshot:
        return PermitStatus.GRANTED
    if end < snapshot:
        return PermitStatus.WORKS_DONE  # still listed that day: dug, not yet restored
    return PermitStatus.IN_PROGRESS


def shifted(d: date, today: date, snapshot: date = SNAPSHOT) -> date:
    """A source date moved so that the snapshot day is today."""
    return d + (today - snapshot)


@dataclass(frozen=True)
class Work:
    index: int
    lon: float
    lat: float
    applicant: Org
    contractor: Org | None
    purpose: str
    district: str | None
    hours: str
    night: bool
    start: date  # shifted
    end: date
    status: PermitStatus
    source: dict[str, Any]
    # The import's notes on the record (note(): how it was read, what looks wrong).
    notes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def doubtful(self) -> bool:
        return any(n["severity"] == "data" for n in self.notes)

    @property
    def depth_m(self) -> float:
        return DEPTH_M.get(self.purpose, 1.5)

    @property
    def emergency(self) -> bool:
        return "搶修" in str(self.source.get("npurp", ""))


def load(
    today: date,
    path: Path = SOURCE,
    district_at: Callable[[float, float], str | None] | None = None,
) -> list[Work]:
    """Every work of the source, mapped, in the source's order. `district_at(lon, lat)` (core
    geo) places each point; without it the record's own district text is taken at its word."""
    features = json.loads(path.read_text("utf-8"))["features"]
    contractors = frozenset(_clean(f["properties"].get("tc_na", "")) for f in features)
    out: list[Work] = []
    for i, f in enumerate(features):
        p = f["properties"]
        lon, lat = (float(v) for v in f["geometry"]["coordinates"][:2])
        start = date.fromisoformat(p["起始日期"])
        end = date.fromisoformat(p["結束日期"])
        applicant = applicant_org(p["app_name"], contractors)
        contractor = contractor_org(p["tc_na"]) if _clean(p.get("tc_na", "")) else None
        hours = str(p.get("co_ti") or "")
        said = str(p.get("c_name", ""))
        district = district_at(lon, lat) if district_at else said
        notes = [
            note("footprint_from_point", length_m=FOOTPRINT_M[0], width_m=FOOTPRINT_M[1]),
            *doubts(lon, lat, start, end, district, said),
        ]
        out.append(
            Work(
                index=i,
                lon=lon,
                lat=lat,
                applicant=applicant,
                contractor=contractor,
                purpose=purpose_of(str(p.get("npurp", "")), applicant),
                district=district,
                hours=hours[:120],
                night="夜" in hours,
                start=shifted(start, today),
                end=shifted(end, today),
                status=status_on(start, end),
                source=dict(p),
                notes=notes,
            )
        )
    return out


def filed_on(w: Work) -> date:
    """When the permit was applied for: the source does not say; two weeks before the start."""
    return w.start - timedelta(days=14)
