"""``/``: a small landing page that says what is where. Under DEBUG (``make run``) it also lists
a few live links of the demo company, so a first visit finds a customer page in one click; a
production server never shows them."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from invoices.customization import scope
from invoices.models import ShareLink, ShareLinkKind
from invoices.services import share_link_token
from portal.site.views import company_entry

DEMO_COMPANY = "acme"
DEMO_INVOICE_LINKS = 3


def _demo_links() -> list[tuple[str, str]]:
    """(label, path) of the demo company's live links: a few invoices and one portal. Reads
    only: a GET never creates a link (seed_demo does)."""
    live = (
        ShareLink.objects.filter(company__slug=DEMO_COMPANY, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .select_related("invoice", "customer")
    )
    links = [
        (f"{link.invoice.number}", f"/invoice/{share_link_token(link)}")
        for link in live.filter(kind=ShareLinkKind.INVOICE, invoice__isnull=False).order_by("pk")[
            :DEMO_INVOICE_LINKS
        ]
        if link.invoice is not None
    ]
    portal = live.filter(kind=ShareLinkKind.PORTAL).order_by("pk").first()
    if portal is not None:
        links.append((portal.customer.name, f"/portal/{share_link_token(portal)}"))
    return links


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    site = scope.host_site()
    if site is not None:
        return company_entry(request, site)  # a company's own domain: its portal entry
    context = {"demo_links": _demo_links() if settings.DEBUG else []}
    return render(request, "landing.html", context)
