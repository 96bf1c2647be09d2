"""Template helpers for the pay action: what the card on the page needs."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.template import Context
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, to_locale

from invoices.models import Invoice
from payments.rules import amount_example
from payments.selectors import publishable_key_for

register = template.Library()


@register.simple_tag
def pay_card_config(invoice: Invoice, publishable_key: str | None = None) -> dict[str, str] | None:
    """Stripe.js's URL and the company's publishable key, or None to offer Checkout only
    (no publishable key saved). A page that read the key already passes it (no query);
    otherwise one query."""
    key = publishable_key if publishable_key is not None else ""
    if publishable_key is None:
        key = publishable_key_for(company=invoice.company)
    if not key:
        return None
    return {"publishable_key": key, "js_url": settings.STRIPE_JS_URL}


@register.simple_tag
def pay_amount_example(currency: str) -> str:
    """How to type an amount of ``currency`` on this page (``12,50`` on a German page)."""
    return amount_example(currency, to_locale(get_language() or "en"))


# What the pay action reads from the page that shows it (jinja_templates/payments/_pay_action.html).
_PAY_ACTION_CONTEXT = ("token", "invoice", "pay", "pay_error", "pay_value", "stripe", "request")


@register.simple_tag(takes_context=True)
def pay_action(context: Context) -> SafeString:
    """The pay action of a page of its own (the invoice page, the pay form), card on the page
    included: the same partial as the account home's rows (rendered by Jinja2, jinja_templates/)."""
    values = {name: context.get(name) for name in _PAY_ACTION_CONTEXT}
    return mark_safe(  # noqa: S308 (rendered by Jinja2 with autoescape)
        render_to_string(
            "payments/_pay_action.html", {**values, "card_on_page": True}, using="jinja2"
        )
    )
