"""The CSRF tokens of our forms: Django's format and checks, every character equally likely."""

from __future__ import annotations

import collections

from django.middleware.csrf import CSRF_ALLOWED_CHARS
from django.template import RequestContext, Template
from django.test import RequestFactory

from core.csrf import csrf_token
from tests.csrf_checks import csrf_answer


def test_a_new_browser_gets_a_secret_and_each_token_a_new_mask() -> None:
    request = RequestFactory().get("/")
    first, second = csrf_token(request), csrf_token(request)
    secret = request.META["CSRF_COOKIE"]
    assert len(secret) == 32 and set(secret) <= set(CSRF_ALLOWED_CHARS)
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert len(first) == len(second) == 64 and first != second
    assert first[:32] != second[:32]
    assert csrf_answer(secret, first) == csrf_answer(secret, second) == 200
    assert csrf_answer(secret, "a" * 64) == 403
    assert csrf_answer(csrf_token(RequestFactory().get("/"))[:32], first) == 403


def test_a_browser_keeps_its_secret() -> None:
    request = RequestFactory().get("/")
    request.META["CSRF_COOKIE"] = known = "k" * 32
    assert csrf_answer(known, csrf_token(request)) == 200
    assert request.META["CSRF_COOKIE"] == known


def test_templates_get_the_token_from_the_context_processor() -> None:
    request = RequestFactory().get("/")
    html = Template("{% csrf_token %}").render(RequestContext(request))
    token = html.split('value="', 1)[1].split('"', 1)[0]
    assert len(token) == 64
    assert csrf_answer(request.META["CSRF_COOKIE"], token) == 200


def test_the_random_characters_cover_the_whole_alphabet_evenly() -> None:
    counts: collections.Counter[str] = collections.Counter()
    for _ in range(2000):
        counts.update(csrf_token(RequestFactory().get("/")))
    assert set(counts) == set(CSRF_ALLOWED_CHARS)
    # 128,000 characters: 2,065 each on average (standard deviation 45); taking bytes modulo 62
    # would give the first eight characters a quarter more (2,580).
    assert max(counts.values()) < 2300 and min(counts.values()) > 1830
