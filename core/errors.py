"""The one error type of the project's services.

Services raise subclasses of :class:`ApplicationError`; views, the REST API and the admin
render them (the API as ``{"error": {"code", "message", "field"}}`` with ``status``). A view
does not re-check what the service checks: it catches the error and shows it.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A refusal worded for whoever made the request.

    ``code`` is stable, for programs; ``message`` is safe to show; ``field`` names the input
    the message belongs to (None for the request as a whole); ``status`` is the HTTP status a
    face answers with.
    """

    def __init__(
        self, code: str, message: str, field: str | None = None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON body of an error, the same for the REST API and the customer endpoints."""
    return {"error": {"code": code, "message": message, "field": field}}
