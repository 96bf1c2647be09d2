"""A German seller with everything e-invoices and bank transfers need, and its buyers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from invoices import services
from invoices.models import Company, Customer
from tests import factories

SELLER_IBAN = "DE89370400440532013000"
SELLER_BIC = "COBADEFFXXX"


def complete_seller(**fields: Any) -> Company:
    company = factories.make_company(currency="eur", name="Beispiel GmbH")
    values: dict[str, Any] = {
        "email": "rechnung@beispiel.example",
        "phone": "+49 30 1234567",
        "street": "Hauptstraße 1",
        "postcode": "10115",
        "city": "Berlin",
        "country_code": "DE",
        "vat_id": "DE136695976",
        "electronic_address": "rechnung@beispiel.example",
        "electronic_address_scheme": "EM",
        "bank_account_holder": "Beispiel GmbH",
        "iban": SELLER_IBAN,
        "bic": SELLER_BIC,
        "einvoice_formats": ["facturx", "xrechnung", "ubl"],
        **fields,
    }
    return services.company_update(company=company, changes=values)


def buyer_of(company: Company, **fields: Any) -> Customer:
    values: dict[str, Any] = {
        "name": "Kunde AG",
        "email": "einkauf@kunde.example",
        "address_line1": "Marktplatz 5",
        "postal_code": "80331",
        "city": "München",
        "country": "DE",
        "tax_id": "DE100000008",
        "buyer_reference": "04011000-12345-34",
        "electronic_address": "einkauf@kunde.example",
        "electronic_address_scheme": "EM",
        **fields,
    }
    return factories.make_customer(company, **values)


@pytest.fixture
def seller(db: Any) -> Company:
    return complete_seller()


@pytest.fixture
def buyer(seller: Company) -> Customer:
    return buyer_of(seller)


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any) -> Iterator[Any]:
    # Rendered PDFs go to a temporary MEDIA_ROOT.
    settings.MEDIA_ROOT = str(tmp_path / "media")
    yield tmp_path / "media"
