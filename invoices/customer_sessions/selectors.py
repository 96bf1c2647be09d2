"""Reads of customer sessions and sign-in links. Each answers None for anything forged,
unknown, used, expired or revoked, so callers cannot tell those apart (nor let a customer)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from invoices.customization import scope
from invoices.models import Company, Customer
from invoices.tokens import parse_token

from .models import SESSION_IDLE, CustomerSession, SignInLink

# The MAC purposes of the two tokens. The names predate customer sessions leaving the comment
# thread; kept so that sessions and links issued before still open (a new name would void them).
SESSION_PURPOSE = "comment-session"
SIGN_IN_PURPOSE = "comment-signin"


def session_for_token(token: str | None) -> CustomerSession | None:
    """The live session a cookie names (its customer and company loaded)."""
    selector = parse_token(token or "", purpose=SESSION_PURPOSE)
    if selector is None:
        return None
    now = timezone.now()
    return (
        CustomerSession.objects.select_related("customer", "company")
        .filter(
            selector=selector,
            revoked_at__isnull=True,
            expires_at__gt=now,
            last_seen_at__gt=now - SESSION_IDLE,
        )
        .first()
    )


def sign_in_link_for_token(token: str | None) -> SignInLink | None:
    """The unused, unexpired link a token names (its company and customer loaded); a forged
    token costs no query."""
    selector = parse_token(token or "", purpose=SIGN_IN_PURPOSE)
    if selector is None:
        return None
    link = (
        SignInLink.objects.select_related("company", "customer")
        .filter(selector=selector, used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    # On a company's own domain, another company's link is unknown.
    if link is None or not scope.admits(link.company):
        return None
    return link


def customers_for_sign_in_email(*, company: Company, email: str) -> list[Customer]:
    """The company's customers whose address is ``email``, in any case (the functional index
    ``customer_company_email_ci``)."""
    return list(
        Customer.objects.filter(company=company, email__iexact=email.strip()).order_by("name", "pk")
    )


def live_sessions(*, customer: Customer) -> QuerySet[CustomerSession]:
    now = timezone.now()
    return CustomerSession.objects.filter(
        customer=customer,
        revoked_at__isnull=True,
        expires_at__gt=now,
        last_seen_at__gt=now - SESSION_IDLE,
    )
