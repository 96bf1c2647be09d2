"""The one amount-rules function: decimals, steps, minimums, amount due, partial payments."""

from __future__ import annotations

import pytest

from invoices.models import Company
from invoices.money import AmountError
from payments.rules import payment_amount_check, payment_amount_parse
from tests.factories import make_invoice


def _invoice(company: Company, currency: str, total: int, **fields: object):  # type: ignore[no-untyped-def]
    return make_invoice(company, lines=[("Work", "1", total, "0")], currency=currency, **fields)


def _code(invoice, text: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(AmountError) as caught:
        payment_amount_parse(invoice=invoice, text=text)
    return caught.value.code


def test_it_accepts_the_full_amount_due_in_usd(tenant: Company) -> None:
    invoice = _invoice(tenant, "usd", 12050)
    assert payment_amount_parse(invoice=invoice, text="120.50") == 12050


def test_it_refuses_a_third_decimal_in_usd(tenant: Company) -> None:
    invoice = _invoice(tenant, "usd", 12050, allow_partial_payments=True)
    assert _code(invoice, "10.505") == "too_many_decimals"


def test_it_refuses_any_decimal_in_jpy(tenant: Company) -> None:
    invoice = _invoice(tenant, "jpy", 5000, allow_partial_payments=True)
    assert _code(invoice, "100.5") == "too_many_decimals"
    assert payment_amount_parse(invoice=invoice, text="1,000") == 1000


def test_it_applies_the_jpy_minimum_charge_of_50_yen(tenant: Company) -> None:
    invoice = _invoice(tenant, "jpy", 5000, allow_partial_payments=True)
    assert _code(invoice, "49") == "below_minimum"
    assert payment_amount_parse(invoice=invoice, text="50") == 50


def test_it_requires_kwd_amounts_in_multiples_of_ten_fils(tenant: Company) -> None:
    invoice = _invoice(tenant, "kwd", 10000, allow_partial_payments=True)
    assert _code(invoice, "5.005") == "step"
    assert payment_amount_parse(invoice=invoice, text="5.010") == 5010
    # Three decimals are the most KWD has.
    assert _code(invoice, "5.0101") == "too_many_decimals"


def test_it_applies_the_kwd_minimum_charge(tenant: Company) -> None:
    invoice = _invoice(tenant, "kwd", 10000, allow_partial_payments=True)
    assert _code(invoice, "0.190") == "below_minimum"
    assert payment_amount_parse(invoice=invoice, text="0.200") == 200


def test_it_applies_the_usd_and_gbp_minimum_charges(tenant: Company) -> None:
    usd = _invoice(tenant, "usd", 10000, allow_partial_payments=True)
    gbp = _invoice(tenant, "gbp", 10000, allow_partial_payments=True)
    assert _code(usd, "0.49") == "below_minimum"
    assert payment_amount_parse(invoice=usd, text="0.50") == 50
    assert _code(gbp, "0.29") == "below_minimum"
    assert payment_amount_parse(invoice=gbp, text="0.30") == 30


def test_it_refuses_more_than_the_amount_due(tenant: Company) -> None:
    invoice = _invoice(tenant, "usd", 10000, allow_partial_payments=True)
    assert _code(invoice, "100.01") == "over_amount_due"


def test_it_refuses_a_partial_payment_where_the_invoice_does_not_allow_it(
    tenant: Company,
) -> None:
    invoice = _invoice(tenant, "usd", 10000)
    assert _code(invoice, "50.00") == "partial_not_allowed"


def test_it_refuses_a_partial_payment_under_the_invoice_minimum_payment(tenant: Company) -> None:
    invoice = _invoice(tenant, "usd", 10000, allow_partial_payments=True, minimum_payment=2000)
    assert _code(invoice, "19.99") == "below_minimum"
    assert payment_amount_parse(invoice=invoice, text="20.00") == 2000


def test_it_allows_paying_a_remainder_smaller_than_the_minimum_payment(tenant: Company) -> None:
    invoice = _invoice(tenant, "usd", 10000, allow_partial_payments=True, minimum_payment=2000)
    # 10.00 left: under the invoice's minimum payment, but it is everything still owed.
    payment_amount_check(invoice=invoice, amount=1000, amount_due=1000)


def test_it_refuses_a_remainder_under_the_card_minimum(tenant: Company) -> None:
    invoice = _invoice(tenant, "usd", 10000, allow_partial_payments=True)
    with pytest.raises(AmountError) as caught:
        payment_amount_check(invoice=invoice, amount=30, amount_due=30)
    assert caught.value.code == "below_card_minimum"


def test_it_refuses_zero_negative_and_garbage(tenant: Company) -> None:
    invoice = _invoice(tenant, "usd", 10000, allow_partial_payments=True)
    assert _code(invoice, "0") == "not_positive"
    assert _code(invoice, "-5") == "negative"
    assert _code(invoice, "1e3") == "invalid"
    assert _code(invoice, "") == "empty"


def test_it_says_what_is_wrong_in_the_customers_terms(tenant: Company) -> None:
    invoice = _invoice(tenant, "usd", 10000, allow_partial_payments=True)
    with pytest.raises(AmountError) as caught:
        payment_amount_parse(invoice=invoice, text="150")
    assert caught.value.message == "You can pay at most the amount due, $100.00."
