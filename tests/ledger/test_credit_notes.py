"""Credit notes: issued at once, applied to open invoices of the same customer and currency,
each application a row; void only while nothing is applied; admin on both sides."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from invoices import services
from invoices.models import Company, CreditApplication, CreditNote, Customer, Invoice
from invoices.services import api_key_create
from tests import factories

pytestmark = pytest.mark.django_db


def _create(api_client: Any, customer: Customer, **extra: Any) -> Any:
    body = {"customer": customer.public_id, "currency": "usd", "amount": 3000, **extra}
    return api_client.post("/api/v1/credit-notes", body, content_type="application/json")


def _apply(api_client: Any, note_id: str, body: dict[str, Any]) -> Any:
    return api_client.post(
        f"/api/v1/credit-notes/{note_id}/apply", body, content_type="application/json"
    )


def _invoice(tenant: Company, customer: Customer, amount: int = 5000, **kw: Any) -> Invoice:
    return factories.make_invoice(tenant, customer, lines=[("Work", "1", amount, "0")], **kw)


def test_it_creates_an_issued_credit_note(api_client: Any, customer: Customer) -> None:
    response = _create(api_client, customer, reason="Goodwill")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("cn_")
    assert (body["status"], body["amount"], body["amount_applied"], body["amount_remaining"]) == (
        "issued",
        3000,
        0,
        3000,
    )
    assert body["number"] == "CN-00001"
    assert api_client.get(f"/api/v1/credit-notes/{body['id']}").json()["reason"] == "Goodwill"


@pytest.mark.parametrize(
    "extra",
    [{"amount": 0}, {"amount": -1}, {"amount": 1.5}, {"currency": "xyz"}, {"colour": "red"}],
)
def test_it_refuses_bad_credit_notes(api_client: Any, customer: Customer, extra: Any) -> None:
    response = _create(api_client, customer, **extra)
    assert response.status_code == 400
    assert not CreditNote.objects.exists()


def test_it_applies_the_least_of_remaining_and_owed_by_default(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    invoice = _invoice(tenant, customer, amount=2000)
    note_id = _create(api_client, customer).json()["id"]
    response = _apply(api_client, note_id, {"invoice": invoice.public_id})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["amount_applied"], body["amount_remaining"]) == (2000, 1000)
    assert body["applications"][0]["invoice"] == invoice.public_id
    invoice.refresh_from_db()
    assert (invoice.amount_credited, invoice.amount_due, invoice.status) == (2000, 0, "paid")
    application = CreditApplication.objects.get()
    assert (application.amount, application.invoice_id) == (2000, invoice.pk)
    api_invoice = api_client.get(f"/api/v1/invoices/{invoice.public_id}").json()
    assert (api_invoice["amount_credited"], api_invoice["amount_due"]) == (2000, 0)


def test_it_refuses_a_second_apply_of_a_spent_note(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    note_id = _create(api_client, customer, amount=1000).json()["id"]
    first, second = _invoice(tenant, customer), _invoice(tenant, customer)
    assert _apply(api_client, note_id, {"invoice": first.public_id}).status_code == 200
    response = _apply(api_client, note_id, {"invoice": second.public_id})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "spent"
    second.refresh_from_db()
    assert second.amount_credited == 0


def test_it_refuses_another_currency_and_another_customers_invoice(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    note_id = _create(api_client, customer).json()["id"]
    euro = _invoice(tenant, customer, currency="eur")
    theirs = _invoice(tenant, factories.make_customer(tenant))
    assert _apply(api_client, note_id, {"invoice": euro.public_id}).status_code in (400, 409)
    assert _apply(api_client, note_id, {"invoice": theirs.public_id}).status_code in (400, 409)
    assert not CreditApplication.objects.exists()


def test_it_refuses_more_than_remains_or_is_owed(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    note_id = _create(api_client, customer).json()["id"]
    small = _invoice(tenant, customer, amount=500)
    big = _invoice(tenant, customer, amount=9000)
    assert (
        _apply(api_client, note_id, {"invoice": small.public_id, "amount": 501}).status_code == 409
    )
    assert (
        _apply(api_client, note_id, {"invoice": big.public_id, "amount": 3001}).status_code == 409
    )
    assert not CreditApplication.objects.exists()


def test_it_voids_only_while_nothing_is_applied(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    unused = _create(api_client, customer).json()["id"]
    response = api_client.post(f"/api/v1/credit-notes/{unused}/void")
    assert (response.status_code, response.json()["status"]) == (200, "void")
    used = _create(api_client, customer).json()["id"]
    _apply(api_client, used, {"invoice": _invoice(tenant, customer).public_id, "amount": 100})
    response = api_client.post(f"/api/v1/credit-notes/{used}/void")
    assert response.status_code == 409
    assert CreditNote.objects.get(public_id=used).status == "issued"


def test_voiding_the_invoice_gives_the_credit_back(
    api_client: Any, tenant: Company, customer: Customer
) -> None:
    invoice = _invoice(tenant, customer)
    note_id = _create(api_client, customer).json()["id"]
    _apply(api_client, note_id, {"invoice": invoice.public_id, "amount": 1200})
    services.invoice_void(invoice=invoice)
    body = api_client.get(f"/api/v1/credit-notes/{note_id}").json()
    assert body["amount_remaining"] == 3000
    assert body["applications"][0]["reversed_at"] is not None
    invoice.refresh_from_db()
    assert invoice.amount_credited == 0


def test_it_lists_by_customer(api_client: Any, tenant: Company, customer: Customer) -> None:
    other = factories.make_customer(tenant)
    _create(api_client, customer)
    _create(api_client, other)
    body = api_client.get(f"/api/v1/credit-notes?customer={customer.public_id}").json()
    assert body["total_count"] == 1
    assert body["data"][0]["customer"] == customer.public_id


def test_it_checks_ownership(client: Any, tenant: Company, other_tenant: Company) -> None:
    customer = factories.make_customer(tenant)
    note = services.credit_note_create(
        company=tenant, customer=customer, currency="usd", amount=100
    )
    invoice = _invoice(tenant, customer)
    key = api_key_create(company=other_tenant)[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert client.get(f"/api/v1/credit-notes/{note.public_id}", **auth).status_code == 404
    for action in ("void", "apply"):
        response = client.post(
            f"/api/v1/credit-notes/{note.public_id}/{action}",
            {"invoice": invoice.public_id},
            content_type="application/json",
            **auth,
        )
        assert response.status_code == 404
    assert client.get("/api/v1/credit-notes", **auth).json()["total_count"] == 0
    response = client.post(
        "/api/v1/credit-notes",
        {"customer": customer.public_id, "currency": "usd", "amount": 5},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 400
    note.refresh_from_db()
    assert (note.status, note.amount_applied) == ("issued", 0)


class TestAdmin:
    def test_it_applies_from_the_admin_and_shows_both_sides(
        self, client: Any, staff: Any, tenant: Company, customer: Customer
    ) -> None:
        note = services.credit_note_create(
            company=tenant, customer=customer, currency="usd", amount=1500
        )
        invoice = _invoice(tenant, customer)
        client.force_login(staff)
        url = reverse("admin:invoices_creditnote_apply", args=[note.pk])
        assert client.get(url).status_code == 200
        response = client.post(url, {"invoice": invoice.pk, "amount": "10.00"})
        assert response.status_code == 302
        assert CreditApplication.objects.get().applied_by == staff
        note_page = client.get(reverse("admin:invoices_creditnote_change", args=[note.pk]))
        invoice_page = client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
        assert invoice.number in note_page.content.decode()
        assert note.number in invoice_page.content.decode()

    def test_it_creates_an_issued_note_in_the_admin(
        self, client: Any, staff: Any, tenant: Company, customer: Customer
    ) -> None:
        client.force_login(staff)
        response = client.post(
            reverse("admin:invoices_creditnote_add"),
            {
                "company": tenant.pk,
                "customer": customer.pk,
                "currency": "usd",
                "amount_text": "12.50",
                "reason": "",
                "invoice": "",
                "applications-TOTAL_FORMS": "0",
                "applications-INITIAL_FORMS": "0",
            },
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        note = CreditNote.objects.get()
        assert (note.amount, note.status) == (1250, "issued")

    def test_it_checks_ownership(self, client: Any, outsider: Any, tenant: Company) -> None:
        customer = factories.make_customer(tenant)
        note = services.credit_note_create(
            company=tenant, customer=customer, currency="usd", amount=1500
        )
        invoice = _invoice(tenant, customer)
        client.force_login(outsider)
        url = reverse("admin:invoices_creditnote_apply", args=[note.pk])
        assert client.post(url, {"invoice": invoice.pk}).status_code == 404
        assert not CreditApplication.objects.exists()
