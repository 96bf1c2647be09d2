"""The account pages' shared frame: the customer, the page language, the company's day, and
the navigation between Home, Invoices, Credit notes, Payments and Statement.

Two tabs appear only when they have something to offer: *Documents* (when the company shared
a file the customer may see) and *Billing details* (when the company lets customers edit at
least one field). Their pages set ``show_documents`` and ``show_billing_details``; both default
to False here until those pages decide them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from core.i18n import activate_language
from invoices.document import brand_color
from invoices.models import Customer
from invoices.selectors import customer_for_portal_token, customer_languages
from invoices.timezones import company_today

# The tabs, by URL name (see portal/urls.py).
TABS = ("portal", "portal_invoices", "portal_credit_notes", "portal_payments", "statement")


@dataclass(frozen=True)
class Account:
    """Who the portal token opens, in which language, on which day of the company."""

    customer: Customer
    token: str
    lang: str
    today: dt.date


def account_for_request(request: HttpRequest, token: str) -> Account | None:
    """The account a live portal token opens (one query), its language switched on; None for
    any bad token (the caller answers ``core.http.not_found``)."""
    customer = customer_for_portal_token(token)
    if customer is None:
        return None
    company = customer.company
    lang = activate_language(request, preferred=customer_languages(customer, company))
    return Account(customer=customer, token=token, lang=lang, today=company_today(company))


def account_context(account: Account, *, active: str) -> dict[str, Any]:
    """What every account page's frame (templates/portal/_account_layout.html) reads."""
    company = account.customer.company
    return {
        "token": account.token,
        "lang": account.lang,
        "active_tab": active,
        "customer_name": account.customer.name,
        "company_name": company.name,
        "brand_color": brand_color(company),
        # Set by the documents and billing-details pages' own checks when they are present.
        "show_documents": False,
        "show_billing_details": False,
    }
