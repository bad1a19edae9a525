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


class TooManyRequests(AppError):
    """Throttled: the same request is answered again after `retry_after` seconds (sent as the
    Retry-After header)."""

    status = 429
    code = "too_many_requests"

    def __init__(
        self, detail: str, *, retry_after: int, field: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(detail, field=field, code=code)
        self.retry_after = max(1, retry_after)


class Unavailable(AppError):
    """Busy for a moment: the same request sent again will go through."""

    status = 503
    code = "unavailable"
