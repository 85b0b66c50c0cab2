"""Domain errors; `app.api.errors` maps each to its HTTP status in one place."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(DomainError):
    """Missing, or owned by another therapist: the two are indistinguishable on purpose."""

    status_code = 404


class ConflictError(DomainError):
    status_code = 409


class PayloadTooLargeError(DomainError):
    status_code = 413


class AuthenticationError(DomainError):
    status_code = 401


class CsrfError(DomainError):
    status_code = 403


class RateLimitedError(DomainError):
    status_code = 429

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class UpstreamUnavailableError(DomainError):
    status_code = 503
