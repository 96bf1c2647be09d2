"""Money: currencies, Stripe's limits, parsing what customers type, and formatting.

Every amount in this project is an ``int`` in the currency's minor unit (cents for USD, yen
for JPY, fils for KWD: ``1250`` is 12.50 USD, ``1250`` JPY is ¥1,250). It is the very integer
Stripe's API takes and sends back, so amounts cross the Stripe boundary, webhooks and our own
API without conversion. ``Decimal`` appears only at the edges (typed input, display, the one
rounding rule); floats never, because they cannot hold 0.10 exactly.

Pure Python and Babel, no Django: the invoice page, the PDF, the API and payments import it.
"""

from __future__ import annotations

import copy
import functools
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Final

from babel import Locale
from babel.core import UnknownLocaleError
from babel.numbers import (
    NumberPattern,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

from core.errors import ApplicationError

__all__ = [
    "CURRENCY_EXPONENTS",
    "MAX_DIGITS",
    "AmountError",
    "UnknownCurrency",
    "UnknownLocale",
    "amount_step",
    "decimal_symbol",
    "exponent",
    "format_amount",
    "format_amount_for_input",
    "format_money",
    "minimum_charge",
    "normalize_currency",
    "parse_amount",
    "round_half_up",
    "to_major",
    "to_minor",
]


class UnknownCurrency(ValueError):
    """A currency code that is not in CURRENCY_EXPONENTS (Stripe cannot charge in it)."""

    def __init__(self, currency: object) -> None:
        super().__init__(f"Unknown currency: {currency!r}")
        self.currency = currency


class UnknownLocale(ValueError):
    """A locale identifier Babel does not know; a ValueError like everything else here."""

    def __init__(self, locale: object) -> None:
        super().__init__(f"Unknown locale: {locale!r}")
        self.locale = locale


class AmountError(ApplicationError, ValueError):
    """A typed amount we refuse. ``code`` is for programs, ``message`` is safe to show; it
    belongs next to the amount the person typed (a 400)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, "amount", 400)


# --- Currencies -------------------------------------------------------------------------------
# Stripe's presentment currencies, with the exponent Stripe's API uses for each (which is the
# ISO 4217 one except where Stripe says otherwise). Special cases, all decided so that our
# integer is always the integer Stripe expects:
# - isk: ISO says 0 decimals and Stripe charges whole krónur, but for backwards compatibility its
#   API still takes ISK with two decimals, and the amount must be divisible by 100. We keep 2
#   and amount_step("isk") is 100. Side effect: ISK displays as "ISK 1,234.00".
# - huf, twd: Stripe treats them as zero-decimal for payouts only; charges take two decimals.
#   We never create payouts, so 2.
# - ugx: zero-decimal for charges (it is on Stripe's zero-decimal list; ISO agrees). Stripe's
#   special handling concerns payouts, which we never create. So 0.
# - Three-decimal currencies: the API takes three decimals but Stripe's partners require the
#   last digit to be 0, hence amount_step() == 10 for them.
# Deliberately absent: xcg (the Caribbean guilder replacing ang) until Stripe lists it, and
# retired codes (hrk, sll, vef, ...). Adding a currency is adding it to one of these sets.
_ZERO_DECIMAL: Final = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)
_THREE_DECIMAL: Final = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
_TWO_DECIMAL: Final = frozenset(
    {"usd", "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn"}
    | {"bam", "bbd", "bdt", "bgn", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd"}
    | {"cad", "cdf", "chf", "cny", "cop", "crc", "cve", "czk", "dkk", "dop", "dzd"}
    | {"egp", "etb", "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gtq", "gyd"}
    | {"hkd", "hnl", "htg", "huf", "idr", "ils", "inr", "isk", "jmd"}
    | {"kes", "kgs", "khr", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl"}
    | {"mad", "mdl", "mkd", "mmk", "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn"}
    | {"nad", "ngn", "nio", "nok", "npr", "nzd", "pab", "pen", "pgk", "php", "pkr", "pln"}
    | {"qar", "ron", "rsd", "rub", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos"}
    | {"srd", "std", "szl", "thb", "tjs", "top", "try", "ttd", "twd", "tzs", "uah", "uyu"}
    | {"uzs", "wst", "xcd", "yer", "zar", "zmw"}
)

# Read-only so no caller can "fix" a currency for everyone at run time.
CURRENCY_EXPONENTS: Final[Mapping[str, int]] = MappingProxyType(
    {
        **dict.fromkeys(sorted(_TWO_DECIMAL), 2),
        **dict.fromkeys(sorted(_ZERO_DECIMAL), 0),
        **dict.fromkeys(sorted(_THREE_DECIMAL), 3),
    }
)


def normalize_currency(currency: str) -> str:
    """The lower-case code ("USD" -> "usd"); UnknownCurrency if Stripe cannot charge in it."""
    code = currency.lower() if isinstance(currency, str) else None
    if code is None or code not in CURRENCY_EXPONENTS:
        raise UnknownCurrency(currency)
    return code


def currency_choices() -> list[tuple[str, str]]:
    """Every supported currency for a form's choice: stored lower-case, shown upper-case."""
    return [(code, code.upper()) for code in sorted(CURRENCY_EXPONENTS)]


def exponent(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit: 2 for usd, 0 for jpy, 3 for kwd."""
    return CURRENCY_EXPONENTS[normalize_currency(currency)]


# --- Stripe's limits --------------------------------------------------------------------------
# Stripe's documented minimum charge per currency, in minor units. Stripe checks the minimum in
# the account's settlement currency, so a charge in another currency must *convert* to at least
# that: these are floors that hold when presentment and settlement currency agree, and
# payments must still turn Stripe's "amount_too_small" into a readable error.
_STRIPE_MINIMUMS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "usd": 50,
        "aed": 200,
        "aud": 50,
        "bgn": 100,
        "brl": 50,
        "cad": 50,
        "chf": 50,
        "czk": 1500,
        "dkk": 250,
        "eur": 50,
        "gbp": 30,
        "hkd": 400,
        "huf": 17500,
        "inr": 50,
        "jpy": 50,
        "mxn": 1000,
        "myr": 200,
        "nok": 300,
        "nzd": 50,
        "pln": 200,
        "ron": 200,
        "sek": 300,
        "sgd": 50,
        "thb": 1000,
        # Stripe documents no minimum for the three-decimal currencies. Ours: a round amount
        # just above 0.50 USD, and a multiple of amount_step() (10). bhd, jod and omr are
        # pegged to the USD (1 BHD = 2.66 USD, 1 JOD = 1.41 USD, 1 OMR = 2.60 USD), so these
        # hold; kwd (about 3.25 USD) and tnd (about 0.33 USD) float, so they have more margin.
        "bhd": 200,
        "jod": 400,
        "kwd": 200,
        "omr": 200,
        "tnd": 2000,
    }
)


def amount_step(currency: str) -> int:
    """The smallest increment Stripe accepts, in minor units: every charge is a multiple of it.

    1 for most currencies; 10 for three-decimal ones (Stripe requires the last digit to be 0);
    100 for isk (whole krónur, written with two decimals; see CURRENCY_EXPONENTS).
    parse_amount() does not enforce it: the payment rules check it and say why.
    """
    code = normalize_currency(currency)
    if code == "isk":
        return 100
    return 10 if CURRENCY_EXPONENTS[code] == 3 else 1


def minimum_charge(currency: str) -> int:
    """Smallest amount Stripe charges in ``currency``, in minor units.

    From Stripe's table where it has an entry; otherwise 0.50 of a major unit (Stripe's own
    baseline is 0.50 USD), rounded up to a whole minor unit and to amount_step(): 50 for
    two-decimal, 1 for zero-decimal, 100 for isk. That default is only a floor for currencies
    Stripe converts at charge time (see _STRIPE_MINIMUMS).
    """
    code = normalize_currency(currency)
    if code in _STRIPE_MINIMUMS:
        return _STRIPE_MINIMUMS[code]
    half_major = -(-5 * _ten_to(CURRENCY_EXPONENTS[code]) // 10)  # ceil(0.5 * 10**exponent)
    step = amount_step(code)
    return -(-half_major // step) * step


# --- Exact conversions ------------------------------------------------------------------------


def _ten_to(power: int) -> int:
    # mypy types int ** int as Any (a negative power gives a float); ours are never negative.
    result: int = 10**power
    return result


def _require_int(amount_minor: int) -> None:
    # bool is an int subclass and a float sneaking in is exactly the bug this module prevents.
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError(f"amounts are int minor units, not {type(amount_minor).__name__}")


def _require_decimal(value: Decimal | int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"expected Decimal or int, not {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite():
        raise AmountError("invalid", "The amount must be a finite number.")
    return value


def to_major(amount_minor: int, currency: str) -> Decimal:
    """``1250, "usd"`` -> ``Decimal("12.50")``: exact, with exactly exponent() decimals."""
    _require_int(amount_minor)
    digits = tuple(int(digit) for digit in str(abs(amount_minor)))
    # Built from its digits, not by division: no context precision, no rounding, ever.
    return Decimal((int(amount_minor < 0), digits, -exponent(currency)))


def to_minor(amount_major: Decimal | int, currency: str) -> int:
    """``Decimal("12.5"), "usd"`` -> ``1250``; AmountError if it needs more decimals than exist."""
    value = _require_decimal(amount_major)
    sign, digits, value_exponent = value.as_tuple()
    assert isinstance(value_exponent, int)  # finite, checked above
    coefficient = int("".join(map(str, digits)))
    shift = value_exponent + exponent(currency)
    if shift >= 0:
        minor = coefficient * _ten_to(shift)
    else:
        minor, remainder = divmod(coefficient, _ten_to(-shift))
        if remainder:
            raise AmountError("too_many_decimals", _too_many_decimals_message(currency))
    return -minor if sign else minor


def round_half_up(value: Decimal | int) -> int:
    """Round an amount in (fractional) minor units to a whole minor unit: 0.5 goes up.

    ROUND_HALF_UP (ties away from zero, so a credit note mirrors its invoice) because it is
    what customers and accountants compute by hand and what Stripe's invoices do; banker's
    rounding (Python's default) would make our totals differ from theirs by a cent.
    """
    return int(_require_decimal(value).to_integral_value(rounding=ROUND_HALF_UP))


# --- Parsing what customers type --------------------------------------------------------------

# More than 15 digits is not an amount anyone owes; it also keeps every amount a safe integer
# in JavaScript (2**53 > 10**15) for the embed and API clients.
MAX_DIGITS: Final = 15
_MAX_INPUT_CHARS: Final = 64
_ASCII_DIGITS: Final = frozenset("0123456789")
# Latin digits and their symbols, printed and accepted, in every locale: also in the hundred
# or so whose CLDR default is another numbering system (arab in ar_EG, arabext in fa, deva in
# mr, beng in bn). Babel has those systems' symbols but not their digits, so asking it for the
# default system prints Latin digits with the Arabic thousands and decimal separators in
# ar_EG, a mix nobody writes; latn prints 1,234.50. One amount then reads the same on the page,
# the PDF, Stripe's pages and receipts, and 0-9 is on every keyboard. Other digits get a
# message saying so.
_NUMBERING_SYSTEM: Final = "latn"
# Group symbols people type for the one their locale prints: the keyboard's space or
# apostrophe. CLDR groups with nbsp (ru), narrow nbsp (fr) and, since CLDR 48, with the ASCII
# apostrophe in the Swiss locales, which grouped with a right single quotation mark before
# (still in the documents people copy from, and what some keyboards make of an apostrophe).
_SPACES: Final = frozenset({" ", "\u00a0", "\u202f"})
_APOSTROPHES: Final = frozenset({"'", "\u2019"})
_MINUS_SIGNS: Final = frozenset("-\u2212\u2010\u2011\u2012\u2013\u2014\ufe63\uff0d")


@functools.lru_cache(maxsize=256)
def _locale(locale: str) -> Locale:
    try:
        # Accept both "pt_BR" (Babel, Django) and "pt-BR" (HTML lang, Accept-Language).
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError, AttributeError):
        raise UnknownLocale(locale) from None


def _typed_group_symbols(group_symbol: str) -> frozenset[str]:
    """The locale's group symbol and what a keyboard makes in its place; nothing else."""
    if group_symbol.isspace():  # nbsp, narrow nbsp, or whatever space a future CLDR picks
        return _SPACES | {group_symbol}
    if group_symbol in _APOSTROPHES:
        return _APOSTROPHES
    return frozenset({group_symbol})


@functools.lru_cache(maxsize=256)
def _symbols(locale: str) -> tuple[str, frozenset[str], tuple[int, int]]:
    """Decimal symbol, accepted group symbols and (primary, secondary) grouping sizes.

    All from the locale's CLDR data for Latin digits: the very symbols and grouping
    format_amount() prints (see _Shape), so whatever it prints reads back.
    """
    loc = _locale(locale)
    decimal_symbol = get_decimal_symbol(loc, numbering_system=_NUMBERING_SYSTEM)
    group_symbol = get_group_symbol(loc, numbering_system=_NUMBERING_SYSTEM)
    return decimal_symbol, _typed_group_symbols(group_symbol), loc.decimal_formats[None].grouping


def _too_many_decimals_message(currency: str) -> str:
    places = exponent(currency)
    if places == 0:
        return f"{currency.upper()} amounts have no decimal places."
    return f"{currency.upper()} amounts have at most {places} decimal places."


def _check_characters(text: str, decimal_symbol: str, groups: frozenset[str]) -> None:
    if text[0] in _MINUS_SIGNS or text[-1] in _MINUS_SIGNS:
        raise AmountError("negative", "The amount cannot be negative.")
    for char in text:
        if char in _ASCII_DIGITS or char == decimal_symbol or char in groups:
            continue
        if unicodedata.category(char) == "Nd":
            raise AmountError("invalid", "Use the digits 0-9 for the amount.")
        # Signs, exponents ("1e3"), "NaN", "Infinity", currency symbols: all end up here.
        raise AmountError("invalid", "Enter the amount as a number, like 12.50.")


def _grouping_fits(groups: list[str], primary: int, secondary: int) -> bool:
    # "1,234,567": the last group has the primary size, the inner ones the secondary size and
    # the first one 1 to secondary digits; "1,23,4" and "12,50" (in en) do not fit.
    *head, last = groups
    first, *inner = head
    return (
        len(last) == primary
        and all(len(group) == secondary for group in inner)
        and 1 <= len(first) <= secondary
    )


def _integer_digits(integer_part: str, groups: frozenset[str], grouping: tuple[int, int]) -> str:
    """The digits of the integer part, after checking its group separators are well placed."""
    canonical = next(iter(sorted(groups)))
    for group_symbol in groups:
        integer_part = integer_part.replace(group_symbol, canonical)
    if canonical not in integer_part:
        return integer_part
    parts = integer_part.split(canonical)
    # The locale's grouping (3, 2 in en_IN), or plain thousands, which everyone understands.
    if not any(_grouping_fits(parts, *sizes) for sizes in (grouping, (3, 3))):
        raise AmountError("invalid_grouping", "The thousands separators are misplaced.")
    return "".join(parts)


def parse_amount(text: str, currency: str, locale: str = "en") -> int:
    """What a customer typed, in major units, as minor units: ``"1,234.50", "usd"`` -> 123450.

    Strict, so that no typing slip becomes a different amount: the locale's decimal symbol
    and group symbol only ("12,50" in en is refused, not read as 1250), groups where the
    locale puts them, no more decimals than the currency has, ASCII digits only, no sign, no
    exponent, at most MAX_DIGITS digits. Zero is accepted; minimums and amount_step() are the
    payment rules' business. Raises AmountError (see ``code``) or UnknownCurrency/UnknownLocale.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected str, not {type(text).__name__}")
    places = exponent(currency)
    if len(text) > _MAX_INPUT_CHARS:
        raise AmountError("too_long", "The amount is too long.")
    text = text.strip()
    if not text:
        raise AmountError("empty", "Enter an amount.")
    decimal_symbol, groups, grouping = _symbols(locale)
    _check_characters(text, decimal_symbol, groups)

    integer_part, _, fraction = text.partition(decimal_symbol)
    if decimal_symbol in fraction or any(group in fraction for group in groups):
        raise AmountError("invalid", "Enter the amount as a number, like 12.50.")
    if len(fraction) > places:
        raise AmountError("too_many_decimals", _too_many_decimals_message(currency))
    if text.endswith(decimal_symbol) or not (integer_part or fraction):
        # "12." is probably an unfinished "12.50"; we refuse to guess.
        raise AmountError("invalid", "Enter the amount as a number, like 12.50.")

    digits = _integer_digits(integer_part, groups, grouping) if integer_part else "0"
    if len(digits) + len(fraction) > MAX_DIGITS:
        raise AmountError("too_long", "The amount is too long.")
    return int(digits) * _ten_to(places) + int(fraction.ljust(places, "0") or "0")


# --- Formatting -------------------------------------------------------------------------------


def _needs_space(symbol_char: str) -> bool:
    # CLDR's currencySpacing (which Babel does not apply): a currency symbol that ends in a
    # letter ("KWD", "CHF") gets a no-break space next to the digits; "$" and "€" do not.
    return not unicodedata.category(symbol_char).startswith(("S", "Z"))


def _space_after_sign(prefix: str) -> str:
    return prefix + "\u00a0" if prefix.endswith("¤") else prefix


def _space_before_sign(suffix: str) -> str:
    return "\u00a0" + suffix if suffix.startswith("¤") else suffix


# Marks where Babel's output has the number: CLDR affixes never contain a NUL.
_NUMBER_MARK: Final = "\x00"


def _mark_number(pattern: NumberPattern) -> NumberPattern:
    # The marks go around the number, after every other change to the affixes.
    pattern.prefix = (pattern.prefix[0] + _NUMBER_MARK, pattern.prefix[1] + _NUMBER_MARK)
    pattern.suffix = (_NUMBER_MARK + pattern.suffix[0], _NUMBER_MARK + pattern.suffix[1])
    return pattern


@functools.lru_cache(maxsize=1024)
def _money_pattern(currency: str, locale: str) -> NumberPattern:
    """The locale's currency pattern with exponent(currency) decimals and CLDR spacing."""
    pattern: NumberPattern = copy.copy(_locale(locale).currency_formats["standard"])
    places = exponent(currency)
    pattern.frac_prec = (places, places)
    symbol = get_currency_symbol(currency.upper(), locale=_locale(locale))
    if _needs_space(symbol[-1]):
        positive, negative = pattern.prefix
        pattern.prefix = (_space_after_sign(positive), _space_after_sign(negative))
    if _needs_space(symbol[0]):
        positive, negative = pattern.suffix
        pattern.suffix = (_space_before_sign(positive), _space_before_sign(negative))
    return _mark_number(pattern)


@functools.lru_cache(maxsize=1024)
def _amount_pattern(currency: str, locale: str) -> NumberPattern:
    pattern: NumberPattern = copy.copy(_locale(locale).decimal_formats[None])
    places = exponent(currency)
    pattern.frac_prec = (places, places)
    return _mark_number(pattern)


def _group(integer_digits: str, pattern: NumberPattern, group_symbol: str) -> str:
    # Babel's rule (NumberPattern._format_int): pad to the pattern's minimum digits, then the
    # last group has the primary size and the others the secondary size (1,23,45,678 in en_IN).
    digits = integer_digits.rjust(pattern.int_prec[0], "0")
    size, secondary = pattern.grouping
    groups: list[str] = []
    while len(digits) > size:
        groups.insert(0, digits[-size:])
        digits, size = digits[:-size], secondary
    return group_symbol.join([digits, *groups])


@dataclass(frozen=True)
class _Shape:
    """What a marked pattern makes of any amount of one currency in one locale: the text around
    the number (positive and negative), the symbols and the grouping. Formatting an amount is
    then string work only; Babel runs once per currency and locale (statements format
    thousands of amounts a page).

    The digits are grouped here, never by Babel: after putting the digits between prefix and
    suffix, Babel strips CLDR's quoting ('...') from the whole string, so it also eats pairs of
    ASCII apostrophes among the digits: with the Swiss group symbol (CLDR 48 on)
    1'000'000'000.00 came out as 1000000'000.00, which misstates the amount and which
    parse_amount() rightly refuses.
    """

    prefixes: tuple[str, str]  # (positive, negative)
    suffixes: tuple[str, str]
    decimal_symbol: str
    group_symbol: str
    pattern: NumberPattern
    places: int

    def format(self, amount_minor: int) -> str:
        negative = amount_minor < 0
        whole, fraction = divmod(-amount_minor if negative else amount_minor, _ten_to(self.places))
        number = _group(str(whole), self.pattern, self.group_symbol)
        if self.places:
            number += self.decimal_symbol + str(fraction).rjust(self.places, "0")
        return self.prefixes[negative] + number + self.suffixes[negative]


@functools.lru_cache(maxsize=2048)
def _shape(pattern_kind: str, code: str, locale: str) -> _Shape:
    """The shape of ``pattern_kind`` ("money" or "amount") for the currency and locale, read
    off _render's output for 1 and -1 (the number between the marks is replaced)."""
    pattern = (
        _money_pattern(code, locale) if pattern_kind == "money" else _amount_pattern(code, locale)
    )
    loc = _locale(locale)
    currency = code.upper() if pattern_kind == "money" else None
    sides = []
    for value in (Decimal(1), Decimal(-1)):
        rendered: str = pattern.apply(
            value,
            loc,
            currency=currency,
            currency_digits=False,
            group_separator=False,
            numbering_system=_NUMBERING_SYSTEM,
        )
        prefix, _number, suffix = rendered.split(_NUMBER_MARK)
        sides.append((prefix, suffix))
    return _Shape(
        prefixes=(sides[0][0], sides[1][0]),
        suffixes=(sides[0][1], sides[1][1]),
        decimal_symbol=get_decimal_symbol(loc, numbering_system=_NUMBERING_SYSTEM),
        group_symbol=get_group_symbol(loc, numbering_system=_NUMBERING_SYSTEM),
        pattern=pattern,
        places=exponent(code),
    )


def format_money(amount_minor: int, currency: str, locale: str) -> str:
    """``123450, "eur", "de"`` -> ``"1.234,50 €"`` (a no-break space before the €).

    Always exactly exponent(currency) decimals: our table wins where CLDR differs (CLDR shows
    afn, isk, rsd and others without decimals, but Stripe charges them in hundredths).
    Latin digits in every locale (see _NUMBERING_SYSTEM). parse_amount() refuses it as is
    (currency symbols and codes, whichever currency's, are not amounts) but reads back the
    number in it: what a customer retypes from the invoice page.
    """
    _require_int(amount_minor)
    return _shape("money", normalize_currency(currency), locale).format(amount_minor)


def format_amount(amount_minor: int, currency: str, locale: str) -> str:
    """The number alone, the locale's way: ``123450, "eur", "de"`` -> ``"1.234,50"``.

    For tables that name the currency once (PDF columns). parse_amount() reads it back, in
    every locale Babel knows, with Latin digits (see _NUMBERING_SYSTEM).
    """
    _require_int(amount_minor)
    return _shape("amount", normalize_currency(currency), locale).format(amount_minor)


def format_amount_for_input(amount_minor: int, currency: str, locale: str = "en") -> str:
    """``1250, "usd"`` -> ``"12.50"`` (``"12,50"`` in de): the value of an amount input, with
    the locale's decimal symbol and no grouping, as a person of that locale types it.

    parse_amount(..., locale=locale) reads it back; the "en" form is the canonical one of
    the public contract (hidden fields, API clients).
    """
    plain = format(to_major(amount_minor, currency), "f")
    if locale == "en":
        return plain
    decimal_symbol, _groups, _grouping = _symbols(locale)
    return plain.replace(".", decimal_symbol)


def decimal_symbol(locale: str) -> str:
    """The locale's decimal symbol (Latin digits), e.g. "," for de."""
    return _symbols(locale)[0]
