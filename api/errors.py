"""Errors of the REST API: every answer is ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from core.errors import ApplicationError


class ApiError(ApplicationError):
    """A refusal of the API's own (a missing object, a bad query); services raise their own
    ApplicationError subclasses, which the API renders the same way."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(code, message, field, status)


def not_found(what: str = "Object") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found.")
