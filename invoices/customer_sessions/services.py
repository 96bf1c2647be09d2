"""Writes of customer sessions and sign-in links: open, touch, revoke, and the single use of
a link. Every sign-in and every sign-out is audited in the customer's company."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from invoices import events, share_links
from invoices.customization.domains import company_origin
from invoices.events import Actor
from invoices.models import Customer, Invoice, InvoiceStatus
from invoices.tokens import make_token, new_selector, parse_token

from .models import (
    SESSION_MAX_AGE,
    CustomerSession,
    OpenedBy,
    SignInLink,
    SignInPage,
    SignInSource,
)
from .selectors import SESSION_PURPOSE, SIGN_IN_PURPOSE

# An emailed link works for 30 minutes; a magic link as long as the API asked (see the API).
EMAIL_LINK_LIFETIME = dt.timedelta(minutes=30)
MAGIC_LINK_DEFAULT_LIFETIME = dt.timedelta(hours=1)
MAGIC_LINK_MIN_SECONDS = 60
MAGIC_LINK_MAX_SECONDS = 7 * 24 * 3600
# last_seen_at moves at most this often: a write per page view would cost every page a query.
SESSION_TOUCH_EVERY = dt.timedelta(hours=1)
USER_AGENT_MAX = 300

# Where each page name leads, under the customer's portal link (``/portal/<token>``).
PORTAL_PAGE_SUFFIXES: dict[str, str] = {
    SignInPage.HOME: "",
    SignInPage.INVOICES: "/invoices",
    SignInPage.CREDIT_NOTES: "/credit-notes",
    SignInPage.PAYMENTS: "/payments",
    SignInPage.STATEMENT: "/statement",
    SignInPage.BILLING_DETAILS: "/billing-details",
}


class SignInLinkInvalid(ApplicationError):
    """A used, expired, unknown or forged link: every case alike (faces answer not-found)."""

    def __init__(self) -> None:
        super().__init__("not_found", "This sign-in link is not valid.", None, 404)


class SignInLinkRefused(ApplicationError):
    """A link that cannot be made as asked (a bad page, an invoice of someone else)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__("invalid", message, field, 400)


@dataclass(frozen=True)
class OpenedSession:
    session: CustomerSession
    # The cookie value: the selector plus its keyed MAC; only the selector is stored.
    token: str


@dataclass(frozen=True)
class SignedIn:
    opened: OpenedSession
    link: SignInLink
    # Where the customer goes next: a path on this site, never a URL from outside.
    location: str


# Sessions ---------------------------------------------------------------------------------


def session_token(session: CustomerSession) -> str:
    return make_token(session.selector, purpose=SESSION_PURPOSE)


def session_open(
    *,
    customer: Customer,
    opened_by: str,
    invoice: Invoice | None = None,
    lifetime: dt.timedelta = SESSION_MAX_AGE,
    ip: str | None = None,
    user_agent: str = "",
    replaces: CustomerSession | None = None,
) -> OpenedSession:
    """A new session (a new selector: the cookie rotates at every sign-in); the session the
    browser held before, if any, ends. ``invoice``: good for that invoice only."""
    now = timezone.now()
    if replaces is not None:
        session_revoke(session=replaces)
    session = CustomerSession.objects.create(
        company_id=customer.company_id,
        customer=customer,
        invoice=invoice,
        selector=new_selector(),
        opened_by=opened_by,
        ip=ip,
        user_agent=(user_agent or "")[:USER_AGENT_MAX],
        last_seen_at=now,
        expires_at=now + min(lifetime, SESSION_MAX_AGE),
    )
    return OpenedSession(session=session, token=session_token(session))


def session_touch(*, session: CustomerSession) -> None:
    """Mark the session used now (it ends after SESSION_IDLE without use); a conditional
    UPDATE at most once per SESSION_TOUCH_EVERY."""
    now = timezone.now()
    if session.last_seen_at > now - SESSION_TOUCH_EVERY:
        return
    CustomerSession.objects.filter(
        pk=session.pk, last_seen_at__lte=now - SESSION_TOUCH_EVERY
    ).update(last_seen_at=now)
    session.last_seen_at = now


def session_revoke(*, session: CustomerSession) -> bool:
    changed = CustomerSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return bool(changed)


def session_revoked_record(*, session: CustomerSession, actor: Actor = None) -> None:
    events.record(
        company=session.company,
        action="customer.session_ended",
        object_id=session.customer.public_id,
        actor=actor,
        opened_by=session.opened_by,
    )


@transaction.atomic
def customer_sign_out_everywhere(
    *, customer: Customer, actor: Actor = None, reason: str = "staff"
) -> int:
    """End every session of the customer, and every sign-in link not used yet. Audited with
    the number of sessions ended; returns it."""
    now = timezone.now()
    ended = CustomerSession.objects.filter(customer=customer, revoked_at__isnull=True).update(
        revoked_at=now
    )
    SignInLink.objects.filter(customer=customer, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    events.record(
        company=customer.company,
        action="customer.signed_out_everywhere",
        object_id=customer.public_id,
        actor=actor,
        sessions=ended,
        reason=reason,
    )
    return ended


# Sign-in links ----------------------------------------------------------------------------


def sign_in_link_url(link: SignInLink) -> str:
    return f"{company_origin(link.company)}/sign-in/{sign_in_link_token(link)}"


def sign_in_link_token(link: SignInLink) -> str:
    return make_token(link.selector, purpose=SIGN_IN_PURPOSE)


def sign_in_link_create(
    *,
    customer: Customer,
    source: str,
    page: str = SignInPage.HOME,
    invoice: Invoice | None = None,
    lifetime: dt.timedelta = EMAIL_LINK_LIFETIME,
    actor: Actor = None,
) -> SignInLink:
    """A one-time link for ``customer`` leading to ``page`` (``invoice`` for page "invoice":
    an issued invoice of this customer). Audited (never with the token)."""
    if page not in SignInPage.values:
        raise SignInLinkRefused("Unknown page.", "redirect_to")
    if page == SignInPage.INVOICE:
        if invoice is None:
            raise SignInLinkRefused("Name the invoice to lead to.", "invoice")
        if invoice.customer_id != customer.pk or invoice.status == InvoiceStatus.DRAFT:
            raise SignInLinkRefused("No such invoice of this customer.", "invoice")
    else:
        invoice = None
    link = SignInLink.objects.create(
        company_id=customer.company_id,
        customer=customer,
        page=page,
        invoice=invoice,
        source=source,
        selector=new_selector(),
        expires_at=timezone.now() + lifetime,
    )
    events.record(
        company=customer.company,
        action="customer.sign_in_link_created",
        object_id=customer.public_id,
        actor=actor,
        source=source,
        page=page,
        expires_at=link.expires_at.isoformat(),
    )
    return link


def sign_in_location(link: SignInLink) -> str:
    """The path the link leads to, through the customer's live portal link (or the invoice's
    share link), made if there is none: signing in proves more than holding such a link."""
    if link.page == SignInPage.INVOICE and link.invoice is not None:
        share = share_links.share_link_create(invoice=link.invoice)
        anchor = "#comments" if link.source == SignInSource.COMMENTS else ""
        return f"/invoice/{share_links.share_link_token(share)}{anchor}"
    portal = share_links.portal_link_create(customer=link.customer)
    suffix = PORTAL_PAGE_SUFFIXES.get(link.page, "")
    return f"/portal/{share_links.share_link_token(portal)}{suffix}"


@transaction.atomic
def sign_in_link_redeem(
    *,
    token: str,
    ip: str | None = None,
    user_agent: str = "",
    replaces: CustomerSession | None = None,
    invoice: Invoice | None = None,
) -> SignedIn:
    """Use the link once: a conditional UPDATE claims it, so of two concurrent posts exactly
    one signs in and the other gets SignInLinkInvalid, as do used, expired, unknown and forged
    links. ``invoice``: the link must lead to that invoice (the comment thread's own route)."""
    selector = parse_token(token or "", purpose=SIGN_IN_PURPOSE)
    if selector is None:
        raise SignInLinkInvalid
    now = timezone.now()
    claim = SignInLink.objects.filter(selector=selector, used_at__isnull=True, expires_at__gt=now)
    if invoice is not None:
        claim = claim.filter(invoice=invoice)
    if claim.update(used_at=now) != 1:
        raise SignInLinkInvalid
    link = SignInLink.objects.select_related("company", "customer", "invoice").get(
        selector=selector
    )
    opened_by: dict[str, str] = {
        SignInSource.EMAIL: OpenedBy.EMAIL_LINK,
        SignInSource.API: OpenedBy.MAGIC_LINK,
        SignInSource.COMMENTS: OpenedBy.COMMENT_LINK,
    }
    if replaces is not None and replaces.company_id != link.company_id:
        # Another company's session stays as it is: the two never meet.
        replaces = None
    opened = session_open(
        customer=link.customer,
        opened_by=opened_by[link.source],
        ip=ip,
        user_agent=user_agent,
        replaces=replaces,
    )
    events.record(
        company=link.company,
        action="customer.signed_in",
        object_id=link.customer.public_id,
        via=link.source,
        page=link.page,
        ip=ip,
    )
    return SignedIn(opened=opened, link=link, location=sign_in_location(link))
