"""One root exception and a few narrow ones; ``hub.api`` maps them to HTTP statuses in one place."""

from __future__ import annotations


class ConfigError(Exception):
    """A setting is missing or inconsistent; the message names the variable to fix. Not a
    ``HubError``: it stops start-up (or a command) rather than answering a request."""


class HubError(Exception):
    """Base of every error the hub raises on purpose. ``status`` is the HTTP status it maps to."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class BadRequest(HubError):
    status = 400
    code = "bad_request"


class Unauthorized(HubError):
    status = 401
    code = "unauthorized"


class NotFound(HubError):
    status = 404
    code = "not_found"


class Conflict(HubError):
    status = 409
    code = "conflict"


class ProviderError(HubError):
    """An external service refused or failed; keeps the provider's own code and message."""

    status = 502
    code = "provider_error"

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        provider_status: int | None = None,
        provider_code: str | None = None,
    ):
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.provider_status = provider_status
        self.provider_code = provider_code


class QuotaExhausted(ProviderError):
    """The provider's plan or daily quota is used up: stop calling it, hold the rows."""

    code = "quota_exhausted"
