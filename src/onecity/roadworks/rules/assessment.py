"""An application's assessment: the checks of when (night works, notice, dates), the day the
city must answer by, and `check_all`, which runs every check of rules/permit.py and these on one
application. Pure, like the rest of rules/."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from onecity.core.workdays import WorkCalendar
from onecity.roadworks.rules.permit import (
    Assessment,
    DigBan,
    Embargo,
    Finding,
    RuleConfig,
    Works,
    category,
    check_dig_bans,
    check_embargoes,
    find_conflicts,
    propose_joint_dig,
)
from onecity.roadworks.rules.status import PermitStatus


def _as_date(d: datetime | date) -> date:
    return d.date() if isinstance(d, datetime) else d


def check_night(app: Works, cfg: RuleConfig | None = None) -> list[Finding]:
    """Whether night works disturb a residential area or need a noise permit."""
    if not app.night:
        return []
    cfg = cfg or RuleConfig()
    hours = f"{cfg.night_start:%H:%M}–{cfg.night_end:%H:%M}"
    if app.residential and not app.emergency:
        return [
            Finding(
                "night_residential",
                "block",
                {
                    "zh-TW": f"住宅區不得於夜間（{hours}）施工",
                    "en": f"No night works ({hours}) in a residential area",
                },
            )
        ]
    return [
        Finding(
            "night_works",
            "warn",
            {
                "zh-TW": f"夜間（{hours}）施工須另取得噪音管制許可",
                "en": f"Night works ({hours}) need a noise permit",
            },
        )
    ]


def check_notice(app: Works, filed_at: date, cal: WorkCalendar, cfg: RuleConfig) -> list[Finding]:
    """Whether the application was filed early enough before the dig (or soon enough after it)."""
    filed = _as_date(filed_at)
    if app.emergency:
        latest = app.start + timedelta(days=cfg.emergency_file_days)
        if filed <= latest:
            return []
        return [
            Finding(
                "late_emergency_filing",
                "block",
                {
                    "zh-TW": f"緊急搶修應於開工後 {cfg.emergency_file_days} 日內（{latest}前）"
                    f"補辦申請，本案於 {filed} 才申請",
                    "en": f"Emergency works must be filed within {cfg.emergency_file_days} days of "
                    f"starting (by {latest}); this was filed on {filed}",
                },
                {"latest": latest.isoformat(), "filed_at": filed.isoformat()},
            )
        ]
    cat = category(app, cfg)
    needed = cfg.notice_working_days[cat]
    have = cal.working_days_between(filed, app.start)
    if have >= needed:
        return []
    earliest = cal.add_working_days(filed, needed)
    return [
        Finding(
            "short_notice",
            "block",
            {
                "zh-TW": f"應於開工前 {needed} 個工作日申請，本案僅 {have} 個工作日；"
                f"最早可於 {earliest} 開工",
                "en": f"{cat.capitalize()} works need {needed} working days' notice, this "
                f"application gives {have}; the earliest start is {earliest}",
            },
            {"needed": needed, "given": have, "earliest_start": earliest.isoformat()},
        )
    ]


def check_dates(app: Works) -> list[Finding]:
    """Whether the dates make sense at all."""
    if app.end >= app.start:
        return []
    return [
        Finding(
            "end_before_start",
            "block",
            {
                "zh-TW": f"完工日 {app.end} 早於開工日 {app.start}",
                "en": f"The end date {app.end} is before the start date {app.start}",
            },
            {"start": app.start.isoformat(), "end": app.end.isoformat()},
        )
    ]


def decide_by(filed_at: datetime | date, category: str, cal: WorkCalendar, cfg: RuleConfig) -> date:
    """The last day the city may answer; after it the permit counts as granted."""
    if category == "emergency":
        # Emergency works are granted when filed: the pipe has already burst.
        return _as_date(filed_at)
    return cal.add_working_days(filed_at, cfg.response_working_days[category])


def is_deemed_granted(decide_by_date: date, today: date) -> bool:
    """Whether the city let its deadline pass, so the permit is granted by silence."""
    return today > decide_by_date


def check_all(
    app: Works,
    *,
    candidates: Iterable[Works],
    bans: Iterable[DigBan],
    embargoes: Iterable[Embargo],
    filed_at: datetime | date,
    cal: WorkCalendar,
    cfg: RuleConfig | None = None,
) -> Assessment:
    """Every check on one application, and a joint dig to offer instead where works conflict."""
    cfg = cfg or RuleConfig()
    pool = list(candidates)
    conflicts = find_conflicts(app, pool, cfg)
    by_ref = {c.ref: c for c in pool}
    # A closed dig is finished; it explains a repeat_dig warning but cannot join a shared trench.
    partners = [by_ref[f.data["other"]] for f in conflicts]
    partners = [w for w in partners if w.status != PermitStatus.CLOSED]
    findings = [
        *check_dates(app),
        *check_notice(app, _as_date(filed_at), cal, cfg),
        *conflicts,
        *check_dig_bans(app, bans, cfg),
        *check_embargoes(app, embargoes),
        *check_night(app, cfg),
    ]
    return Assessment(findings, propose_joint_dig(app, partners), category(app, cfg))
