"""The REST API (/api/v1/): one NinjaAPI, Bearer API keys, one error shape.

Each app contributes a router; errors always answer
``{"error": {"code": ..., "message": ..., "field": ...}}`` with a 4xx status.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from api import openapi
from api.auth import ApiKeyAuth
from api.company import router as company_router
from api.credit_notes import router as credit_notes_router
from api.customers import router as customers_router
from api.einvoice import router as einvoice_router
from api.gate import wrap_urls
from api.invoices import router as invoices_router
from api.payments import router as payments_router
from api.pdf import router as invoices_pdf_router
from api.preferences import router as preferences_router
from api.tracking import router as tracking_router
from api.webhooks import router as webhooks_router
from core.errors import ApplicationError, error_body

logger = logging.getLogger("api")


class PortalApi(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        # Error answers, the Idempotency-Key header and Retry-After, on every route at once.
        return openapi.complete(dict(super().get_openapi_schema(**kwargs)))


api = PortalApi(
    title="Invoice Portal API",
    version="1",
    description=openapi.INTRO,
    auth=ApiKeyAuth(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(ApplicationError)
def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    body = error_body(exc.code, exc.message, exc.field)
    missing = getattr(exc, "missing", None)
    if missing:  # an e-invoice the data cannot make: every field to fill in
        body["error"]["missing_fields"] = list(missing)
    if exc.status >= 500:
        logger.error("api.error %s %s: %s", request.method, request.path, exc.message)
    return api.create_response(request, body, status=exc.status)


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


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, error_body("not_found", "Not found."), status=404)


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("api.error %s %s", request.method, request.path)
    body = error_body("server_error", "Something went wrong on our side; please try again.")
    return api.create_response(request, body, status=500)


def urls() -> tuple[list[Any], str, str]:
    """The API's URL patterns for portal_project/urls.py: every route guarded (api/gate.py) and
    any other /api/v1/ path answered with a JSON 404."""
    patterns, app_name, namespace = api.urls
    return wrap_urls(list(patterns)), app_name, namespace


api.add_router("/", customers_router)
api.add_router("/", company_router)
api.add_router("/", invoices_router)
api.add_router("/", payments_router)
api.add_router("/", invoices_pdf_router)
api.add_router("/", einvoice_router)
api.add_router("/", tracking_router)
api.add_router("/", preferences_router)
api.add_router("/", credit_notes_router)
api.add_router("/", webhooks_router)
