from __future__ import annotations

import re
from typing import Any

import pytest

from invoices.models import Company, Customer, Invoice
from tests import factories


@pytest.fixture
def invoice(tenant: Company, customer: Customer) -> Invoice:
    return factories.make_invoice(tenant, customer)


@pytest.fixture
def token(invoice: Invoice) -> str:
    return factories.share_token(invoice)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run a call and then its on-commit callbacks (emails, realtime news), as a real commit
    would; tests otherwise run inside one transaction that never commits."""

    def run(call: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


def set_mode(invoice: Invoice, mode: str) -> None:
    """The invoice's write mode, as staff set it in the admin."""
    invoice.comment_write_mode = mode
    invoice.save(update_fields=["comment_write_mode"])


def emailed_code(mailoutbox: list[Any]) -> str:
    match = re.search(r"\b(\d{6})\b", mailoutbox[-1].body)
    assert match, mailoutbox[-1].body
    return match.group(1)
