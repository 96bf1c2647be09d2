"""Test cards: what each card number or test PaymentMethod token does when confirmed.

The numbers and ``pm_card_*`` tokens are Stripe's documented test values, except the
"processing" card (4000 0000 0000 0259), which is the emulator's own: Stripe has no card that
stays in ``processing``, yet the app must handle that state (bank debits sit in it for days).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import StripeError

Outcome = Literal["succeeded", "declined", "processing"]


@dataclass(frozen=True)
class Card:
    number: str
    brand: str
    outcome: Outcome
    decline_code: str | None = None
    error_code: str = "card_declined"
    message: str = "Your card was declined."


VISA = Card("4242424242424242", "visa", "succeeded")
_CARDS = [
    VISA,
    Card("5555555555554444", "mastercard", "succeeded"),
    Card("4000000000000002", "visa", "declined", decline_code="generic_decline"),
    Card(
        "4000000000009995",
        "visa",
        "declined",
        decline_code="insufficient_funds",
        message="Your card has insufficient funds.",
    ),
    Card(
        "4000000000000069",
        "visa",
        "declined",
        decline_code="expired_card",
        error_code="expired_card",
        message="Your card has expired.",
    ),
    Card("4000000000000259", "visa", "processing"),
]
BY_NUMBER = {card.number: card for card in _CARDS}

TOKENS = {
    "pm_card_visa": BY_NUMBER["4242424242424242"],
    "pm_card_mastercard": BY_NUMBER["5555555555554444"],
    "pm_card_chargeDeclined": BY_NUMBER["4000000000000002"],
    "pm_card_visa_chargeDeclined": BY_NUMBER["4000000000000002"],
    "pm_card_chargeDeclinedInsufficientFunds": BY_NUMBER["4000000000009995"],
    "pm_card_visa_chargeDeclinedInsufficientFunds": BY_NUMBER["4000000000009995"],
    "pm_card_chargeDeclinedExpiredCard": BY_NUMBER["4000000000000069"],
    "pm_card_visa_chargeDeclinedExpiredCard": BY_NUMBER["4000000000000069"],
    "pm_card_processing": BY_NUMBER["4000000000000259"],
}


def card_for_number(raw: str, param: str) -> Card:
    """Any Luhn-valid number is accepted (and succeeds); others fail as Stripe.js would."""
    number = "".join(ch for ch in raw if ch.isdigit())
    if number in BY_NUMBER:
        return BY_NUMBER[number]
    if not 12 <= len(number) <= 19 or not _luhn_ok(number):
        raise StripeError(
            "Your card number is incorrect.",
            status=402,
            type="card_error",
            code="incorrect_number",
            param=param,
        )
    return Card(number, _brand(number), "succeeded")


def _luhn_ok(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "unknown"
