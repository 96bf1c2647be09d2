"""The sign-in email: what someone who typed an address on a company's portal entry receives.

Built and sent in Celery (``tasks.send_sign_in_email``), never in the request: the answer to
the request is the same page in the same time whether or not the address is a customer's. An
address no customer of the company has gets nothing. Several customers with that address get
one email with a link for each, so the person chooses which account to open.

A sign-in email is not a category a customer can turn off (they asked for it just now), so it
carries no unsubscribe headers and skips the preferences.
"""

from __future__ import annotations

import logging

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from invoices import events
from invoices.customer_sessions import selectors as session_selectors
from invoices.customer_sessions import services as sessions
from invoices.customer_sessions.models import SignInSource
from invoices.models import Company
from preferences.emails import compose_email, email_branding

logger = logging.getLogger(__name__)

# At most this many accounts in one email (the company's customers sharing one address).
MAX_ACCOUNTS = 20


def sign_in_email_send(*, company_id: int, email: str, language: str) -> int:
    """Email sign-in links for the company's customers whose address is ``email`` (any case).
    Returns how many links went out (0: no such customer, nothing sent)."""
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        return 0
    customers = session_selectors.customers_for_sign_in_email(company=company, email=email)[
        :MAX_ACCOUNTS
    ]
    if not customers:
        events.record(company=company, action="customer.sign_in_email_unknown")
        return 0
    links = [
        (customer, sessions.sign_in_link_create(customer=customer, source=SignInSource.EMAIL))
        for customer in customers
    ]
    accounts = [
        {"name": customer.name, "url": sessions.sign_in_link_url(link)} for customer, link in links
    ]
    message = build_sign_in_email(
        company=company, to=customers[0].email, accounts=accounts, language=language
    )
    message.send(fail_silently=False)
    events.record(
        company=company,
        action="customer.sign_in_email_sent",
        object_id=customers[0].public_id,
        accounts=len(accounts),
        language=language,
    )
    return len(accounts)


def build_sign_in_email(
    *, company: Company, to: str, accounts: list[dict[str, str]], language: str
) -> EmailMultiAlternatives:
    logo, branding = email_branding(company)
    with translation.override(language):
        subject = _("Sign in to %(company)s") % {"company": company.name}
        context = {
            "company": company,
            "accounts": accounts,
            "subject": subject,
            "language": language,
            **branding,
        }
        text = render_to_string("emails/sign_in.txt", context)
        html = render_to_string("emails/sign_in.html", context)
    return compose_email(
        company=company,
        to=to,
        subject=subject,
        text=text,
        html=html,
        headers={"Content-Language": language, "Auto-Submitted": "auto-generated"},
        logo=logo,
    )
