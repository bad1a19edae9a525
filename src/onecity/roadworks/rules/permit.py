"""What is checked when a road excavation permit is applied for, with reasons a person can read.

Every check returns `Finding`s: a stable code for machines, a severity ("block" stops a grant,
"warn" is for the officer to weigh), a reason in Traditional Chinese and English, and data such
as the other permit's number and dates. Geometries are shapely shapes in projected metres
(TWD97 TM2, EPSG:3826); dates are inclusive ranges. The checks of when (night, notice, dates)
and the assessment that runs every check are in rules/assessment.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any, Literal

from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from onecity.core.workdays import add_years
from onecity.roadworks.rules.status import OPEN, PermitStatus

PURPOSES = ("water", "sewer", "power", "gas", "telecom", "road", "other")
Severity = Literal["block", "warn"]

# Refused and withdrawn permits never dig; closed ones have dug already, so they only matter as
# a recent dig that a new one would repeat.
_IGNORED_STATUSES = frozenset({PermitStatus.REFUSED, PermitStatus.WITHDRAWN})
_CLOSED = PermitStatus.CLOSED

# The spatial index is only a coarse filter: widening it by a millimetre makes sure that float
# rounding in GEOS's dwithin never drops a pair that the exact distance check would accept.
_INDEX_SLACK_M = 1e-3


@dataclass(frozen=True)
class Works:
    """One dig: an application being checked or a permit already on the books."""

    ref: str
    geom: BaseGeometry
    start: date
    end: date
    depth_m: float
    purpose: str
    applicant: str
    road: str | None
    night: bool = False
    emergency: bool = False
    residential: bool = False
    status: str = PermitStatus.GRANTED

    def __post_init__(self) -> None:
        if self.purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}; got {self.purpose!r}")
        if self.depth_m < 0:
            raise ValueError(f"depth_m is a depth below the surface and cannot be {self.depth_m}")


@dataclass(frozen=True)
class RuleConfig:
    """The numbers a city sets for its permit rules; the defaults follow Taipei's practice."""

    near_m: float = 20.0
    repeat_gap_days: int = 90
    ban_years_default: int = 5
    notice_working_days: dict[str, int] = field(
        default_factory=lambda: {"major": 20, "standard": 10, "minor": 3}
    )
    emergency_file_days: int = 3
    response_working_days: dict[str, int] = field(
        default_factory=lambda: {"major": 20, "standard": 5, "minor": 2}
    )
    major_days: int = 10
    minor_days: int = 3
    minor_area_m2: float = 30.0
    night_start: time = time(22, 0)
    night_end: time = time(6, 0)


@dataclass(frozen=True)
class Finding:
    """One thing the checks found, with the reason to show and the data to act on."""

    code: str
    severity: Severity
    reason: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JointDig:
    """A proposal to dig once for several works, in the order the trench should be used."""

    members: list[str]
    reason: dict[str, str]
    window: tuple[date, date]


@dataclass(frozen=True)
class DigBan:
    """A newly paved road that may not be dug for some years (by shape, or by road name)."""

    road: str
    geom: BaseGeometry | None
    paved_on: date
    years: int
    note: str = ""

    @property
    def until(self) -> date:
        """The first day digging is allowed again."""
        return add_years(self.paved_on, self.years)


@dataclass(frozen=True)
class Embargo:
    """A period when digging is not allowed: holidays, exams, big events; area None = city-wide."""

    name: dict[str, str]
    kind: str
    start: date
    end: date
    area: BaseGeometry | None = None


@dataclass(frozen=True)
class Assessment:
    """Everything found about one application, and a joint dig if one would resolve conflicts."""

    findings: list[Finding]
    joint_dig: JointDig | None
    category: str

    @property
    def blocked(self) -> bool:
        """Whether any finding stops the permit being granted as applied for."""
        return any(f.severity == "block" for f in self.findings)


def _span(start: date, end: date) -> str:
    return f"{start.isoformat()} 至 {end.isoformat()}"


def category(w: Works, cfg: RuleConfig) -> str:
    """The permit category that sets notice and answer times: emergency, major, standard, minor."""
    if w.emergency:
        return "emergency"
    days = (w.end - w.start).days + 1
    if days > cfg.major_days:
        return "major"
    if days <= cfg.minor_days and w.geom.area <= cfg.minor_area_m2:
        return "minor"
    return "standard"


def _gap_days(a: Works, b: Works) -> int:
    """Days from the end of the earlier dig to the start of the later; 0 when they overlap."""
    if a.start <= b.end and b.start <= a.end:
        return 0
    return (b.start - a.end).days if a.end < b.start else (a.start - b.end).days


def _conflict(app: Works, c: Works, cfg: RuleConfig) -> Finding | None:
    if c.status in _IGNORED_STATUSES or c.ref == app.ref:
        return None
    distance = float(app.geom.distance(c.geom))
    if distance > cfg.near_m:
        return None
    gap = _gap_days(app, c)
    data: dict[str, Any] = {
        "other": c.ref,
        "applicant": c.applicant,
        "start": c.start.isoformat(),
        "end": c.end.isoformat(),
        "distance_m": round(distance, 1),
        "gap_days": gap,
    }
    if gap == 0 and c.status != _CLOSED:
        # An emergency dig is already in the ground; the clash is for the officer to coordinate.
        return Finding(
            "clash",
            "warn" if app.emergency else "block",
            {
                "zh-TW": f"與 {c.ref}（{c.applicant}）同一路段、同期施工"
                f"（{_span(c.start, c.end)}）",
                "en": f"Works {c.ref} by {c.applicant} dig the same stretch "
                f"from {c.start.isoformat()} to {c.end.isoformat()}",
            },
            data,
        )
    if gap <= cfg.repeat_gap_days:
        n = cfg.repeat_gap_days
        return Finding(
            "repeat_dig",
            "warn",
            {
                "zh-TW": f"{c.ref}（{c.applicant}）於 {_span(c.start, c.end)} 挖掘同一路段，"
                f"相隔 {gap} 天；{n} 天內將重複挖掘，請協調聯合施工",
                "en": f"Works {c.ref} by {c.applicant} dig the same stretch from "
                f"{c.start.isoformat()} to {c.end.isoformat()}, {gap} days apart: the road "
                f"would be dug twice within {n} days; dig once together instead",
            },
            data,
        )
    return None


def find_conflicts(app: Works, candidates: Iterable[Works], cfg: RuleConfig) -> list[Finding]:
    """The exact space-time check of an application against works a spatial query returned."""
    found = (_conflict(app, c, cfg) for c in candidates)
    return [f for f in found if f is not None]


class ConflictIndex:
    """Works held in an STRtree, so an application is only compared with works nearby."""

    def __init__(self, works: Sequence[Works]) -> None:
        self._works = list(works)
        self._tree = STRtree([w.geom for w in self._works])

    def nearby(self, app: Works, cfg: RuleConfig) -> list[Works]:
        """Works whose shapes come within `near_m` of the application (a superset, cheaply)."""
        hits = self._tree.query(app.geom, predicate="dwithin", distance=cfg.near_m + _INDEX_SLACK_M)
        return [self._works[int(i)] for i in sorted(hits)]

    def query(self, app: Works, cfg: RuleConfig) -> list[Finding]:
        """The conflicts of `app` with the indexed works."""
        return find_conflicts(app, self.nearby(app, cfg), cfg)


def dig_order_key(w: Works, newest: Works) -> tuple[bool, float, date, bool, str]:
    """Where a member goes in a joint dig's order: deepest first, road surface works last;
    among equals the earlier start, then the one filed first. `newest` is the application
    being checked or granted: before filing it has no number yet, so it is placed after the
    numbered works it ties with, exactly where its number will put it once filed."""
    return (w.purpose == "road", -w.depth_m, w.start, w is newest, w.ref)


def propose_joint_dig(app: Works, conflicting: Sequence[Works]) -> JointDig | None:
    """One shared dig for the application and the works it conflicts with, or None if alone.
    The one rule for the order: the pre-filing check, the filed permit's page and the grant
    all call it.

    Deepest pipes go in first so shallower ones are not disturbed; resurfacing comes last.
    Only works still open (not closed, refused or withdrawn) can share the trench."""
    members: dict[str, Works] = {app.ref: app}
    for c in conflicting:
        if c.status in OPEN:
            members.setdefault(c.ref, c)
    if len(members) < 2:
        return None
    order = sorted(members.values(), key=lambda w: dig_order_key(w, app))
    window = (min(w.start for w in order), max(w.end for w in order))
    refs = [w.ref for w in order]
    first = order[0]
    return JointDig(
        members=refs,
        reason={
            "zh-TW": f"{'、'.join(refs)} 同一路段，建議聯合挖掘一次（{_span(*window)}）："
            f"由最深之 {first.ref}（{first.depth_m:g} 公尺）先施工，路面工程最後",
            "en": f"{', '.join(refs)} share the stretch; dig once from {window[0].isoformat()} "
            f"to {window[1].isoformat()}: deepest first ({first.ref} at {first.depth_m:g} m), "
            "road surface works last",
        },
        window=window,
    )


def _ban_applies(app: Works, ban: DigBan, cfg: RuleConfig) -> bool:
    if ban.geom is not None:
        return bool(app.geom.distance(ban.geom) <= cfg.near_m)
    return app.road is not None and app.road.strip() == ban.road.strip()


def check_dig_bans(app: Works, bans: Iterable[DigBan], cfg: RuleConfig) -> list[Finding]:
    """Whether the dig would break up a road paved too recently to be dug again."""
    out: list[Finding] = []
    for ban in bans:
        if not _ban_applies(app, ban, cfg) or app.start >= ban.until:
            continue
        paved, until = ban.paved_on.isoformat(), ban.until.isoformat()
        zh = f"{ban.road} 於 {paved} 新鋪路面，{ban.years} 年內禁挖至 {until}"
        en = f"{ban.road} was repaved on {paved}; no digging for {ban.years} years, until {until}"
        if app.emergency:
            zh += "；緊急搶修可施工，但須依新鋪路面標準修復"
            en += "; emergency works may go ahead but must restore to the new surface's standard"
        out.append(
            Finding(
                "dig_ban",
                "warn" if app.emergency else "block",
                {"zh-TW": zh, "en": en},
                {"road": ban.road, "paved_on": paved, "until": until, "note": ban.note},
            )
        )
    return out


def check_embargoes(app: Works, embargoes: Iterable[Embargo]) -> list[Finding]:
    """Whether the dig falls in a no-dig period (festivals, exams, events) where it applies."""
    out: list[Finding] = []
    for e in embargoes:
        if app.end < e.start or e.end < app.start:
            continue
        if e.area is not None and not e.area.intersects(app.geom):
            continue
        zh = f"施工期間與「{e.name['zh-TW']}」禁挖期（{_span(e.start, e.end)}）重疊"
        en = f"The works overlap the {e.name['en']} no-dig period ({e.start} to {e.end})"
        if app.emergency:
            zh += "；緊急搶修可施工"
            en += "; emergency works may go ahead"
        out.append(
            Finding(
                "embargo",
                "warn" if app.emergency else "block",
                {"zh-TW": zh, "en": en},
                {"kind": e.kind, "start": e.start.isoformat(), "end": e.end.isoformat()},
            )
        )
    return out
