"""Several invoices in one payment from the customer's account (``POST /portal/<token>/pay``):
eligibility and every refusal, one Checkout Session with a line per invoice, one total split
oldest due date first, credit first (and credit covering everything without a card), a
surplus kept as credit, refunds newest allocation first; and advance payments. Through the
Stripe emulator over HTTP, the hosted page pressed as a customer would."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from invoices.models import Company, CreditNote, Customer, Invoice, InvoiceStatus
from invoices.services import credit_note_create
from payments import services
from payments.models import CheckoutAttempt, Payment, Refund, StripeConnection
from stripe_emulator.server import EmulatorServer
from tests.factories import make_customer, make_invoice, portal_token, share_token
from tests.payments.conftest import (
    SECRET_KEY,
    emulator_events,
    pay_on_hosted_page,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(tenant: Company) -> Customer:
    return make_customer(tenant, name="Ada")


@pytest.fixture
def token(customer: Customer) -> str:
    return portal_token(customer)


def _invoice(
    tenant: Company, customer: Customer, amount: int, due_in_days: int, **fields: Any
) -> Invoice:
    return make_invoice(
        tenant, customer, lines=[("Work", "1", amount, "0")], due_in_days=due_in_days, **fields
    )


def _pay(client: Any, token: str, invoices: list[Invoice], **form: str) -> Any:
    data: dict[str, Any] = {"invoice": [invoice.public_id for invoice in invoices], **form}
    return client.post(f"/portal/{token}/pay", data)


def _session(emulator: EmulatorServer, session_id: str) -> dict[str, Any]:
    account = emulator.emulator.store.account_for_secret_key(SECRET_KEY)
    found: dict[str, Any] = next(
        s for s in account.of_kind("checkout.session") if s["id"] == session_id
    )
    return found


def _back_from_checkout(client: Any, checkout_url: str) -> Any:
    """Press Pay on the hosted page and follow Stripe's redirect back to our result page."""
    success = urlsplit(pay_on_hosted_page(checkout_url))
    return client.get(f"{success.path}?{success.query}")


def _refresh(*invoices: Invoice) -> None:
    for invoice in invoices:
        invoice.refresh_from_db()


def test_two_invoices_are_paid_in_one_checkout_with_a_line_each(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    older = _invoice(tenant, customer, 12000, 10)
    newer = _invoice(tenant, customer, 3050, 20)
    response = _pay(client, token, [newer, older])
    assert response.status_code == 303
    attempt = CheckoutAttempt.objects.get(purpose="invoices")
    assert response["Location"] == attempt.checkout_url
    # The plan is stored with the attempt, oldest due date first.
    assert [(p["invoice"], p["amount"]) for p in attempt.plan] == [
        (older.public_id, 12000),
        (newer.public_id, 3050),
    ]
    session = _session(emulator, attempt.provider_id)
    assert session["amount_total"] == 15050
    assert [item["amount_total"] for item in session["_line_items"]] == [12000, 3050]

    page = _back_from_checkout(client, attempt.checkout_url)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-state="succeeded"' in body
    assert older.number in body and newer.number in body
    _refresh(older, newer)
    assert (older.status, older.amount_paid) == (InvoiceStatus.PAID, 12000)
    assert (newer.status, newer.amount_paid) == (InvoiceStatus.PAID, 3050)
    shares = Payment.objects.filter(attempt=attempt).order_by("amount")
    assert [(s.invoice_id, s.amount) for s in shares] == [(newer.pk, 3050), (older.pk, 12000)]
    # The redirect again (a reload) and Stripe's webhooks, repeated, change nothing.
    assert _back_from_checkout_again(client, token, attempt).status_code == 200
    for event in emulator_events(emulator.base_url):
        if event["type"] in ("checkout.session.completed", "payment_intent.succeeded"):
            from payments.webhooks import HANDLERS

            for _ in range(2):
                HANDLERS[event["type"]](tenant, event["data"]["object"])
    assert Payment.objects.count() == 2
    _refresh(older, newer)
    assert older.amount_paid + newer.amount_paid == 15050
    assert older.status_changes.filter(to_status="paid").count() == 1


def _back_from_checkout_again(client: Any, token: str, attempt: CheckoutAttempt) -> Any:
    return client.get(f"/portal/{token}/pay/result?attempt={attempt.public_id}")


def test_one_total_is_split_oldest_due_date_first(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    third = _invoice(tenant, customer, 5000, 30, allow_partial_payments=True)
    first = _invoice(tenant, customer, 4000, 5)
    second = _invoice(tenant, customer, 6000, 15, allow_partial_payments=True)
    response = _pay(client, token, [third, first, second], amount="70.00")
    assert response.status_code == 303
    attempt = CheckoutAttempt.objects.get(purpose="invoices")
    assert [(p["invoice"], p["amount"]) for p in attempt.plan] == [
        (first.public_id, 4000),
        (second.public_id, 3000),
    ]
    _back_from_checkout(client, attempt.checkout_url)
    _refresh(first, second, third)
    assert (first.status, first.amount_paid) == (InvoiceStatus.PAID, 4000)
    assert (second.status, second.amount_paid) == (InvoiceStatus.OPEN, 3000)
    assert third.amount_paid == 0


def test_an_amount_per_invoice_is_taken_as_given(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    one = _invoice(tenant, customer, 4000, 5, allow_partial_payments=True)
    two = _invoice(tenant, customer, 6000, 15)
    response = _pay(client, token, [one, two], **{f"amount_{one.public_id}": "10.00"})
    assert response.status_code == 303
    attempt = CheckoutAttempt.objects.get(purpose="invoices")
    assert [p["amount"] for p in attempt.plan] == [1000, 6000]


def _assert_refused(response: Any, words: str) -> None:
    assert 400 <= response.status_code < 500, response.status_code
    assert "Location" not in response
    assert words in response.content.decode()
    assert not CheckoutAttempt.objects.exists()
    assert not Payment.objects.exists()


def test_mixed_currencies_are_refused_with_a_message_and_nothing_changes(
    client: Any, tenant: Company, customer: Customer, token: str, connected: StripeConnection
) -> None:
    usd = _invoice(tenant, customer, 4000, 5)
    eur = _invoice(tenant, customer, 4000, 5, currency="eur")
    response = _pay(client, token, [usd, eur])
    _assert_refused(response, "different currencies")
    assert "EUR, USD" in response.content.decode()


def test_another_customers_invoice_is_refused(
    client: Any, tenant: Company, customer: Customer, token: str, connected: StripeConnection
) -> None:
    mine = _invoice(tenant, customer, 4000, 5)
    theirs = make_invoice(tenant, lines=[("Work", "1", 4000, "0")])
    _assert_refused(_pay(client, token, [mine, theirs]), "cannot be paid here")
    theirs.refresh_from_db()
    assert theirs.amount_paid == 0


def test_another_companys_invoice_and_a_made_up_id_are_refused(
    client: Any,
    tenant: Company,
    other_tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
) -> None:
    mine = _invoice(tenant, customer, 4000, 5)
    elsewhere = make_invoice(other_tenant, lines=[("Work", "1", 4000, "0")])
    _assert_refused(_pay(client, token, [mine, elsewhere]), "cannot be paid here")
    response = client.post(f"/portal/{token}/pay", {"invoice": [mine.public_id, "inv_nope"]})
    _assert_refused(response, "cannot be paid here")


def test_more_than_a_hundred_invoices_are_refused(
    client: Any, token: str, connected: StripeConnection
) -> None:
    ids = [f"inv_{n:04d}" for n in range(101)]
    _assert_refused(client.post(f"/portal/{token}/pay", {"invoice": ids}), "At most 100")


def test_nothing_selected_paid_void_and_draft_invoices_are_refused(
    client: Any, tenant: Company, customer: Customer, token: str, connected: StripeConnection
) -> None:
    _assert_refused(client.post(f"/portal/{token}/pay", {}), "Select at least one")
    paid = _invoice(tenant, customer, 4000, 5, status="paid")
    _assert_refused(_pay(client, token, [paid]), "nothing left to pay")
    draft = _invoice(tenant, customer, 4000, 5, status="draft")
    _assert_refused(_pay(client, token, [draft]), "cannot be paid here")


def test_partial_rules_minimums_and_the_card_minimum_are_enforced(
    client: Any, tenant: Company, customer: Customer, token: str, connected: StripeConnection
) -> None:
    whole = _invoice(tenant, customer, 4000, 5)
    # A total that would leave the full-payment-only invoice part paid.
    _assert_refused(_pay(client, token, [whole], amount="20.00"), "must be paid in full")
    minimum = _invoice(tenant, customer, 9000, 6, allow_partial_payments=True, minimum_payment=2500)
    _assert_refused(
        _pay(client, token, [minimum], **{f"amount_{minimum.public_id}": "10.00"}),
        "smallest payment accepted on invoice",
    )
    _assert_refused(_pay(client, token, [whole, minimum], amount="500.00"), "owe")
    _assert_refused(_pay(client, token, [whole], amount="1.234"), "decimal")
    tiny = _invoice(tenant, customer, 30, 7)
    _assert_refused(_pay(client, token, [tiny]), "Card payments start at")


def test_bad_tokens_answer_the_one_not_found_page(client: Any) -> None:
    assert client.post("/portal/nope/pay", {"invoice": "inv_x"}).status_code == 404
    assert client.post("/portal/nope/advance-payment", {"amount": "5"}).status_code == 404
    assert client.get("/portal/nope/pay/result?attempt=att_x").status_code == 404


def test_credit_covering_everything_needs_no_card(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    one = _invoice(tenant, customer, 4000, 5)
    two = _invoice(tenant, customer, 2500, 10)
    older_note = credit_note_create(company=tenant, customer=customer, currency="usd", amount=5000)
    newer_note = credit_note_create(company=tenant, customer=customer, currency="usd", amount=3000)
    response = _pay(client, token, [one, two], apply_credit="1")
    assert response.status_code == 303
    assert response["Location"].startswith(f"/portal/{token}/pay/result?attempt=att_")
    _refresh(one, two)
    assert (one.status, two.status) == (InvoiceStatus.PAID, InvoiceStatus.PAID)
    older_note.refresh_from_db()
    newer_note.refresh_from_db()
    # Oldest credit first.
    assert (older_note.remaining, newer_note.remaining) == (0, 1500)
    assert not Payment.objects.exists()
    account = emulator.emulator.store.account_for_secret_key(SECRET_KEY)
    assert not list(account.of_kind("checkout.session"))
    page = client.get(response["Location"])
    assert 'data-state="succeeded"' in page.content.decode()


def test_credit_is_used_first_and_the_card_charges_the_rest(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    one = _invoice(tenant, customer, 4000, 5)
    two = _invoice(tenant, customer, 6000, 10)
    credit_note_create(company=tenant, customer=customer, currency="usd", amount=5000)
    response = _pay(client, token, [one, two], apply_credit="1")
    assert response.status_code == 303
    attempt = CheckoutAttempt.objects.get(purpose="invoices", status="open")
    assert attempt.amount == 5000
    assert [(p["invoice"], p["amount"]) for p in attempt.plan] == [(two.public_id, 5000)]
    _back_from_checkout(client, attempt.checkout_url)
    _refresh(one, two)
    assert (one.status, one.amount_credited) == (InvoiceStatus.PAID, 4000)
    assert (two.status, two.amount_credited, two.amount_paid) == (InvoiceStatus.PAID, 1000, 5000)


def test_credit_leaves_at_least_the_card_minimum_to_charge(
    client: Any, tenant: Company, customer: Customer, token: str, connected: StripeConnection
) -> None:
    one = _invoice(tenant, customer, 4000, 5)
    credit_note_create(company=tenant, customer=customer, currency="usd", amount=3980)
    assert _pay(client, token, [one], apply_credit="1").status_code == 303
    attempt = CheckoutAttempt.objects.get(purpose="invoices")
    assert attempt.amount == 50  # Stripe's minimum: the credit gave way by 30
    one.refresh_from_db()
    assert one.amount_credited == 3950


def test_a_surplus_becomes_the_customers_credit_and_is_shown(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    one = _invoice(tenant, customer, 4000, 5)
    two = _invoice(tenant, customer, 6000, 10)
    assert _pay(client, token, [one, two]).status_code == 303
    attempt = CheckoutAttempt.objects.get(purpose="invoices")
    # Meanwhile the second invoice is paid by bank transfer.
    services.payment_record_offline(invoice=two, amount=6000, method="bank_transfer")
    page = _back_from_checkout(client, attempt.checkout_url)
    _refresh(one, two)
    assert (one.amount_paid, two.amount_paid) == (4000, 6000)
    attempt.refresh_from_db()
    assert attempt.surplus == 6000 and attempt.credit_note is not None
    assert attempt.credit_note.remaining == 6000
    assert attempt.credit_note.customer_id == customer.pk
    assert 'data-testid="surplus"' in page.content.decode()
    # The customer's credit on the portal shows it.
    home = client.get(f"/portal/{token}").content.decode()
    assert "$60.00" in home


def test_refunds_reverse_allocations_newest_first_and_a_named_share_first(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    older = _invoice(tenant, customer, 4000, 5)
    newer = _invoice(tenant, customer, 6000, 10)
    _pay(client, token, [older, newer])
    attempt = CheckoutAttempt.objects.get(purpose="invoices")
    _back_from_checkout(client, attempt.checkout_url)
    older_share = Payment.objects.get(invoice=older)
    newer_share = Payment.objects.get(invoice=newer)

    # Refunded in Stripe's dashboard (charge.refunded only): newest allocation first.
    import stripe

    stripe_api = stripe.StripeClient(SECRET_KEY, base_addresses={"api": emulator.base_url})
    attempt.refresh_from_db()
    stripe_api.v1.refunds.create(
        params={"payment_intent": attempt.provider_intent_id, "amount": 7000}
    )
    charge = next(e for e in emulator_events(emulator.base_url) if e["type"] == "charge.refunded")
    from payments.webhooks import HANDLERS

    HANDLERS["charge.refunded"](tenant, charge["data"]["object"])
    HANDLERS["charge.refunded"](tenant, charge["data"]["object"])  # a repeat changes nothing
    newer_share.refresh_from_db()
    older_share.refresh_from_db()
    assert (newer_share.amount_refunded, older_share.amount_refunded) == (6000, 1000)
    _refresh(older, newer)
    assert (older.status, older.amount_paid) == (InvoiceStatus.OPEN, 3000)
    assert (newer.status, newer.amount_paid) == (InvoiceStatus.OPEN, 0)

    # Refunding a named share (staff, the API) refunds that share.
    services.payment_refund(payment=older_share, amount=1000)
    older_share.refresh_from_db()
    assert older_share.amount_refunded == 2000
    assert Refund.objects.filter(payment=older_share).count() == 2
    attempt.refresh_from_db()
    assert attempt.amount_refunded == 8000 and attempt.refund_targets == []


def test_voiding_an_invoice_with_refund_refunds_its_own_share(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    older = _invoice(tenant, customer, 4000, 5, allow_partial_payments=True)
    newer = _invoice(tenant, customer, 6000, 10)
    _pay(client, token, [older, newer], **{f"amount_{older.public_id}": "20.00"})
    attempt = CheckoutAttempt.objects.get(purpose="invoices")
    _back_from_checkout(client, attempt.checkout_url)
    services.invoice_void(invoice=older, payments="refund")
    assert Payment.objects.get(invoice=older).amount_refunded == 2000
    assert Payment.objects.get(invoice=newer).amount_refunded == 0
    newer.refresh_from_db()
    assert newer.status == InvoiceStatus.PAID


def test_a_double_click_reuses_the_same_checkout(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    one = _invoice(tenant, customer, 4000, 5)
    first = _pay(client, token, [one])
    second = _pay(client, token, [one])
    assert first["Location"] == second["Location"]
    assert CheckoutAttempt.objects.filter(purpose="invoices").count() == 1


# Advance payments --------------------------------------------------------------------------


def test_advance_payments_are_refused_unless_the_company_offers_them(
    client: Any, customer: Customer, token: str, connected: StripeConnection
) -> None:
    response = client.post(
        f"/portal/{token}/advance-payment", {"amount": "50.00", "currency": "usd"}
    )
    assert response.status_code == 403
    assert "not offered" in response.content.decode()
    assert not CheckoutAttempt.objects.exists()


def test_an_advance_payment_becomes_credit_once_paid_and_is_applied_on_finalize(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    tenant.advance_payments = True
    tenant.advance_payment_minimum = 2000
    tenant.advance_payment_maximum = 100000
    tenant.credit_auto_apply = True
    tenant.save()
    post = f"/portal/{token}/advance-payment"
    assert client.post(post, {"amount": "10.00", "currency": "usd"}).status_code == 400
    assert client.post(post, {"amount": "2000.00", "currency": "usd"}).status_code == 400
    assert not CheckoutAttempt.objects.exists()
    response = client.post(post, {"amount": "50.00", "currency": "usd"})
    assert response.status_code == 303
    attempt = CheckoutAttempt.objects.get(purpose="advance")
    # Not credit before it is paid.
    assert not CreditNote.objects.filter(customer=customer).exists()
    page = _back_from_checkout(client, attempt.checkout_url)
    assert 'data-testid="advance-credit"' in page.content.decode()
    note = CreditNote.objects.get(customer=customer)
    assert (note.amount, note.currency) == (5000, "usd")
    # The next invoice finalized takes the credit at once.
    fresh = make_invoice(tenant, customer, lines=[("Work", "1", 3000, "0")])
    fresh.refresh_from_db()
    assert (fresh.status, fresh.amount_credited) == (InvoiceStatus.PAID, 3000)
    # And the statement shows the advance payment as a credit.
    statement = client.get(f"/portal/{token}/statement").content.decode()
    assert note.number in statement


def test_the_api_exposes_the_advance_payment_settings(api_client: Any, tenant: Company) -> None:
    body = api_client.get("/api/v1/company").json()
    assert body["advance_payments"] is False
    response = api_client.patch(
        "/api/v1/company",
        {"advance_payments": True, "advance_payment_minimum": 1000},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    tenant.refresh_from_db()
    assert tenant.advance_payments and tenant.advance_payment_minimum == 1000


def test_the_receipt_of_a_share_lists_the_allocation(
    client: Any,
    tenant: Company,
    customer: Customer,
    token: str,
    connected: StripeConnection,
    emulator: EmulatorServer,
) -> None:
    from payments.receipts import payment_receipt

    older = _invoice(tenant, customer, 12000, 10)
    newer = _invoice(tenant, customer, 3050, 20)
    _pay(client, token, [newer, older])
    _back_from_checkout(client, CheckoutAttempt.objects.get().checkout_url)
    share = Payment.objects.select_related("invoice__company", "invoice__customer").get(
        invoice=newer
    )
    receipt = payment_receipt(payment=share, language="en")
    assert (receipt.amount, receipt.payment_total) == ("$30.50", "$150.50")
    assert receipt.allocation == ((older.number, "$120.00"), (newer.number, "$30.50"))
    # Each invoice's own page shows its share.
    page = client.get(f"/invoice/{share_token(newer)}")
    assert "$30.50" in page.content.decode()


def test_an_invoice_issued_in_stripe_is_refused(
    client: Any, tenant: Company, customer: Customer, token: str, connected: StripeConnection
) -> None:
    mine = _invoice(tenant, customer, 4000, 5)
    native = _invoice(tenant, customer, 4000, 6)
    Invoice.objects.filter(pk=native.pk).update(stripe_invoice_id="in_123")
    _assert_refused(_pay(client, token, [mine, native]), "pay it separately")
