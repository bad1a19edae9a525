"""Threshold rules as the alerts API takes and gives them. (The alert schemas stay in
core.alerts_api: their OpenAPI names come from that module, beside waste's own AlertOut.)"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
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
