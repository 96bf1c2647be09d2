"""THE amount rules of an online payment: one function used by the pay form, the card
endpoint (our JSON API) and the webhook, so that what the form refuses is what the server
refuses and what a received payment is checked against.

Order of the checks (the first failure is reported, next to the amount field):
1. the currency's decimal places (parse_amount: no third decimal in USD, none in JPY);
2. the currency's step (three-decimal currencies like KWD in multiples of ten);
3. more than zero, never more than still owed;
4. a partial payment only where the invoice allows it, and then not under its
   ``minimum_payment`` (paying the whole remainder is always allowed);
5. never under Stripe's minimum charge for the currency (Stripe would refuse it).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from invoices.models import Invoice
from invoices.money import (
    AmountError,
    UnknownCurrency,
    UnknownLocale,
    amount_step,
    decimal_symbol,
    exponent,
    format_amount_for_input,
    format_money,
    minimum_charge,
    parse_amount,
    to_major,
)

__all__ = [
    "AmountError",
    "amount_example",
    "offline_amount_check",
    "payment_amount_check",
    "payment_amount_parse",
]


def _money(amount: int, invoice: Invoice, locale: str) -> str:
    return format_money(amount, invoice.currency, locale)


def payment_amount_check(
    *, invoice: Invoice, amount: int, amount_due: int | None = None, locale: str = "en"
) -> None:
    """Raise AmountError (``code``, translated ``message``) unless ``amount`` (minor units) may
    be paid on ``invoice`` now. ``amount_due`` overrides the invoice's (a locked re-read)."""
    due = invoice.amount_due if amount_due is None else amount_due
    currency = invoice.currency
    step = amount_step(currency)
    if amount <= 0:
        raise AmountError("not_positive", _("Enter an amount greater than zero."))
    if amount % step:
        raise AmountError(
            "step",
            _("%(currency)s amounts must be a multiple of %(step)s.")
            % {"currency": currency.upper(), "step": to_major(step, currency)},
        )
    if amount > due:
        if due <= 0:
            raise AmountError("nothing_due", _("Nothing is due on this invoice."))
        raise AmountError(
            "over_amount_due",
            _("You can pay at most the amount due, %(due)s.")
            % {"due": _money(due, invoice, locale)},
        )
    if amount < due:
        if not invoice.allow_partial_payments:
            raise AmountError(
                "partial_not_allowed",
                _("This invoice must be paid in full: %(due)s.")
                % {"due": _money(due, invoice, locale)},
            )
        floor = max(minimum_charge(currency), invoice.minimum_payment or 0)
        if amount < floor:
            raise AmountError(
                "below_minimum",
                _("The smallest payment accepted is %(minimum)s.")
                % {"minimum": _money(floor, invoice, locale)},
            )
    if amount < minimum_charge(currency):
        raise AmountError(
            "below_card_minimum",
            _("Card payments start at %(minimum)s; please contact us to pay this amount.")
            % {"minimum": _money(minimum_charge(currency), invoice, locale)},
        )


def _parse_typed(text: str, currency: str, locale: str) -> int:
    try:
        return parse_amount(text, currency, locale)
    except AmountError:
        if locale == "en" or decimal_symbol(locale) in text:
            raise
    return parse_amount(text, currency, "en")


def amount_example(currency: str, locale: str) -> str:
    """How an amount is typed on a page of ``locale`` (``12.50``, ``12,50``, ``1250`` for JPY)."""
    twelve_fifty = 1250 * 10 ** max(exponent(currency) - 2, 0)
    return format_amount_for_input(twelve_fifty, currency, locale)


def offline_amount_check(*, invoice: Invoice, amount: int, locale: str = "en") -> None:
    """The rules of money received outside Stripe (a bank transfer, cash, a check), and of
    credit applied to an invoice: more than zero and never more than still owed. Stripe's
    minimums and steps and the partial-payment settings concern card payments only: a partial
    bank transfer is real money and is recorded. Raises AmountError."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise AmountError("not_positive", _("Enter an amount greater than zero."))
    due = invoice.amount_due
    if amount > due:
        if due <= 0:
            raise AmountError("nothing_due", _("Nothing is due on this invoice."))
        raise AmountError(
            "over_amount_due",
            _("You can pay at most the amount due, %(due)s.")
            % {"due": _money(due, invoice, locale)},
        )


# parse_amount's messages are English; customers get these, translated.
def _parse_message(code: str, currency: str, locale: str = "en") -> str:
    messages = {
        "empty": _("Enter an amount."),
        "negative": _("The amount cannot be negative."),
        "too_long": _("The amount is too long."),
        "invalid_grouping": _("The thousands separators are misplaced."),
        "too_many_decimals": _("%(currency)s amounts have at most %(places)s decimal places."),
    }
    if code == "too_many_decimals":
        places = len(str(to_major(1, currency)).partition(".")[2])
        if places == 0:
            return _("%(currency)s amounts have no decimal places.") % {
                "currency": currency.upper()
            }
        return messages[code] % {"currency": currency.upper(), "places": places}
    return messages.get(
        code,
        _("Enter the amount as a number, like %(example)s.")
        % {"example": amount_example(currency, locale)},
    )


def payment_amount_parse(*, invoice: Invoice, text: str, locale: str = "en") -> int:
    """What the customer typed in the pay form (major units) as minor units, checked by
    payment_amount_check. Raises AmountError.

    Read in the page's locale first (``100,50`` and ``1.234,50`` on a German page). The
    contract's dot form (``100.50``) stays accepted where it cannot be ambiguous: only when
    the text holds no decimal symbol of the page's locale, so a comma on a German page is
    always a decimal comma and never silently a thousands separator."""
    try:
        amount = _parse_typed(text, invoice.currency, locale)
    except AmountError as exc:
        raise AmountError(exc.code, _parse_message(exc.code, invoice.currency, locale)) from None
    except (UnknownCurrency, UnknownLocale, TypeError):
        raise AmountError("invalid", _parse_message("invalid", invoice.currency, locale)) from None
    payment_amount_check(invoice=invoice, amount=amount, locale=locale)
    return amount


def typed_amount_parse(*, text: str, currency: str, locale: str = "en") -> int:
    """An amount typed in major units (read as payment_amount_parse reads it) as minor units,
    with no invoice to check it against (several invoices, an advance payment). Raises
    AmountError with a translated message."""
    try:
        return _parse_typed(text, currency, locale)
    except AmountError as exc:
        raise AmountError(exc.code, _parse_message(exc.code, currency, locale)) from None
    except (UnknownCurrency, UnknownLocale, TypeError):
        raise AmountError("invalid", _parse_message("invalid", currency, locale)) from None
