"""What the import shows through the REST API (customers by Stripe id, invoices with
Stripe's numbers, once), and the admin action that starts an import."""

from __future__ import annotations

import io
from typing import Any

import stripe
from django.core.management import call_command

from invoices.models import Invoice
from payments.models import StripeConnection
from portal_project.celery import app
from tests.factories import make_staff
from tests.stripe_sync.conftest import stripe_invoice


def test_the_apis_show_imported_customers_and_invoices_once(
    api_client: Any, connected: StripeConnection, sdk: stripe.StripeClient
) -> None:
    ada = sdk.v1.customers.create(params={"name": "Ada", "email": "ada@example.com"})
    grace = sdk.v1.customers.create(params={"name": "Grace", "email": "grace@example.com"})
    numbers = {stripe_invoice(sdk, ada.id, [("Audit", 1, 5_000)]).number for _ in range(2)}
    call_command("stripe_sync", "tenant", stdout=io.StringIO())
    call_command("stripe_sync", "tenant", stdout=io.StringIO())

    found = api_client.get(f"/api/v1/customers?stripe_customer={ada.id}").json()["data"]
    assert [c["email"] for c in found] == ["ada@example.com"]
    assert api_client.get(f"/api/v1/customers?stripe_customer={grace.id}").json()["data"]
    assert api_client.get("/api/v1/customers?stripe_customer=cus_nobody").json()["data"] == []
    invoices = api_client.get(f"/api/v1/invoices?customer={found[0]['id']}").json()["data"]
    assert {i["number"] for i in invoices} == numbers
    assert {i["status"] for i in invoices} == {"open"}


def test_the_admin_action_imports_the_account(
    client: Any, connected: StripeConnection, sdk: stripe.StripeClient
) -> None:
    # The task runs in the request here, as it does under make run (no broker).
    app.conf.task_always_eager = True
    try:
        ada = sdk.v1.customers.create(params={"name": "Ada", "email": "ada@example.com"})
        theirs = stripe_invoice(sdk, ada.id, [("Audit", 1, 5_000)])
        client.force_login(make_staff(connected.company, "owner", username="boss"))

        response = client.post(
            "/admin/payments/stripeconnection/",
            {"action": "import_from_stripe", "_selected_action": [connected.pk]},
        )
    finally:
        app.conf.task_always_eager = False

    assert response.status_code == 302
    assert Invoice.objects.get(stripe_invoice_id=theirs.id).number == theirs.number
