"""Staff sign-in to the admin: rate limits per IP and per account, lock-out and unlock (each
audited in every company the account works for), and whether an account must confirm its
sign-in with a second factor (TOTP, django-otp): owners of a company that asks for it.

Counters live in the rate-limit cache (Redis in production). When it is down the limits fail
open and log a warning (core.ratelimits): staff can still sign in, with their password and,
where required, their authenticator code.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import BaseCache, caches
from django.http import HttpRequest

from core.ratelimits import client_key, over_limit
from invoices import events
from invoices.events import Actor
from invoices.models import Company, Membership, StaffSignInSettings
from invoices.models.company import Role

logger = logging.getLogger("invoices.sign_in")

# Sign-in posts from one IP, whatever the account.
IP_RATE = "30/10m"
# Failed sign-ins of one account within 15 minutes that lock it out, and for how long.
# (over_limit answers True once the count goes beyond the rate: the fifth failure locks.)
MAX_FAILURES = 5
ACCOUNT_FAILURES_RATE = f"{MAX_FAILURES - 1}/15m"
LOCKOUT_SECONDS = 15 * 60


def _cache() -> BaseCache:
    return caches[settings.RATELIMIT_USE_CACHE]


def _account(username: str) -> str:
    return username.strip().lower()[:150]


def _lock_key(username: str) -> str:
    return f"staff-login-lock:{_account(username)}"


def _generation_key(username: str) -> str:
    # Bumped by an unlock, so the failures counted before it no longer count.
    return f"staff-login-gen:{_account(username)}"


def _cache_get(key: str) -> object:
    try:
        return _cache().get(key)
    except Exception:
        logger.warning("sign_in.cache_unavailable: failing open", exc_info=True)
        return None


def account_locked(username: str) -> bool:
    return bool(username) and _cache_get(_lock_key(username)) is not None


def login_refusal(request: HttpRequest, username: str) -> str:
    """Why a sign-in post is refused before the password is even checked ("" when it may go
    on): too many posts from this IP, or an account locked out."""
    if over_limit(request, group="staff-login-ip", rate=IP_RATE):
        logger.warning("sign_in.ip_limited ip=%s", client_key(request))
        return "ip"
    if account_locked(username):
        return "locked"
    return ""


def _companies_of(username: str) -> list[Company]:
    user = User.objects.filter(username__iexact=_account(username)).first()
    if user is None:
        return []
    return [m.company for m in Membership.objects.filter(user=user).select_related("company")]


def login_failed(request: HttpRequest, username: str) -> bool:
    """Count a failed sign-in of ``username``; lock the account out once it has failed too
    often (audited once per lock-out). True when it is now locked."""
    if not username:
        return False
    generation = _cache_get(_generation_key(username)) or 0
    if not over_limit(
        request,
        group="staff-login-account",
        rate=ACCOUNT_FAILURES_RATE,
        key=f"{_account(username)}:{generation}",
    ):
        return False
    try:
        newly = _cache().add(_lock_key(username), 1, timeout=LOCKOUT_SECONDS)
    except Exception:
        logger.warning("sign_in.cache_unavailable: failing open", exc_info=True)
        return False
    if newly:
        logger.warning(
            "sign_in.locked_out account=%s ip=%s", _account(username), client_key(request)
        )
        for company in _companies_of(username):
            events.record(
                company=company,
                action="staff.locked_out",
                object_id=_account(username),
                ip=client_key(request),
                minutes=LOCKOUT_SECONDS // 60,
            )
    return True


def staff_unlock(*, membership: Membership, actor: Actor = None) -> bool:
    """Lift the lock-out of a member's account (an owner of the company, in the admin): the
    failures counted so far are forgotten. Audited; False when it was not locked."""
    username = membership.user.username
    was_locked = account_locked(username)
    try:
        cache = _cache()
        cache.delete(_lock_key(username))
        try:
            cache.incr(_generation_key(username))
        except ValueError:
            cache.set(_generation_key(username), 1, timeout=None)
    except Exception:
        logger.warning("sign_in.cache_unavailable", exc_info=True)
        return False
    events.record(
        company=membership.company,
        action="staff.unlocked",
        object_id=_account(username),
        actor=actor,
        was_locked=was_locked,
    )
    return was_locked


# How long an account's "second factor required?" answer is kept in the cache: every admin
# request asks, and a query each time would cost every admin page one more. Saving the
# settings forgets the answers of the company's owners at once; a new owner is asked within
# this time.
OTP_REQUIRED_CACHE_SECONDS = 60


def _otp_required_key(user_pk: int) -> str:
    return f"staff-otp-required:{user_pk}"


def otp_required(user: User) -> bool:
    """Must this account confirm its admin sign-in with an authenticator code? Owners of a
    company that asks for it."""
    if not user.is_authenticated:
        return False
    key = _otp_required_key(user.pk)
    cached = _cache_get(key)
    if isinstance(cached, bool):
        return cached
    required = Membership.objects.filter(
        user=user, role=Role.OWNER, company__sign_in_settings__owners_require_otp=True
    ).exists()
    try:
        _cache().set(key, required, timeout=OTP_REQUIRED_CACHE_SECONDS)
    except Exception:
        logger.warning("sign_in.cache_unavailable", exc_info=True)
    return required


def sign_in_settings_save(
    *, settings_row: StaffSignInSettings, changed: list[str], actor: Actor = None
) -> StaffSignInSettings:
    settings_row.save()
    owners = Membership.objects.filter(company=settings_row.company, role=Role.OWNER)
    try:
        _cache().delete_many(
            [_otp_required_key(pk) for pk in owners.values_list("user_id", flat=True)]
        )
    except Exception:
        logger.warning("sign_in.cache_unavailable", exc_info=True)
    events.record(
        company=settings_row.company,
        action="staff.sign_in_settings_changed",
        object_id=settings_row.company.slug,
        actor=actor,
        changed=changed,
        owners_require_otp=settings_row.owners_require_otp,
    )
    return settings_row
