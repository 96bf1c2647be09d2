"""The CSRF token of a form: what Django's ``get_token`` gives (the browser's secret, new in a
cookie if it has none, under a fresh mask), with its 64 random characters drawn from one read
of the OS's randomness instead of one read per character. Pages served from the page cache put
it in (``csrf_token``); rendered templates get it from the ``csrf`` context processor.

Django keeps the secret in ``request.META["CSRF_COOKIE"]`` and sets the cookie when
``CSRF_COOKIE_NEEDS_UPDATE`` is set, as ``get_token`` does; its middleware checks the token
posted back exactly as one of its own.
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.utils.functional import SimpleLazyObject

_CHARS = CSRF_ALLOWED_CHARS
_INDEX = {char: index for index, char in enumerate(_CHARS)}
# Bytes from this value up are dropped, so that each character is equally likely.
_UNBIASED_BELOW = 256 - 256 % len(_CHARS)


def _random_chars(count: int) -> str:
    chars: list[str] = []
    while len(chars) < count:
        chars.extend(
            _CHARS[byte % len(_CHARS)]
            for byte in secrets.token_bytes(count + 8)
            if byte < _UNBIASED_BELOW
        )
    return "".join(chars[:count])


def csrf_token(request: HttpRequest) -> str:
    """A masked CSRF token for a form of this response, as ``django.middleware.csrf.get_token``."""
    secret = request.META.get("CSRF_COOKIE")
    if secret is None:
        secret = request.META["CSRF_COOKIE"] = _random_chars(CSRF_SECRET_LENGTH)
    # The cookie goes out (new, or its expiry renewed), as get_token asks.
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = _random_chars(CSRF_SECRET_LENGTH)
    cipher = "".join(
        _CHARS[(_INDEX[s] + _INDEX[m]) % len(_CHARS)] for s, m in zip(secret, mask, strict=True)
    )
    return mask + cipher


def csrf(request: HttpRequest) -> dict[str, object]:
    """Context processor: ``csrf_token`` for ``{% csrf_token %}``, made only if a template asks.
    Listed after Django's own (which RequestContext always runs first), it takes its place."""
    return {"csrf_token": SimpleLazyObject(lambda: csrf_token(request))}
