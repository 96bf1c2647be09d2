"""What every request to /api/v1/ passes through before and after its route: one place for the
answers Django would otherwise give as HTML (an unknown path, a wrong method)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern, URLResolver, re_path

from api.auth import bearer_token, company_for_key
from api.idempotency import HEADER, idempotent
from core.errors import ApplicationError, error_body
from core.ratelimits import over_limit, retry_after
from invoices.services import api_key_hash

View = Callable[..., HttpResponse]


def json_error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, field), status=status)


def guarded(view: View) -> View:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = _answer(view, request, *args, **kwargs)
        except ApplicationError as exc:
            response = json_error(exc.status, exc.code, exc.message, exc.field)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = json_error(
                405, "method_not_allowed", f"{request.method} is not allowed here; use {allowed}."
            )
            response["Allow"] = allowed
        return response

    return wrapper


# Requests per API key (django-ratelimit's notation); over it the API answers 429 with
# Retry-After.
RATE_LIMIT = "1200/m"


def _answer(view: View, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    def respond() -> HttpResponse:
        return view(request, *args, **kwargs)

    token = bearer_token(request)
    company = company_for_key(request, token) if token else None
    if company is None or token is None:
        return respond()  # the route answers 401 (or serves the public schema and docs)
    key = "api:" + api_key_hash(token)[:32]
    if over_limit(request, group="api", rate=RATE_LIMIT, key=key):
        response = json_error(
            429, "rate_limited", f"Too many requests for this API key (limit {RATE_LIMIT})."
        )
        response["Retry-After"] = str(retry_after(rate=RATE_LIMIT, key=key))
        return response
    idempotency_key = request.headers.get(HEADER)
    if request.method != "POST" or idempotency_key is None:
        return respond()
    return idempotent(request, company, idempotency_key, respond)


def unknown_path(request: HttpRequest, rest: str = "") -> HttpResponse:
    return json_error(404, "not_found", f"No such API route: {request.path}.")


def wrap_urls(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    """The API's URL patterns with every route guarded, and a last one that answers any other
    path under /api/v1/ with a JSON 404."""
    kept: list[URLPattern | URLResolver] = []
    for pattern in patterns:
        if isinstance(pattern, URLPattern) and str(pattern.pattern) == "":
            # django-ninja's root page (an HTML 404 outside debug); its name stays reversible.
            pattern.callback = unknown_path
        elif isinstance(pattern, URLPattern):
            pattern.callback = guarded(pattern.callback)
        kept.append(pattern)
    return [*kept, re_path(r"^(?P<rest>.*)$", unknown_path)]
