"""The demo's German company: a new user sees a bank transfer with its QR code and gets valid
e-invoices from the link ``seed_demo`` prints, without typing anything."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from invoices.einvoice.validate import xsd_errors
from invoices.models import Company, Invoice
from invoices.services import api_key_create

pytestmark = pytest.mark.django_db


def test_beispiel_shows_transfers_and_offers_valid_einvoices(client: Any) -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    link = re.search(r"\(beispiel: [^)]*\): (\S+)", out.getvalue())
    assert link is not None, out.getvalue()
    path = "/" + link.group(1).split("/", 3)[3]
    html = client.get(path).content.decode()
    assert "IBAN" in html and "DE02 1203 0000 0000 2020 51" in html
    assert "data:image/svg+xml;base64," in html  # the EPC QR code (EUR)

    company = Company.objects.get(slug="beispiel")
    assert company.customers.exclude(tax_id="").count() == company.customers.count() == 3
    statuses = set(company.invoices.values_list("status", flat=True))
    assert {"open", "paid"} <= statuses
    invoice = Invoice.objects.get(company=company, status="open", sequence=1)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_key_create(company=company)[1]}")
    for fmt, schema in (("xrechnung", "cii"), ("ubl", "ubl-invoice")):
        response = api.get(f"/api/v1/invoices/{invoice.public_id}/e-invoice?format={fmt}")
        assert response.status_code == 200, response.content
        assert xsd_errors(response.content, schema) == []
    for other in Invoice.objects.filter(company=company).exclude(status="draft"):
        response = api.get(f"/api/v1/invoices/{other.public_id}/e-invoice?format=ubl")
        assert response.status_code == 200, (other.number, response.content)
    note = company.credit_notes.get()
    response = api.get(f"/api/v1/credit-notes/{note.public_id}/e-invoice?format=xrechnung")
    assert response.status_code == 200 and b"<ram:TypeCode>381</ram:TypeCode>" in response.content
