"""Threshold rules as the alerts API takes and gives them. (The alert schemas stay in
core.alerts_api: their OpenAPI names come from that module, beside waste's own AlertOut.)"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

LangTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")]
RuleName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: RuleName
    names: Annotated[
        dict[LangTag, RuleName],
        Field(
            max_length=8,
            description='the name in each language, e.g. {"zh-TW": "清潔箱將滿", '
            '"en": "Bin nearly full"}; pages in a language it lacks show `name`',
        ),
    ] = Field(default_factory=dict)
    key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]
    direction: Literal["above", "below"]
    raise_at: float
    clear_at: float
    severity: Literal["info", "warning", "critical"] = "warning"
    device_type: Annotated[str, StringConstraints(max_length=64)] | None = None
    device_id: Annotated[str, StringConstraints(max_length=64)] | None = None


class RuleOut(RuleIn):
    id: int
    enabled: bool = Field(default=True)
    department: str | None = Field(
        default=None,
        validation_alias="department_code",
        description="whose devices it watches; null for a city-wide rule",
    )
