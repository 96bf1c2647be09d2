"""Rate limits of the pay endpoints, per client IP and per invoice link (django-ratelimit;
counters in the cache named by RATELIMIT_USE_CACHE: Redis in production).

When Redis is down we fail open: the request goes through and a warning is logged. A customer
must be able to pay during a cache outage, and an unlimited pay endpoint is still bounded:
a token is needed, the amount rules apply, Stripe's idempotency keys make repeats reuse one
session, and Stripe rate-limits the account itself. (settings.RATELIMIT_FAIL_OPEN says the
same, but django-ratelimit honours it only when the cache *returns* a failure; django-redis
*raises* on a refused connection, hence the try/except here.)
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

from tracking.services import client_ip

logger = logging.getLogger("payments.ratelimit")

PAY_RATE_PER_IP = "30/m"
PAY_RATE_PER_TOKEN = "12/m"  # noqa: S105 (a rate, not a password)
# The card's status polling: about one request a second while a payment is processing.
POLL_RATE_PER_TOKEN = "120/m"  # noqa: S105


def _ip_key(group: str, request: HttpRequest) -> str:
    return client_ip(request.META, settings.TRUSTED_PROXY_COUNT) or "unknown"


def _limited(request: HttpRequest, *, group: str, key: str, rate: str) -> bool:
    try:
        return is_ratelimited(
            request, group=group, key=lambda _group, _request: key, rate=rate, increment=True
        )
    except Exception:
        logger.warning("ratelimit.unavailable group=%s: failing open", group, exc_info=True)
        return False


def pay_limited(request: HttpRequest, *, token: str) -> bool:
    """Count this pay request; True when the client or the link is over its limit."""
    by_ip = _limited(request, group="pay-ip", key=_ip_key("pay-ip", request), rate=PAY_RATE_PER_IP)
    by_token = _limited(request, group="pay-token", key=token, rate=PAY_RATE_PER_TOKEN)
    return by_ip or by_token


def poll_limited(request: HttpRequest, *, token: str) -> bool:
    return _limited(request, group="pay-poll", key=token, rate=POLL_RATE_PER_TOKEN)
