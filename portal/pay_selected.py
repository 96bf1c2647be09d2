"""What the "Pay selected" form (templates/portal/_pay_selected.html) shows: the customer's
invoices with something due, each with a checkbox (all of the first currency ticked, so the
form works as "Pay everything due" without JavaScript), the total of that selection, and the
credit the customer could use."""

from __future__ import annotations

from dataclasses import dataclass

from invoices.document import date_display
from invoices.models import Customer
from invoices.money import format_money
from payments import multipay
from payments.gates import stripe_connected


@dataclass(frozen=True)
class PayRow:
    public_id: str
    number: str
    due_date: str
    currency: str
    amount_due: int
    amount_due_display: str
    checked: bool


@dataclass(frozen=True)
class PaySelected:
    rows: list[PayRow]
    count: int
    currency: str
    total_display: str
    credit: int
    credit_display: str
    connected: bool

    @property
    def currencies(self) -> list[str]:
        return sorted({row.currency for row in self.rows})


def pay_selected_for(
    *, customer: Customer, locale: str, currency: str = "", connected: bool | None = None
) -> PaySelected:
    """The form's state for ``customer``: two queries (the invoices due, the credit notes),
    and one for the Stripe connection unless the caller knows ``connected``."""
    due = multipay.invoices_due(customer=customer)
    chosen = currency or (due[0].currency if due else "")
    rows = [
        PayRow(
            public_id=invoice.public_id,
            number=invoice.number,
            due_date=date_display(invoice.due_date, locale),
            currency=invoice.currency,
            amount_due=invoice.amount_due,
            amount_due_display=format_money(invoice.amount_due, invoice.currency, locale),
            checked=invoice.currency == chosen,
        )
        for invoice in due
    ]
    total = sum(row.amount_due for row in rows if row.checked)
    credit = multipay.credit_available(customer=customer, currency=chosen) if chosen else 0
    return PaySelected(
        rows=rows,
        count=sum(1 for row in rows if row.checked),
        currency=chosen,
        total_display=format_money(total, chosen, locale) if chosen else "",
        credit=credit,
        credit_display=format_money(credit, chosen, locale) if chosen else "",
        connected=bool(rows)
        and (stripe_connected(customer.company) if connected is None else connected),
    )
