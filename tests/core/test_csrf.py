"""The CSRF tokens of cached pages: Django's format, every character equally likely."""

from __future__ import annotations

import collections

from django.middleware.csrf import CSRF_ALLOWED_CHARS
from django.test import RequestFactory

from core.csrf import csrf_token


def test_a_new_browser_gets_a_secret_and_each_token_a_new_mask() -> None:
    request = RequestFactory().get("/")
    first, second = csrf_token(request), csrf_token(request)
    secret = request.META["CSRF_COOKIE"]
    assert len(secret) == 32 and set(secret) <= set(CSRF_ALLOWED_CHARS)
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert len(first) == len(second) == 64 and first != second
    assert first[:32] != second[:32]


def test_the_random_characters_cover_the_whole_alphabet_evenly() -> None:
    counts: collections.Counter[str] = collections.Counter()
    for _ in range(2000):
        counts.update(csrf_token(RequestFactory().get("/")))
    assert set(counts) == set(CSRF_ALLOWED_CHARS)
    # 128,000 characters: 2,065 each on average (standard deviation 45); taking bytes modulo 62
    # would give the first eight characters a quarter more (2,580).
    assert max(counts.values()) < 2300 and min(counts.values()) > 1830
