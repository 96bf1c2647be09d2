"""A paid (or partly paid) invoice says when money came in and links its receipt."""

from __future__ import annotations

import re
from typing import Any

from invoices.models import Invoice
from payments.models import PaymentMethod
from payments.services import payment_record_offline


def test_a_paid_invoice_shows_when_and_links_the_receipt(
    client: Any, invoice: Invoice, token: str
) -> None:
    payment = payment_record_offline(
        invoice=invoice, amount=invoice.amount_due, method=PaymentMethod.BANK_TRANSFER
    )
    html = client.get(f"/invoice/{token}?lang=de").content.decode()
    notice = re.search(r'<p class="notice notice-paid"[^>]*>(.*?)</p>', html, re.S)
    assert notice, html
    assert "Bezahlt am" in notice.group(1)
    receipt = f"/invoice/{token}/payments/{payment.public_id}/receipt.pdf?lang=de"
    assert f'href="{receipt}"' in notice.group(1)
    response = client.get(receipt)
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def test_a_partly_paid_invoice_shows_the_last_payment(
    client: Any, invoice: Invoice, token: str
) -> None:
    payment_record_offline(invoice=invoice, amount=1000, method=PaymentMethod.CASH)
    html = client.get(f"/invoice/{token}").content.decode()
    assert "Last payment of $10.00 received on" in html


def test_an_unpaid_invoice_shows_no_payment(client: Any, token: str) -> None:
    assert "notice-paid" not in client.get(f"/invoice/{token}").content.decode()
