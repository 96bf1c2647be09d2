"""The one place invoice amounts are computed: the page, the PDF, the API and payments use it.

Rounding rule: each line's net amount and its tax are rounded half-up to whole minor units,
then summed. Rounding per line (not on the total) is what a customer checking the invoice by
hand gets, and it keeps every printed line consistent with the printed totals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from invoices.money import round_half_up

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class LineAmounts:
    net: int
    tax: int


@dataclass(frozen=True)
class Totals:
    subtotal: int
    tax: int
    total: int


def line_amounts(*, quantity: Decimal, unit_amount: int, tax_rate: Decimal) -> LineAmounts:
    net = round_half_up(Decimal(quantity) * unit_amount)
    tax = round_half_up(Decimal(net) * Decimal(tax_rate) / HUNDRED)
    return LineAmounts(net=net, tax=tax)


def invoice_totals(lines: Iterable[LineAmounts]) -> Totals:
    subtotal = 0
    tax = 0
    for line in lines:
        subtotal += line.net
        tax += line.tax
    return Totals(subtotal=subtotal, tax=tax, total=subtotal + tax)


def amount_due(*, total: int, amount_paid: int, amount_credited: int = 0) -> int:
    # An overpayment (flagged for staff by payments) never shows as a negative amount due.
    return max(total - amount_paid - amount_credited, 0)
