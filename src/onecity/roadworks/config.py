"""RPIC's settings for one city: the department that runs it, the permit and locate rules and
the working-day calendar (built from the city profile's [calendar] at start-up)."""

from __future__ import annotations

from dataclasses import dataclass, field

from onecity.core.workdays import WorkCalendar
from onecity.roadworks.rules import permit as r
from onecity.roadworks.rules import pipes as pipe_rules


@dataclass(frozen=True)
class RoadworksConfig:
    calendar: WorkCalendar  # the city's days off: core.workdays.calendar_from_profile
    department: str = "pwd"
    rules: r.RuleConfig = field(default_factory=r.RuleConfig)
    locate: pipe_rules.LocateRule = field(default_factory=pipe_rules.LocateRule)
