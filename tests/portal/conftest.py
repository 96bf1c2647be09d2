from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Company, Customer, Invoice
from tests import factories


@pytest.fixture
def invoice(tenant: Company, customer: Customer) -> Invoice:
    return factories.make_invoice(
        tenant,
        customer,
        lines=[("Design work", "2", 12345, "19"), ("Hosting", "1", 5000, "0")],
        notes="Thank you for your business.",
    )


@pytest.fixture
def token(invoice: Invoice) -> str:
    return factories.share_token(invoice)


@pytest.fixture
def portal_token(customer: Customer) -> str:
    return factories.portal_token(customer)


@pytest.fixture
def stripe_connected(tenant: Company) -> Any:
    from payments.services import stripe_connection_save

    return stripe_connection_save(
        company=tenant, secret_key="sk_test_portal", webhook_secret="whsec_portal"
    )
