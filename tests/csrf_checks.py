"""What Django's CSRF middleware answers to a form post: the check a token must pass."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.test import RequestFactory


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def csrf_answer(secret: str, posted: str) -> int:
    """200 when Django's CSRF middleware lets a form post with ``posted`` through, the browser
    holding ``secret`` in its cookie; else its refusal's status (403)."""
    request = RequestFactory().post("/", {"csrfmiddlewaretoken": posted})
    request.COOKIES["csrftoken"] = secret
    middleware = CsrfViewMiddleware(_view)
    middleware.process_request(request)
    refused = middleware.process_view(request, _view, (), {})
    return 200 if refused is None else refused.status_code
