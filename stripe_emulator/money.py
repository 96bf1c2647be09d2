"""Currency facts the emulator needs: decimal places and Stripe's minimum charge amounts.

Amounts are integers in the currency's minor unit everywhere (1250 = 12.50 USD), as in Stripe.
"""

from __future__ import annotations

# fmt: off
ZERO_DECIMAL = frozenset((
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
    "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
))
# fmt: on
THREE_DECIMAL = frozenset(("bhd", "jod", "kwd", "omr", "tnd"))

# Stripe's documented minimums (in minor units) for the currencies we are likely to see; other
# currencies only need a positive amount here.
_MINIMUM = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "chf": 50,
    "cad": 50,
    "aud": 50,
    "nzd": 50,
    "sek": 300,
    "nok": 300,
    "dkk": 250,
    "pln": 200,
    "czk": 1500,
    "jpy": 50,
    "mxn": 1000,
    "brl": 50,
    "inr": 50,
    "sgd": 50,
    "hkd": 400,
}


def decimals(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def minimum_amount(currency: str) -> int:
    return _MINIMUM.get(currency, 1)


def format_amount(amount: int, currency: str) -> str:
    """``1250, "usd"`` -> ``"12.50 USD"`` (for the hosted page and error messages)."""
    places = decimals(currency)
    if places == 0:
        return f"{amount} {currency.upper()}"
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**places)
    return f"{sign}{major:,}.{minor:0{places}d} {currency.upper()}"
