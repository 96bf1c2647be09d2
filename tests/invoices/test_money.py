"""invoices.money: pure functions, so no database and no Django here.

Run alone with: .venv/bin/pytest tests/invoices/test_money.py -p no:django -q
"""

from __future__ import annotations

import copy
import re
import unicodedata
from decimal import Decimal

import pytest
from babel import Locale
from babel.localedata import locale_identifiers
from babel.numbers import get_decimal_symbol, get_group_symbol
from hypothesis import given, settings
from hypothesis import strategies as st

from invoices.money import (
    CURRENCY_EXPONENTS,
    MAX_DIGITS,
    AmountError,
    UnknownCurrency,
    UnknownLocale,
    amount_step,
    exponent,
    format_amount,
    format_amount_for_input,
    format_money,
    minimum_charge,
    normalize_currency,
    parse_amount,
    round_half_up,
    to_major,
    to_minor,
)

# No example database: it would leave a .hypothesis folder in the working tree. No deadline:
# the first call in a locale loads its CLDR data, which is slow once and fast afterwards.
PROPERTY = settings(max_examples=200, deadline=None, database=None)

CURRENCIES = st.sampled_from(sorted(CURRENCY_EXPONENTS))
LOCALES = st.sampled_from(["en", "de", "fr", "es"])
# Every amount whose input form still fits in MAX_DIGITS digits (0.05 is three digits in usd).
AMOUNTS = st.integers(min_value=0, max_value=10**MAX_DIGITS - 1)
NBSP, NNBSP = "\u00a0", "\u202f"
RSQUO = "\u2019"  # the group symbol of de_CH before CLDR 48, still typed and pasted
CH_GROUP = get_group_symbol("de_CH")  # what the locked Babel prints: "'" since CLDR 48
# Every locale Babel has, over a thousand: whatever we print in any of them must read back.
ALL_LOCALES = sorted(locale_identifiers())
# Those whose CLDR default is not Latin digits (ar_EG, fa, mr, bn, my, ...); see below.
NON_LATIN_LOCALES = [
    ident for ident in ALL_LOCALES if Locale.parse(ident).default_numbering_system != "latn"
]
# Each exponent (2, 0, 3), and symbols that are a sign (€), letters (CHF) or both (US$).
ROUND_TRIP_CURRENCIES = ["usd", "eur", "chf", "jpy", "kwd"]

STRIPE_ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
    "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
}  # fmt: skip
STRIPE_THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}


def _decimal_symbol(locale: str) -> str:
    return "." if locale == "en" else ","


# --- Currencies -------------------------------------------------------------------------------


def test_it_covers_stripes_presentment_currencies() -> None:
    assert len(CURRENCY_EXPONENTS) >= 135
    assert all(len(code) == 3 and code.isascii() and code.islower() for code in CURRENCY_EXPONENTS)
    assert {code for code, places in CURRENCY_EXPONENTS.items() if places == 0} == (
        STRIPE_ZERO_DECIMAL
    )
    assert {code for code, places in CURRENCY_EXPONENTS.items() if places == 3} == (
        STRIPE_THREE_DECIMAL
    )
    assert set(CURRENCY_EXPONENTS.values()) == {0, 2, 3}


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        ("usd", 2),
        ("USD", 2),
        ("Eur", 2),
        ("jpy", 0),
        ("JPY", 0),
        ("ugx", 0),
        ("kwd", 3),
        ("isk", 2),  # Stripe's API takes ISK with two decimals
        ("huf", 2),
        ("twd", 2),
    ],
)
def test_it_knows_exponents_in_either_case(currency: str, places: int) -> None:
    assert exponent(currency) == places


@pytest.mark.parametrize("currency", ["xyz", "", "us", "usdd", " usd", "hrk", None, 840])
def test_it_rejects_unknown_currencies(currency: object) -> None:
    with pytest.raises(UnknownCurrency) as info:
        exponent(currency)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_it_normalises_currency_codes() -> None:
    assert normalize_currency("GBP") == "gbp"


def test_it_keeps_the_exponent_table_read_only() -> None:
    with pytest.raises(TypeError):
        CURRENCY_EXPONENTS["usd"] = 0  # type: ignore[index]


# --- Stripe's limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "minimum"),
    [
        ("usd", 50),
        ("eur", 50),
        ("gbp", 30),
        ("jpy", 50),
        ("aud", 50),
        ("cad", 50),
        ("chf", 50),
        ("dkk", 250),
        ("hkd", 400),
        ("inr", 50),
        ("mxn", 1000),
        ("nok", 300),
        ("nzd", 50),
        ("pln", 200),
        ("sek", 300),
        ("sgd", 50),
        ("czk", 1500),
        ("huf", 17500),
        ("ron", 200),
        ("bgn", 100),
        ("brl", 50),
        ("thb", 1000),
        ("aed", 200),
        ("myr", 200),
        ("USD", 50),
        # Our choices for three-decimal currencies (Stripe lists none): just above 0.50 USD.
        ("kwd", 200),
        ("bhd", 200),
        ("jod", 400),
        ("omr", 200),
        ("tnd", 2000),
        # Not in Stripe's table: 0.50 of a major unit, rounded up to a unit and to the step.
        ("idr", 50),
        ("zar", 50),
        ("vnd", 1),
        ("krw", 1),
        ("isk", 100),
    ],
)
def test_it_knows_minimum_charges(currency: str, minimum: int) -> None:
    assert minimum_charge(currency) == minimum


@pytest.mark.parametrize("currency", sorted(CURRENCY_EXPONENTS))
def test_it_gives_every_currency_a_chargeable_minimum(currency: str) -> None:
    minimum = minimum_charge(currency)
    assert minimum > 0
    assert minimum % amount_step(currency) == 0


@pytest.mark.parametrize(
    ("currency", "step"),
    [("usd", 1), ("jpy", 1), ("huf", 1), ("kwd", 10), ("BHD", 10), ("tnd", 10), ("isk", 100)],
)
def test_it_knows_amount_steps(currency: str, step: int) -> None:
    assert amount_step(currency) == step


def test_it_rejects_unknown_currencies_in_limits() -> None:
    with pytest.raises(UnknownCurrency):
        minimum_charge("xyz")
    with pytest.raises(UnknownCurrency):
        amount_step("xyz")


# --- Parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "locale", "minor"),
    [
        ("12.50", "usd", "en", 1250),
        ("12.5", "usd", "en", 1250),
        ("12", "usd", "en", 1200),
        ("0", "usd", "en", 0),
        (".5", "usd", "en", 50),
        ("  12.50 ", "usd", "en", 1250),
        ("1,234.50", "usd", "en", 123450),
        ("1234.50", "usd", "en", 123450),
        ("1,234,567.89", "usd", "en", 123456789),
        ("1.234,50", "eur", "de", 123450),
        ("1234,50", "eur", "de", 123450),
        ("12.500", "eur", "de", 1250000),  # in de the dot groups thousands
        ("1 234,50", "eur", "fr", 123450),
        (f"1{NBSP}234,50", "eur", "fr", 123450),
        (f"1{NNBSP}234,50", "eur", "fr", 123450),
        ("1.234,50", "eur", "es", 123450),
        (f"1{RSQUO}234.50", "chf", "de_CH", 123450),  # CLDR before 48, and pasted text
        ("1'234.50", "chf", "de_CH", 123450),  # CLDR 48 on, and what a keyboard makes
        ("1'000'000'000.00", "chf", "de_CH", 100000000000),
        (f"1{RSQUO}000'000{RSQUO}000.00", "chf", "de_CH", 100000000000),
        ("1'234,50", "chf", "fr_CH", 123450),
        ("1 234,50", "eur", "ru", 123450),  # ru prints a nbsp, keyboards make a space
        ("1,234.50", "usd", "ar_EG", 123450),  # Latin digits and symbols (see below)
        ("1,23,456.00", "inr", "en_IN", 12345600),  # Indian grouping
        ("123,456.00", "inr", "en_IN", 12345600),  # and plain thousands
        ("12.50", "usd", "en-US", 1250),
        ("1,235", "jpy", "en", 1235),
        ("1235", "JPY", "en", 1235),
        ("1.235", "kwd", "en", 1235),
        ("1.23", "kwd", "en", 1230),
        ("5.50", "isk", "en", 550),  # parsed; amount_step() is the payment rules' check
        ("999999999999999", "jpy", "en", 999999999999999),
    ],
)
def test_it_parses_amounts(text: str, currency: str, locale: str, minor: int) -> None:
    assert parse_amount(text, currency, locale) == minor


@pytest.mark.parametrize(
    ("text", "currency", "locale", "code"),
    [
        ("", "usd", "en", "empty"),
        ("   ", "usd", "en", "empty"),
        (f"{NBSP}\t", "usd", "en", "empty"),
        ("-12.50", "usd", "en", "negative"),
        ("- 12.50", "usd", "en", "negative"),
        ("\u221212.50", "usd", "en", "negative"),  # the minus sign, not a hyphen
        ("12.50-", "usd", "en", "negative"),
        ("-0", "usd", "en", "negative"),
        ("+12.50", "usd", "en", "invalid"),
        ("1e3", "usd", "en", "invalid"),
        ("1E3", "usd", "en", "invalid"),
        ("NaN", "usd", "en", "invalid"),
        ("nan", "usd", "en", "invalid"),
        ("Infinity", "usd", "en", "invalid"),
        ("inf", "usd", "en", "invalid"),
        ("∞", "usd", "en", "invalid"),
        ("$12.50", "usd", "en", "invalid"),
        ("12.50 USD", "usd", "en", "invalid"),
        ("12 50", "usd", "en", "invalid"),  # a space does not group in en
        ("0x10", "usd", "en", "invalid"),
        ("1_000", "usd", "en", "invalid"),
        ("12.", "usd", "en", "invalid"),
        (".", "usd", "en", "invalid"),
        ("1.2.3", "usd", "en", "invalid"),
        ("1,234.5,0", "usd", "en", "invalid"),
        ("\u0661\u0662\u066b\u0665\u0660", "usd", "en", "invalid"),  # Arabic-Indic digits
        ("\uff11\uff12.\uff15\uff10", "usd", "en", "invalid"),  # full-width digits
        ("12\u200b.50", "usd", "en", "invalid"),  # zero-width space
        ("12,50", "usd", "en", "invalid_grouping"),  # a comma only groups thousands in en
        ("1,23,4.00", "usd", "en", "invalid_grouping"),
        ("1,23,456.00", "usd", "en", "invalid_grouping"),  # Indian grouping is for en_IN
        ("1234,567.00", "usd", "en", "invalid_grouping"),
        ("1,,234", "usd", "en", "invalid_grouping"),
        (",123", "usd", "en", "invalid_grouping"),
        ("123,", "usd", "en", "invalid_grouping"),
        ("12.50", "eur", "de", "invalid_grouping"),  # not silently 1250 euros
        ("1.23,50", "eur", "de", "invalid_grouping"),
        ("1 234,50", "eur", "de", "invalid"),  # de groups with a dot, never a space
        ("1.234,50", "eur", "fr", "invalid"),
        ("1000000'000.00", "chf", "de_CH", "invalid_grouping"),  # Babel's own output, refused
        ("1 234.50", "chf", "de_CH", "invalid"),  # an apostrophe groups in de_CH, not a space
        ("1'234,50", "eur", "de", "invalid"),  # nor in de
        ("1.234.50", "chf", "de_CH", "invalid"),
        ("1'234.5'0", "chf", "de_CH", "invalid"),
        ("1'23'4.00", "chf", "de_CH", "invalid_grouping"),
        ("CHF 1'234.50", "chf", "de_CH", "invalid"),
        ("1\u066c234\u066b50", "usd", "ar_EG", "invalid"),  # Arabic separators, Latin digits
        ("\u0661\u0662\u066b\u0665\u0660", "usd", "ar_EG", "invalid"),  # Arabic-Indic digits
        ("\u0967\u0968", "inr", "mr", "invalid"),  # Devanagari digits
        ("12.345", "usd", "en", "too_many_decimals"),
        ("0.001", "usd", "en", "too_many_decimals"),
        ("12,345", "eur", "de", "too_many_decimals"),
        ("1.5", "jpy", "en", "too_many_decimals"),
        ("1.0", "jpy", "en", "too_many_decimals"),
        ("1,5", "jpy", "de", "too_many_decimals"),
        ("1.2345", "kwd", "en", "too_many_decimals"),
        ("1" * (MAX_DIGITS + 1), "jpy", "en", "too_long"),
        ("1" * MAX_DIGITS + ".00", "usd", "en", "too_long"),
        ("0" * (MAX_DIGITS + 1), "usd", "en", "too_long"),
        ("1" * 1000, "usd", "en", "too_long"),
    ],
)
def test_it_rejects_bad_amounts(text: str, currency: str, locale: str, code: str) -> None:
    with pytest.raises(AmountError) as info:
        parse_amount(text, currency, locale)
    assert info.value.code == code
    assert info.value.message  # something to show the customer
    assert isinstance(info.value, ValueError)


def test_it_says_how_many_decimals_a_currency_has() -> None:
    with pytest.raises(AmountError, match="JPY amounts have no decimal places"):
        parse_amount("1.5", "jpy")
    with pytest.raises(AmountError, match="USD amounts have at most 2 decimal places"):
        parse_amount("1.555", "usd")


def test_it_rejects_unknown_currencies_and_locales_when_parsing() -> None:
    with pytest.raises(UnknownCurrency):
        parse_amount("12.50", "xyz")
    with pytest.raises(UnknownLocale):
        parse_amount("12.50", "usd", "xx")
    with pytest.raises(TypeError):
        parse_amount(12.5, "usd")  # type: ignore[arg-type]


# --- Formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "text"),
    [
        (123450, "eur", "de", f"1.234,50{NBSP}€"),
        (123450, "eur", "en", "€1,234.50"),
        (123450, "eur", "fr", f"1{NNBSP}234,50{NBSP}€"),
        (123450, "usd", "en", "$1,234.50"),
        (123450, "usd", "es", f"1.234,50{NBSP}US$"),
        (-123450, "usd", "en", "-$1,234.50"),
        (5, "usd", "en", "$0.05"),
        (0, "usd", "en", "$0.00"),
        (1235, "jpy", "en", "¥1,235"),
        (1235, "jpy", "ja", "￥1,235"),
        # CLDR's currency spacing, which Babel alone would not apply ("KWD1.235").
        (1235, "kwd", "en", f"KWD{NBSP}1.235"),
        (1230, "kwd", "en", f"KWD{NBSP}1.230"),
        (123450, "bgn", "en", f"BGN{NBSP}1,234.50"),
        # Our exponent wins over CLDR's, which shows ISK without decimals.
        (123400, "isk", "en", f"ISK{NBSP}1,234.00"),
        (123450, "chf", "de_CH", f"CHF{NBSP}1{CH_GROUP}234.50"),
        # Babel alone prints CHF 1000000'000.00: it strips pairs of apostrophes as quoting.
        (100000000000, "chf", "de_CH", f"CHF{NBSP}1{CH_GROUP}000{CH_GROUP}000{CH_GROUP}000.00"),
        (123456789, "inr", "en_IN", "₹12,34,567.89"),
        (123450, "eur", "ar_EG", "\u200f1,234.50\xa0€"),  # Latin digits, as everywhere
        (123450, "USD", "en-US", "$1,234.50"),
    ],
)
def test_it_formats_money(minor: int, currency: str, locale: str, text: str) -> None:
    assert format_money(minor, currency, locale) == text


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "text"),
    [
        (123450, "eur", "de", "1.234,50"),
        (123450, "eur", "fr", f"1{NNBSP}234,50"),
        (1235, "jpy", "en", "1,235"),
        (1235, "kwd", "de", "1,235"),
        (100000000000, "chf", "de_CH", f"1{CH_GROUP}000{CH_GROUP}000{CH_GROUP}000.00"),
        (123456789, "usd", "fa", "1,234,567.89"),
    ],
)
def test_it_formats_amounts_without_symbol(
    minor: int, currency: str, locale: str, text: str
) -> None:
    assert format_amount(minor, currency, locale) == text


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1250, "usd", "12.50"),
        (5, "usd", "0.05"),
        (0, "usd", "0.00"),
        (123456789, "usd", "1234567.89"),
        (1235, "jpy", "1235"),
        (1235, "kwd", "1.235"),
        (5, "KWD", "0.005"),
    ],
)
def test_it_formats_amounts_for_inputs(minor: int, currency: str, text: str) -> None:
    assert format_amount_for_input(minor, currency) == text


@pytest.mark.parametrize("amount", [12.5, Decimal("12.50"), "1250", True])
def test_it_refuses_anything_but_int_minor_units(amount: object) -> None:
    with pytest.raises(TypeError):
        format_money(amount, "usd", "en")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_major(amount, "usd")  # type: ignore[arg-type]


# --- Exact conversions and rounding -----------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [
        (1250, "usd", "12.50"),
        (-1250, "usd", "-12.50"),
        (1250, "jpy", "1250"),
        (1250, "kwd", "1.250"),
        (0, "usd", "0.00"),
    ],
)
def test_it_converts_to_major_units_exactly(minor: int, currency: str, major: str) -> None:
    result = to_major(minor, currency)
    assert result == Decimal(major)
    assert str(result) == major  # the exponent's decimals, trailing zeros included


@pytest.mark.parametrize(
    ("major", "currency", "minor"),
    [
        (Decimal("12.5"), "usd", 1250),
        (Decimal("12.500"), "usd", 1250),
        (Decimal("-12.50"), "usd", -1250),
        (Decimal("1E+3"), "usd", 100000),
        (Decimal("1250"), "jpy", 1250),
        (Decimal("1.235"), "kwd", 1235),
        (12, "usd", 1200),
    ],
)
def test_it_converts_to_minor_units_exactly(major: Decimal, currency: str, minor: int) -> None:
    assert to_minor(major, currency) == minor


@pytest.mark.parametrize(
    ("major", "currency"),
    [(Decimal("12.505"), "usd"), (Decimal("0.5"), "jpy"), (Decimal("1.2345"), "kwd")],
)
def test_it_refuses_to_round_when_converting(major: Decimal, currency: str) -> None:
    with pytest.raises(AmountError) as info:
        to_minor(major, currency)
    assert info.value.code == "too_many_decimals"


@pytest.mark.parametrize("major", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_it_refuses_non_finite_decimals(major: Decimal) -> None:
    with pytest.raises(AmountError):
        to_minor(major, "usd")
    with pytest.raises(AmountError):
        round_half_up(major)


def test_it_refuses_floats_in_conversions() -> None:
    with pytest.raises(TypeError):
        to_minor(12.5, "usd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        round_half_up(0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Decimal("0.5"), 1),
        (Decimal("1.5"), 2),
        (Decimal("2.5"), 3),  # not 2: no banker's rounding
        (Decimal("2.4999"), 2),
        (Decimal("2.5001"), 3),
        (Decimal("-2.5"), -3),  # ties away from zero: a credit note mirrors its invoice
        (Decimal("-2.4"), -2),
        (Decimal("1234"), 1234),
        (Decimal("1E+2"), 100),
        (Decimal("12345678901234567890123456789012.5"), 12345678901234567890123456789013),
        (7, 7),
    ],
)
def test_it_rounds_half_up(value: Decimal, rounded: int) -> None:
    assert round_half_up(value) == rounded


# --- Properties -------------------------------------------------------------------------------


@PROPERTY
@given(amount=AMOUNTS, currency=CURRENCIES)
def test_it_reads_back_input_values(amount: int, currency: str) -> None:
    assert parse_amount(format_amount_for_input(amount, currency), currency) == amount


@PROPERTY
@given(amount=AMOUNTS, currency=CURRENCIES, locale=LOCALES)
def test_it_reads_back_locale_formatted_amounts(amount: int, currency: str, locale: str) -> None:
    assert parse_amount(format_amount(amount, currency, locale), currency, locale) == amount


@PROPERTY
@given(
    amount=AMOUNTS,
    currency=st.sampled_from(["usd", "inr", "chf", "jpy", "kwd"]),
    locale=st.sampled_from(["en_IN", "de_CH", "pt_PT", "sv", "de-AT"]),
)
def test_it_reads_back_other_locales(amount: int, currency: str, locale: str) -> None:
    assert parse_amount(format_amount(amount, currency, locale), currency, locale) == amount


@PROPERTY
@given(amount=AMOUNTS, currency=CURRENCIES, locale=LOCALES)
def test_it_shows_exactly_the_currencys_decimals(amount: int, currency: str, locale: str) -> None:
    number = format_amount(amount, currency, locale)
    assert number in format_money(amount, currency, locale)
    _, decimal_symbol, fraction = number.rpartition(_decimal_symbol(locale))
    if exponent(currency):
        assert decimal_symbol
        assert len(fraction) == exponent(currency)
    else:
        assert not decimal_symbol


@PROPERTY
@given(
    whole=st.integers(min_value=0, max_value=10**6),
    data=st.data(),
    currency=CURRENCIES,
    locale=LOCALES,
)
def test_it_rejects_one_decimal_too_many(
    whole: int, data: st.DataObject, currency: str, locale: str
) -> None:
    places = exponent(currency) + 1
    fraction = data.draw(st.text("0123456789", min_size=places, max_size=places))
    with pytest.raises(AmountError) as info:
        parse_amount(f"{whole}{_decimal_symbol(locale)}{fraction}", currency, locale)
    assert info.value.code == "too_many_decimals"


@PROPERTY
@given(
    whole=st.integers(min_value=0, max_value=10**6),
    fraction=st.text("0123456789", min_size=1, max_size=6),
    currency=st.sampled_from(sorted(c for c, places in CURRENCY_EXPONENTS.items() if not places)),
    locale=LOCALES,
)
def test_it_rejects_any_decimal_in_zero_decimal_currencies(
    whole: int, fraction: str, currency: str, locale: str
) -> None:
    with pytest.raises(AmountError) as info:
        parse_amount(f"{whole}{_decimal_symbol(locale)}{fraction}", currency, locale)
    assert info.value.code == "too_many_decimals"


@PROPERTY
@given(
    text=st.text(
        st.sampled_from("0123456789.,' -+e\u00a0\u202f\u2212\u2019\u0661") | st.characters(),
        max_size=30,
    ),
    currency=CURRENCIES,
    locale=st.sampled_from(["en", "de", "fr", "es", "de_CH", "en_IN"])
    | st.sampled_from(ALL_LOCALES),
)
def test_it_parses_anything_to_an_amount_or_an_amount_error(
    text: str, currency: str, locale: str
) -> None:
    try:
        amount = parse_amount(text, currency, locale)
    except AmountError as error:
        assert error.code in {
            "empty",
            "invalid",
            "invalid_grouping",
            "negative",
            "too_long",
            "too_many_decimals",
        }
    else:
        assert 0 <= amount < 10**MAX_DIGITS


@PROPERTY
@given(amount=st.integers(min_value=-(10**30), max_value=10**30), currency=CURRENCIES)
def test_it_converts_to_major_and_back(amount: int, currency: str) -> None:
    assert to_minor(to_major(amount, currency), currency) == amount


@PROPERTY
@given(
    value=st.decimals(allow_nan=False, allow_infinity=False, places=4, max_value=10**12),
)
def test_it_rounds_to_the_nearest_minor_unit(value: Decimal) -> None:
    rounded = round_half_up(value)
    assert abs(Decimal(rounded) - value) <= Decimal("0.5")
    if abs(Decimal(rounded) - value) == Decimal("0.5"):
        assert abs(rounded) > abs(value)  # ties go away from zero


# --- Every locale Babel has -------------------------------------------------------------------
# Loops rather than parametrize: a thousand locales are a thousand test ids otherwise, and one
# assertion listing every failing locale says more than the first one to fail.


def _number_shown(money: str) -> str:
    """The number in format_money()'s output: from its first digit to its last."""
    match = re.search(r"[0-9](?:.*[0-9])?", money)
    assert match, money
    return match.group()


def _read_back_problems(amount: int, currency: str, locale: str) -> list[str]:
    number = format_amount(amount, currency, locale)
    money = format_money(amount, currency, locale)
    problems = []
    # Latin digits everywhere, also where CLDR's default numbering system is another one.
    if any(unicodedata.category(char) == "Nd" and char not in "0123456789" for char in money):
        problems.append(f"{money!r} has other digits than 0-9")
    # The number alone (PDF columns), and the number a customer copies from the invoice page.
    for text in (number, _number_shown(money)):
        try:
            parsed = parse_amount(text, currency, locale)
        except AmountError as error:
            problems.append(f"{text!r} ({money!r}) refused: {error.code}")
        else:
            if parsed != amount:
                problems.append(f"{text!r} ({money!r}) read as {parsed}")
    # The symbol is refused, not skipped: "$12.50" is not read as 12.50 of another currency.
    try:
        parse_amount(money, currency, locale)
    except AmountError as error:
        if error.code != "invalid":
            problems.append(f"{money!r} refused as {error.code}")
    else:
        problems.append(f"{money!r} accepted with its currency symbol")
    return problems


def test_it_reads_back_what_it_prints_in_every_locale() -> None:
    # A leading zero (0.05), one group, and every group position there is (15 digits).
    failures = [
        f"{locale} {currency} {amount}: {problem}"
        for locale in ALL_LOCALES
        for currency in ROUND_TRIP_CURRENCIES
        for amount in (5, 123450, 10**MAX_DIGITS - 1)
        for problem in _read_back_problems(amount, currency, locale)
    ]
    assert not failures, "\n".join(failures[:20])


@PROPERTY
@given(amount=AMOUNTS, currency=CURRENCIES, locale=st.sampled_from(ALL_LOCALES))
def test_it_reads_back_any_amount_in_any_locale(amount: int, currency: str, locale: str) -> None:
    assert _read_back_problems(amount, currency, locale) == []


@PROPERTY
@given(
    amount=st.integers(min_value=-(10**MAX_DIGITS) + 1, max_value=10**MAX_DIGITS - 1),
    currency=CURRENCIES,
    locale=st.sampled_from([ident for ident in ALL_LOCALES if "'" not in get_group_symbol(ident)]),
)
def test_it_groups_like_babel_where_babel_gets_it_right(
    amount: int, currency: str, locale: str
) -> None:
    # format_amount() groups the digits itself (Babel's output is wrong where the group symbol
    # is an ASCII apostrophe); everywhere else it must print exactly what Babel prints.
    pattern = copy.copy(Locale.parse(locale).decimal_formats[None])
    pattern.frac_prec = (exponent(currency), exponent(currency))
    babel = pattern.apply(to_major(amount, currency), locale, numbering_system="latn")
    assert format_amount(amount, currency, locale) == babel


def test_it_reads_what_keyboards_make_for_the_group_symbol_in_every_locale() -> None:
    failures = []
    for locale in ALL_LOCALES:
        group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
        typed = {group}
        if group.isspace():
            typed |= {" ", NBSP, NNBSP}
        if group in {"'", RSQUO}:
            typed |= {"'", RSQUO}
        for symbol in typed:
            text = f"1{symbol}234{symbol}567{decimal}50"
            try:
                parsed: int | str = parse_amount(text, "usd", locale)
            except AmountError as error:
                parsed = error.code
            if parsed != 123456750:
                failures.append(f"{locale}: {text!r} -> {parsed}")
    assert not failures, failures


def test_it_stays_strict_in_every_locale() -> None:
    failures = []
    for locale in ALL_LOCALES:
        group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
        refused = {
            f"1{group}2{decimal}50": "invalid_grouping",
            f"1{group}{group}234{decimal}50": "invalid_grouping",
            f"1{decimal}2{decimal}3": "invalid",
            f"1{decimal}2{group}3": "invalid",
            f"1{decimal}234": "too_many_decimals",
            f"1{decimal}5E3": "invalid",
            f"12{decimal}50 $": "invalid",
            f"€12{decimal}50": "invalid",
            f"-12{decimal}50": "negative",
            "\u0661\u0662": "invalid",  # Arabic-Indic digits
        }
        for text, code in refused.items():
            try:
                parsed = parse_amount(text, "usd", locale)
            except AmountError as error:
                if error.code != code:
                    failures.append(f"{locale}: {text!r} refused as {error.code}, not {code}")
            else:
                failures.append(f"{locale}: {text!r} read as {parsed}")
    assert not failures, "\n".join(failures[:20])


def test_it_uses_latin_digits_and_symbols_where_cldr_defaults_to_others() -> None:
    # Babel has the symbols of ar_EG's Arabic-Indic numbering system but not its digits: its
    # "default" output mixes Latin digits with the Arabic separators. We print Latin digits
    # with the locale's Latin symbols (1,234.50), and refuse the mix rather than guess.
    assert len(NON_LATIN_LOCALES) > 50  # ar_EG, fa, mr, bn, my...: the loops above cover them
    failures = []
    for locale in NON_LATIN_LOCALES:
        group = get_group_symbol(locale, numbering_system="latn")
        decimal = get_decimal_symbol(locale, numbering_system="latn")
        if format_amount(123450, "usd", locale) != f"1{group}234{decimal}50":
            failures.append(f"{locale}: prints {format_amount(123450, 'usd', locale)!r}")
        native = (
            get_group_symbol(locale, numbering_system="default"),
            get_decimal_symbol(locale, numbering_system="default"),
        )
        if native != (group, decimal):
            try:
                parsed = parse_amount(f"1{native[0]}234{native[1]}50", "usd", locale)
            except AmountError:
                continue
            failures.append(f"{locale}: read {native} as {parsed}")
    assert not failures, failures
