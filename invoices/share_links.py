"""Share links: the no-login URLs of an invoice (``/invoice/<token>``) and of a customer's
portal (``/portal/<token>``). A link stores a selector; its token is the selector with a MAC
(``invoices.tokens``), so a stored link is never usable as it is.

``invoices.services`` offers these to the rest of the project; the parts of this app that
``invoices.services`` itself calls (customer sign-in sessions) import them from here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import ApplicationError
from invoices import events
from invoices.customization.domains import company_origin
from invoices.events import Actor, acting_user
from invoices.models import Company, Customer, Invoice, InvoiceStatus, ShareLink, ShareLinkKind
from invoices.tokens import SHARE_LINK_PURPOSE, make_token, new_selector


def share_link_url(link: ShareLink) -> str:
    """The link's absolute URL, on the company's own domain when it has one."""
    path = "invoice" if link.kind == ShareLinkKind.INVOICE else "portal"
    return f"{company_origin(link.company)}/{path}/{share_link_token(link)}"


class LinkExpiryInPast(ApplicationError):
    """A link asked to expire at a moment already gone: it would be dead on arrival."""

    def __init__(self) -> None:
        super().__init__(
            "expires_at_in_past", "The link's expiry must be in the future.", "expires_at", 400
        )


def share_link_expiry_check(expires_at: dt.datetime | None) -> None:
    """Refuse an expiry that is not in the future (LinkExpiryInPast); None means never."""
    if expires_at is None:
        return
    if timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at, dt.UTC)
    if expires_at <= timezone.now():
        raise LinkExpiryInPast


def share_link_token(link: ShareLink) -> str:
    return share_token_of(link.selector)


def share_token_of(selector: str) -> str:
    """The usable token of the share link whose stored selector is ``selector``."""
    return make_token(selector, purpose=SHARE_LINK_PURPOSE)


def _live_link_ensure(
    *,
    kind: str,
    company: Company,
    customer: Customer,
    invoice: Invoice | None,
    actor: Actor,
    expires_at: dt.datetime | None,
) -> ShareLink:
    """The unrevoked link of this kind for the invoice (or the customer's portal), created if
    there is none. An expired one is revoked first so a new one can exist. The caller holds a
    row lock on the invoice or customer, so two concurrent "share" calls return one link."""
    match = (
        Q(kind=kind, invoice=invoice) if invoice is not None else Q(kind=kind, customer=customer)
    )
    link = ShareLink.objects.filter(match, revoked_at__isnull=True).first()
    if link is not None and link.expires_at is not None and link.expires_at <= timezone.now():
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        link = None
    if link is None:
        link = ShareLink.objects.create(
            kind=kind,
            company=company,
            customer=customer,
            invoice=invoice,
            selector=new_selector(),
            created_by=acting_user(actor),
            expires_at=expires_at,
        )
        events.record(
            company=company,
            action=f"{'share' if invoice is not None else 'portal'}_link.created",
            object_id=invoice.public_id if invoice is not None else customer.public_id,
            actor=actor,
        )
    return link


@transaction.atomic
def share_link_create(
    *, invoice: Invoice, actor: Actor = None, expires_at: dt.datetime | None = None
) -> ShareLink:
    """The invoice's live share link, created if there is none (so sharing twice gives the
    same URL). Drafts cannot be shared; an expiry in the past is refused (LinkExpiryInPast)."""
    share_link_expiry_check(expires_at)
    if invoice.status == InvoiceStatus.DRAFT:
        raise ValueError("A draft invoice cannot be shared; finalize it first.")
    Invoice.objects.select_for_update().only("id").get(pk=invoice.pk)
    return _live_link_ensure(
        kind=ShareLinkKind.INVOICE,
        company=invoice.company,
        customer=invoice.customer,
        invoice=invoice,
        actor=actor,
        expires_at=expires_at,
    )


@transaction.atomic
def portal_link_create(
    *, customer: Customer, actor: Actor = None, expires_at: dt.datetime | None = None
) -> ShareLink:
    """The customer's live portal link, created if there is none; an expiry in the past is
    refused (LinkExpiryInPast)."""
    share_link_expiry_check(expires_at)
    Customer.objects.select_for_update().only("id").get(pk=customer.pk)
    return _live_link_ensure(
        kind=ShareLinkKind.PORTAL,
        company=customer.company,
        customer=customer,
        invoice=None,
        actor=actor,
        expires_at=expires_at,
    )


def share_links_for_portal(*, invoices: Sequence[Invoice]) -> dict[int, ShareLink]:
    """The live share link of each (non-draft) invoice a customer's portal lists, created where
    missing, so every portal row links to its own ``/invoice/<token>`` page. The portal token
    already lets its holder see these invoices, so this exposes nothing new.

    Constant queries whatever the number of invoices: one read when every link exists; on a
    first visit also one revoke of expired links, one insert and one re-read (a concurrent
    portal view may have inserted first: the unique constraint keeps one live link each).
    """
    wanted = {inv.pk: inv for inv in invoices if inv.status != InvoiceStatus.DRAFT}
    if not wanted:
        return {}
    now = timezone.now()
    unrevoked = ShareLink.objects.filter(
        kind=ShareLinkKind.INVOICE, invoice_id__in=wanted, revoked_at__isnull=True
    ).only("id", "kind", "selector", "invoice_id", "expires_at")
    links: dict[int, ShareLink] = {}
    expired: list[int] = []
    for link in unrevoked:
        assert link.invoice_id is not None
        if link.expires_at is not None and link.expires_at <= now:
            expired.append(link.pk)
        else:
            links[link.invoice_id] = link
    missing = [pk for pk in wanted if pk not in links]
    if not missing:
        # The usual case: a read only, no transaction (portal views are frequent).
        return links
    with transaction.atomic():
        if expired:
            ShareLink.objects.filter(pk__in=expired).update(revoked_at=now)
        ShareLink.objects.bulk_create(
            [
                ShareLink(
                    kind=ShareLinkKind.INVOICE,
                    company_id=wanted[pk].company_id,
                    customer_id=wanted[pk].customer_id,
                    invoice_id=pk,
                    selector=new_selector(),
                )
                for pk in missing
            ],
            ignore_conflicts=True,
        )
    for link in unrevoked.filter(invoice_id__in=missing):
        assert link.invoice_id is not None
        links[link.invoice_id] = link
    return links


def _links_revoke(*, match: Q, company: Company, action: str, object_id: str, actor: Actor) -> int:
    revoked = ShareLink.objects.filter(match, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    events.record(company=company, action=action, object_id=object_id, actor=actor)
    return revoked


@transaction.atomic
def share_link_revoke(*, invoice: Invoice, actor: Actor = None) -> int:
    """Revoke the invoice's link: its URL answers 404 from now on."""
    return _links_revoke(
        match=Q(kind=ShareLinkKind.INVOICE, invoice=invoice),
        company=invoice.company,
        action="share_link.revoked",
        object_id=invoice.public_id,
        actor=actor,
    )


@transaction.atomic
def portal_link_revoke(*, customer: Customer, actor: Actor = None) -> int:
    """Revoke the customer's portal link: its URL answers 404 from now on."""
    return _links_revoke(
        match=Q(kind=ShareLinkKind.PORTAL, customer=customer),
        company=customer.company,
        action="portal_link.revoked",
        object_id=customer.public_id,
        actor=actor,
    )
