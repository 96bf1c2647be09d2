"""The CSRF tokens of our forms: Django's format and checks, every character equally likely."""

from __future__ import annotations

import collections

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CsrfViewMiddleware
from django.template import RequestContext, Template
from django.test import RequestFactory

from core.csrf import csrf_token


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def _checked(secret: str, posted: str) -> int:
    """What Django's CSRF middleware answers to a form post with ``posted`` and ``secret`` in
    the browser's cookie: 200 when it lets it through."""
    request = RequestFactory().post("/", {"csrfmiddlewaretoken": posted})
    request.COOKIES["csrftoken"] = secret
    middleware = CsrfViewMiddleware(_view)
    middleware.process_request(request)
    refused = middleware.process_view(request, _view, (), {})
    return 200 if refused is None else refused.status_code


def test_a_new_browser_gets_a_secret_and_each_token_a_new_mask() -> None:
    request = RequestFactory().get("/")
    first, second = csrf_token(request), csrf_token(request)
    secret = request.META["CSRF_COOKIE"]
    assert len(secret) == 32 and set(secret) <= set(CSRF_ALLOWED_CHARS)
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert len(first) == len(second) == 64 and first != second
    assert first[:32] != second[:32]
    assert _checked(secret, first) == _checked(secret, second) == 200
    assert _checked(secret, "a" * 64) == 403
    assert _checked(csrf_token(RequestFactory().get("/"))[:32], first) == 403


def test_a_browser_keeps_its_secret() -> None:
    request = RequestFactory().get("/")
    request.META["CSRF_COOKIE"] = known = "k" * 32
    assert _checked(known, csrf_token(request)) == 200
    assert request.META["CSRF_COOKIE"] == known


def test_templates_get_the_token_from_the_context_processor() -> None:
    request = RequestFactory().get("/")
    html = Template("{% csrf_token %}").render(RequestContext(request))
    token = html.split('value="', 1)[1].split('"', 1)[0]
    assert len(token) == 64
    assert _checked(request.META["CSRF_COOKIE"], token) == 200


def test_the_random_characters_cover_the_whole_alphabet_evenly() -> None:
    counts: collections.Counter[str] = collections.Counter()
    for _ in range(2000):
        counts.update(csrf_token(RequestFactory().get("/")))
    assert set(counts) == set(CSRF_ALLOWED_CHARS)
    # 128,000 characters: 2,065 each on average (standard deviation 45); taking bytes modulo 62
    # would give the first eight characters a quarter more (2,580).
    assert max(counts.values()) < 2300 and min(counts.values()) > 1830
