"""Invoice numbering, status transitions and share links."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from invoices import services
from invoices.models import Company, Invoice, InvoiceStatusChange
from invoices.selectors import customer_for_portal_token, invoice_for_share_token
from invoices.transitions import TRANSITIONS, IllegalTransition
from tests import factories


@pytest.mark.django_db
def test_it_numbers_invoices_per_company_without_gaps(
    tenant: Company, other_tenant: Company
) -> None:
    mine = [factories.make_invoice(tenant).number for _ in range(3)]
    theirs = factories.make_invoice(other_tenant).number
    assert mine == ["INV-00001", "INV-00002", "INV-00003"]
    assert theirs == "INV-00001"


@pytest.mark.django_db
def test_it_gives_a_rolled_back_number_back(tenant: Company, customer: Any) -> None:
    factories.make_invoice(tenant, customer)
    with pytest.raises(ValueError):
        # A customer of another company: the service refuses after nothing was written.
        services.invoice_create(
            company=tenant,
            customer=factories.make_customer(factories.make_company()),
            currency="usd",
            due_date=customer.created_at.date(),
        )
    assert factories.make_invoice(tenant, customer).number == "INV-00002"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL row locks and real threads"
)
@pytest.mark.django_db(transaction=True)
def test_it_keeps_numbers_unique_under_concurrent_creation() -> None:
    company = factories.make_company()
    customer = factories.make_customer(company)
    workers, per_worker = 8, 5
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def create_some() -> None:
        try:
            barrier.wait()
            for _ in range(per_worker):
                factories.make_invoice(company, customer, status="draft")
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create_some) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sequences = sorted(Invoice.objects.filter(company=company).values_list("sequence", flat=True))
    assert sequences == list(range(1, workers * per_worker + 1))


@pytest.mark.django_db
class TestTransitions:
    def test_it_follows_the_lifecycle_and_records_each_step(self, tenant: Company) -> None:
        invoice = factories.make_invoice(tenant, status="draft")
        services.invoice_finalize(invoice=invoice)
        services.invoice_transition(invoice=invoice, to_status="paid")
        steps = list(
            InvoiceStatusChange.objects.filter(invoice=invoice).values_list(
                "from_status", "to_status"
            )
        )
        assert steps == [("draft", "open"), ("open", "paid")]
        invoice.refresh_from_db()
        assert invoice.finalized_at is not None and invoice.paid_at is not None

    @pytest.mark.parametrize(
        ("start", "target"),
        [
            ("draft", "paid"),
            ("draft", "uncollectible"),
            ("paid", "draft"),
            ("paid", "void"),
            ("void", "open"),
            ("void", "paid"),
            ("open", "draft"),
        ],
    )
    def test_it_rejects_illegal_transitions(self, tenant: Company, start: str, target: str) -> None:
        invoice = factories.make_invoice(tenant, status=start)
        changes_before = InvoiceStatusChange.objects.filter(invoice=invoice).count()
        with pytest.raises(IllegalTransition):
            services.invoice_transition(invoice=invoice, to_status=target)
        invoice.refresh_from_db()
        assert invoice.status == start
        assert InvoiceStatusChange.objects.filter(invoice=invoice).count() == changes_before

    def test_the_table_names_every_status(self) -> None:
        from invoices.models import InvoiceStatus

        assert set(TRANSITIONS) == set(InvoiceStatus.values)


@pytest.mark.django_db
class TestShareLinks:
    def test_it_stores_no_usable_token(self, tenant: Company) -> None:
        invoice = factories.make_invoice(tenant)
        link = services.share_link_create(invoice=invoice)
        token = services.share_link_token(link)
        assert invoice_for_share_token(token) == invoice
        # Everything the database holds about the link, tried as a token, opens nothing.
        row = link.__class__.objects.filter(pk=link.pk).values().get()
        for value in row.values():
            assert invoice_for_share_token(str(value)) is None
        assert token not in str(row)

    def test_it_never_opens_a_draft(self, tenant: Company) -> None:
        invoice = factories.make_invoice(tenant, status="draft")
        with pytest.raises(ValueError):
            services.share_link_create(invoice=invoice)

    def test_it_rejects_a_tampered_token_without_a_query(
        self, tenant: Company, django_assert_num_queries: Any
    ) -> None:
        token = factories.share_token(factories.make_invoice(tenant))
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        with django_assert_num_queries(0):
            assert invoice_for_share_token(tampered) is None

    def test_it_keeps_invoice_and_portal_tokens_apart(self, tenant: Company, customer: Any) -> None:
        invoice = factories.make_invoice(tenant, customer)
        invoice_token = factories.share_token(invoice)
        portal = factories.portal_token(customer)
        assert customer_for_portal_token(invoice_token) is None
        assert invoice_for_share_token(portal) is None
        assert customer_for_portal_token(portal) == customer
