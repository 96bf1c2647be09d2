"""One rounding rule: per line, half up, in integer minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoices.totals import LineAmounts, amount_due, invoice_totals, line_amounts


@pytest.mark.parametrize(
    ("quantity", "unit", "rate", "net", "tax"),
    [
        ("1", 1000, "0", 1000, 0),
        ("1.5", 1001, "19", 1502, 285),  # 1501.5 → 1502; 285.38 → 285
        ("3", 333, "7", 999, 70),  # 69.93 → 70
        ("0.333", 100, "0", 33, 0),  # 33.3 → 33
        ("2.5", 1, "0", 3, 0),  # 2.5 → 3: half up, not to even
        ("1", 5, "10", 5, 1),  # 0.5 → 1: half up
        ("1", 125, "20", 125, 25),
        ("10", 7500, "0", 75000, 0),  # KWD fils: three decimals are just minor units
    ],
)
def test_it_rounds_each_line_half_up(
    quantity: str, unit: int, rate: str, net: int, tax: int
) -> None:
    assert line_amounts(
        quantity=Decimal(quantity), unit_amount=unit, tax_rate=Decimal(rate)
    ) == LineAmounts(net=net, tax=tax)


def test_it_sums_rounded_lines_not_the_raw_total() -> None:
    lines = [
        line_amounts(quantity=Decimal("1"), unit_amount=5, tax_rate=Decimal("10")) for _ in range(3)
    ]
    totals = invoice_totals(lines)
    # Each line's tax 0.5 → 1, so 3 in all (rounding the raw 1.5 would print 2 and disagree
    # with the lines the customer sees).
    assert (totals.subtotal, totals.tax, totals.total) == (15, 3, 18)


def test_it_never_shows_a_negative_amount_due() -> None:
    assert amount_due(total=1000, amount_paid=400) == 600
    assert amount_due(total=1000, amount_paid=1200) == 0
