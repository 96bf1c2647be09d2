"""Locale-aware money and date filters for templates (emails, pages): Babel, in the active
language. ``{% load portal_format %}`` then ``{{ invoice.total|money:invoice.currency }}``,
``{{ invoice.due_date|local_date }}``, ``{{ invoice.amount_due|amount_input:invoice.currency }}``.
Pages that format many values build them in portal.presenters instead (one place, tested)."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.translation import get_language, to_locale

from invoices.document import date_display
from invoices.money import format_amount_for_input, format_money

register = template.Library()


def _locale() -> str:
    return to_locale(get_language() or "en")


@register.filter
def money(amount_minor: int, currency: str) -> str:
    """``123450|money:"eur"`` -> ``1.234,50 €`` in German, ``€1,234.50`` in English."""
    return format_money(int(amount_minor), currency, _locale())


@register.filter
def local_date(value: dt.date | None, format_name: str = "medium") -> str:
    if not value:
        return ""
    if format_name == "medium":
        return date_display(value, _locale())
    from babel.dates import format_date

    return format_date(value, format=format_name, locale=_locale())


@register.filter
def amount_input(amount_minor: int, currency: str) -> str:
    """The canonical value of a hidden amount field: ``1250|amount_input:"usd"`` -> ``12.50``."""
    return format_amount_for_input(int(amount_minor), currency)


@register.filter
def amount_typed(amount_minor: int, currency: str) -> str:
    """The value of an amount field a person edits, as the page's language writes it:
    ``1250|amount_typed:"usd"`` -> ``12,50`` on a German page."""
    return format_amount_for_input(int(amount_minor), currency, to_locale(get_language() or "en"))
