"""The WSGI application the page benchmark serves: the project itself (same settings, same
middleware) plus two anchors measured by the same server process:

- ``/bench/plain``: a plain ``HttpResponse``, what the server and the middleware cost alone;
- ``/bench/bare/<token>``: a bare two-query invoice page, what a minimal Django page for the
  same share link costs: the token's MAC checked, one ORM query for the link with its invoice,
  company and customer (``select_related``), one for the lines, and a small Django template
  with the number, the amounts and the lines.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template import engines
from django.urls import URLPattern, URLResolver, include, path

# Set up Django first: the project's URLconf imports models.
application = get_wsgi_application()

from invoices.models import ShareLink  # noqa: E402
from invoices.money import format_money  # noqa: E402
from invoices.tokens import SHARE_LINK_PURPOSE, parse_token  # noqa: E402

BARE_TEMPLATE = engines["django"].from_string(
    """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Invoice {{ invoice.number }}</title></head>
<body>
<h1>Invoice {{ invoice.number }}</h1>
<p>{{ invoice.company.name }}, for {{ invoice.customer.name }}</p>
<p>Issued {{ invoice.issue_date }}, due {{ invoice.due_date }}</p>
<table>
<thead><tr><th>Description</th><th>Quantity</th><th>Amount</th></tr></thead>
<tbody>
{% for line in lines %}<tr><td>{{ line.description }}</td><td>{{ line.quantity }}</td><td>{{ line.money }}</td></tr>
{% endfor %}</tbody>
</table>
<p>Total {{ total }}; paid {{ paid }}; due {{ due }}</p>
</body>
</html>
"""
)


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


def bare(request: HttpRequest, token: str) -> HttpResponse:
    selector = parse_token(token, purpose=SHARE_LINK_PURPOSE)
    if selector is None:
        return HttpResponseNotFound()
    link = (
        ShareLink.objects.select_related("invoice__company", "invoice__customer")
        .filter(selector=selector, kind="invoice", revoked_at__isnull=True)
        .first()
    )
    if link is None or link.invoice is None:
        return HttpResponseNotFound()
    invoice = link.invoice
    currency = invoice.currency
    lines = [
        {
            "description": line.description,
            "quantity": line.quantity,
            "money": format_money(line.amount, currency, "en"),
        }
        for line in invoice.lines.all()
    ]
    context = {
        "invoice": invoice,
        "lines": lines,
        "total": format_money(invoice.total, currency, "en"),
        "paid": format_money(invoice.amount_paid, currency, "en"),
        "due": format_money(invoice.total - invoice.amount_paid, currency, "en"),
    }
    return HttpResponse(BARE_TEMPLATE.render(context, request))


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/plain", plain),
    path("bench/bare/<str:token>", bare),
    path("", include("portal_project.urls")),
]

# Serve these URLs (the project's plus the anchors) with everything else unchanged.
settings.ROOT_URLCONF = __name__
