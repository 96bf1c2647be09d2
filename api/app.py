"""The REST API (/api/v1/): one NinjaAPI, Bearer API keys, one error shape.

Each app contributes a router; errors always answer
``{"error": {"code": ..., "message": ..., "field": ...}}`` with a 4xx status.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema

from api.auth import ApiKeyAuth
from api.credit_notes import router as credit_notes_router
from api.invoices import router as invoices_router
from api.payments import router as payments_router
from api.pdf import router as invoices_pdf_router
from api.preferences import router as preferences_router
from api.tracking import router as tracking_router
from core.errors import ApplicationError, error_body

# Every route can answer these, always in the error shape: 400 (bad input: the validation
# layer in front of every view, the schemas, a service's refusal), 401 (no or a bad key), 404
# (an object of another company or none), 409 (a conflict with the object's state), 422 (a
# well-formed request the API cannot act on).
ERROR_STATUSES = {
    "400": "Bad input",
    "401": "A valid API key is required",
    "404": "Not found (or another company's)",
    "409": "Conflicts with the object's state",
    "422": "Cannot be processed",
}
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
        }
    },
}


class PortalApi(NinjaAPI):
    """The NinjaAPI whose schema documents the error answers of every route once, here,
    rather than in each route's decorator."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in ERROR_STATUSES.items():
                    responses.setdefault(status, {"description": description, "content": error_ref})
        return schema


api = PortalApi(
    title="Invoice Portal API",
    version="1",
    description="Customers, invoices, share links, payments and views of one company. "
    "Money is an integer in the currency's minor unit; objects are named by opaque ids.",
    auth=ApiKeyAuth(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(ApplicationError)
def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return api.create_response(
        request, error_body(exc.code, exc.message, exc.field), status=exc.status
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    body = error_body("unauthorized", "A valid API key is required: Authorization: Bearer <key>.")
    response = api.create_response(request, body, status=401)
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    # loc looks like ("body", "payload", "lines", 0, "quantity"); the field is what follows.
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "payload", "query")]
    field = ".".join(loc) or None
    if first.get("type") == "extra_forbidden":
        code, message = "unknown_field", f"Unknown field: {field}."
    else:
        code, message = "invalid", str(first.get("msg", "Invalid input."))
    return api.create_response(request, error_body(code, message, field), status=400)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = "not_found" if exc.status_code == 404 else "invalid"
    return api.create_response(request, error_body(code, str(exc)), status=exc.status_code)


api.add_router("/", invoices_router)
api.add_router("/", payments_router)
api.add_router("/", invoices_pdf_router)
api.add_router("/", tracking_router)
api.add_router("/", preferences_router)
api.add_router("/", credit_notes_router)
