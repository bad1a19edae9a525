"""What the webhooks API takes and gives. The signing secret appears only in
`WebhookCreated`, the answer to creating a hook or rotating its secret."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

EventType = Annotated[
    str, StringConstraints(max_length=64, pattern=r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*)$")
]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    event_types: Annotated[list[EventType], Field(min_length=1, max_length=20)]
    department: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None,
        description="whose events it receives; omitted: your own department; "
        "null: every department's (administrators only)",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return v

    @field_validator("event_types")
    @classmethod
    def _star_alone(cls, v: list[str]) -> list[str]:
        if "*" in v and len(v) > 1:
            raise ValueError('"*" (every type) must be the only entry')
        return list(dict.fromkeys(v))


class WebhookOut(BaseModel):
    id: int
    url: str
    event_types: list[str]
    department: str | None = Field(validation_alias="department_code")
    active: bool
    created_by: str
    created_at: datetime
    cursor_event_id: int = Field(description="the last event id delivered (or skipped)")
    failures: int = Field(description="consecutive failed attempts")
    next_attempt_at: datetime | None
    last_error: str | None
    last_delivered_at: datetime | None


class WebhookCreated(WebhookOut):
    secret: str = Field(description="HMAC-SHA256 key for X-OneCity-Signature; shown only once")


class WebhookChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool = Field(
        description="false pauses deliveries (events wait at the hook's cursor; a batch "
        "already being sent finishes); true resumes them from where they stopped"
    )
