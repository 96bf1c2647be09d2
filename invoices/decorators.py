"""The one way a customer page opens an invoice from its share token."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from core.http import not_found
from core.i18n import activate_language
from invoices.models import Invoice
from invoices.selectors import customer_languages, invoice_for_share_token

ShareLinkView = Callable[..., HttpResponse]


def share_link_page(view: ShareLinkView) -> Callable[..., HttpResponse]:
    """Turn the URL's ``token`` into its invoice, or answer the not-found page (the same bytes
    for every bad token), and switch to the customer's language for the response.

    The view is called as ``view(request, invoice, token, **kwargs)``; the negotiated
    language is ``request.LANGUAGE_CODE``. One query for a well-formed token, none for a
    forged one.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, token: str, **kwargs: Any) -> HttpResponse:
        invoice: Invoice | None = invoice_for_share_token(token)
        if invoice is None:
            return not_found(request)
        activate_language(request, preferred=customer_languages(invoice.customer, invoice.company))
        return view(request, invoice, token, **kwargs)

    return wrapper
