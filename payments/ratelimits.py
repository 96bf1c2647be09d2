"""Rate limits of the pay endpoints, per client IP and per invoice link (see portal.ratelimits
for the Redis-down behaviour: fail open, logged)."""

from __future__ import annotations

from django.http import HttpRequest

from core.ratelimits import over_limit

PAY_RATE_PER_IP = "30/m"
PAY_RATE_PER_TOKEN = "12/m"  # noqa: S105 (a rate, not a password)
# The card's status polling: about one request a second while a payment is processing.
POLL_RATE_PER_TOKEN = "120/m"  # noqa: S105


def pay_limited(request: HttpRequest, *, token: str) -> bool:
    """Count this pay request; True when the client or the link is over its limit."""
    by_ip = over_limit(request, group="pay-ip", rate=PAY_RATE_PER_IP)
    by_token = over_limit(request, group="pay-token", key=token, rate=PAY_RATE_PER_TOKEN)
    return by_ip or by_token


def poll_limited(request: HttpRequest, *, token: str) -> bool:
    return over_limit(request, group="pay-poll", key=token, rate=POLL_RATE_PER_TOKEN)
