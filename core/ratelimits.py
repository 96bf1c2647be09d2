"""The one rate-limit check of the customer-facing endpoints (django-ratelimit; counters in the
cache named by RATELIMIT_USE_CACHE: Redis in production).

When the counter store is down we fail open: the request goes through and a warning is logged,
so a customer can still pay, unsubscribe or comment during a cache outage. Every limited action
is bounded by other means too (a 128-bit token, amount rules, Stripe idempotency, code expiry).
An action bounded by nothing else (emailing a sign-in link to an address anyone types) asks for
``fail_closed=True`` instead: with the store down it raises :class:`RateLimitUnavailable` (503)
and the action does not happen.
settings.RATELIMIT_FAIL_OPEN says the same, but django-ratelimit honours it only when the cache
*returns* a failure; django-redis *raises* on a refused connection, hence the try/except here.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage, is_ratelimited

from core.errors import ApplicationError
from core.http import client_ip

logger = logging.getLogger("portal.ratelimit")


def client_key(request: HttpRequest) -> str:
    """The client's IP as TRUSTED_PROXY_COUNT allows us to see it."""
    return client_ip(request.META, settings.TRUSTED_PROXY_COUNT) or "unknown"


class RateLimitUnavailable(ApplicationError):
    """The counters cannot be read, and the action must not happen uncounted."""

    def __init__(self) -> None:
        super().__init__(
            "unavailable", "This is not possible right now. Try again in a few minutes.", None, 503
        )


def over_limit(
    request: HttpRequest,
    *,
    group: str,
    rate: str,
    key: str | None = None,
    fail_closed: bool = False,
) -> bool:
    """Count this request in ``group`` under ``key`` (default: the client IP); True when over
    ``rate`` (e.g. "30/m"). ``fail_closed``: raise RateLimitUnavailable when the store is
    down, instead of letting the request through."""
    value = key if key is not None else client_key(request)
    if fail_closed:
        return _over_limit_or_raise(request, group=group, rate=rate, value=value)
    try:
        return bool(
            is_ratelimited(
                request, group=group, key=lambda _group, _request: value, rate=rate, increment=True
            )
        )
    except Exception:
        logger.warning("ratelimit.unavailable group=%s: failing open", group, exc_info=True)
        return False


def _over_limit_or_raise(request: HttpRequest, *, group: str, rate: str, value: str) -> bool:
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return False
    try:
        # get_usage answers None when the store failed quietly (RATELIMIT_FAIL_OPEN).
        usage = get_usage(
            request, group=group, key=lambda _group, _request: value, rate=rate, increment=True
        )
    except Exception:
        logger.warning("ratelimit.unavailable group=%s: failing closed", group, exc_info=True)
        raise RateLimitUnavailable from None
    if usage is None:
        logger.warning("ratelimit.unavailable group=%s: failing closed", group)
        raise RateLimitUnavailable
    return bool(usage["should_limit"])


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def retry_after(*, rate: str, key: str) -> int:
    """Seconds until the fixed window that ``over_limit`` counted in ends (django-ratelimit
    starts each key's window at an offset derived from the key), at least 1."""
    import time
    import zlib

    period = _PERIODS[rate.partition("/")[2][-1]] * int(rate.partition("/")[2][:-1] or 1)
    now = int(time.time())
    if period == 1:
        return 1
    window_end = now - (now % period) + (zlib.crc32(key.encode()) % period)
    if window_end <= now:
        window_end += period
    return max(1, window_end - now)
