"""Errors a client can cause. Every one becomes {"error", "detail", "field"} with a 4xx status."""

from __future__ import annotations


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, detail: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        if code is not None:
            self.code = code


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class Invalid(AppError):
    status = 422
    code = "invalid"


class TooLarge(AppError):
    status = 413
    code = "too_large"


class Locked(AppError):
    status = 423
    code = "locked"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class Throttled(AppError):
    """Too many attempts; `retry_after_s` says when to try again (sent as Retry-After)."""

    status = 429
    code = "throttled"

    def __init__(
        self, detail: str, *, retry_after_s: int, field: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(detail, field=field, code=code)
        self.retry_after_s = retry_after_s


class Unavailable(AppError):
    """Busy for a moment: the same request sent again will go through."""

    status = 503
    code = "unavailable"
