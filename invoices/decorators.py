"""The one way a customer page opens an invoice from its share token."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from core.http import not_found
from core.i18n import activate_language
from invoices.models import Invoice
from invoices.selectors import Annotations, customer_languages, invoice_for_share_token

# A view taking (request, invoice, token, **kwargs): sync, or async for streams.
ShareLinkView = Callable[..., Any]


def share_link_page_annotated(annotate: Annotations) -> Callable[[ShareLinkView], ShareLinkView]:
    """``share_link_page`` whose one lookup also reads ``annotate`` (set on the invoice; see
    ``invoices.selectors.Annotations``): what a page needs besides the rows, no query more."""
    return lambda view: _share_link_view(view, annotate)


def share_link_page(view: ShareLinkView) -> ShareLinkView:
    """Turn the URL's ``token`` into its invoice, or answer the not-found page (the same bytes
    for every bad token), and switch to the customer's language for the response.

    The view is called as ``view(request, invoice, token, **kwargs)``; the negotiated
    language is ``request.LANGUAGE_CODE``. One query for a well-formed token, none for a
    forged one. Async views (the comment stream) are wrapped alike, the lookup run in a thread.
    """
    return _share_link_view(view, {})


def _share_link_view(view: ShareLinkView, annotate: Annotations) -> ShareLinkView:
    if inspect.iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request: HttpRequest, token: str, **kwargs: Any) -> Any:
            invoice: Invoice | None = await sync_to_async(invoice_for_share_token)(
                token, annotate=annotate
            )
            if invoice is None:
                return not_found(request)
            _activate(request, invoice)
            return await view(request, invoice, token, **kwargs)

        return async_wrapper

    @wraps(view)
    def wrapper(request: HttpRequest, token: str, **kwargs: Any) -> HttpResponse:
        invoice: Invoice | None = invoice_for_share_token(token, annotate=annotate)
        if invoice is None:
            return not_found(request)
        _activate(request, invoice)
        return view(request, invoice, token, **kwargs)

    return wrapper


def _activate(request: HttpRequest, invoice: Invoice) -> None:
    activate_language(request, preferred=customer_languages(invoice.customer, invoice.company))
