"""The stored PDF is reused while nothing visible changed, and replaced when something did."""

from __future__ import annotations

import time
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from kombu.exceptions import ChannelError
from PIL import Image
from pypdf import PdfReader

from invoices import services
from invoices.models import Company, Customer, Invoice
from invoices.pdf import services as pdf_services
from invoices.pdf.html import invoice_pdf_language
from invoices.pdf.services import PdfFile, invoice_pdf_get_or_render
from invoices.tasks import render_invoice_pdf
from tests import factories
from tests.pdf.conftest import pdf_pages_text


def fresh(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_related("company", "customer").get(pk=invoice.pk)


def download(invoice: Invoice, **kwargs: Any) -> PdfFile:
    return invoice_pdf_get_or_render(invoice=fresh(invoice), language="en", **kwargs)


@pytest.fixture
def invoice(tenant: Company, customer: Customer) -> Invoice:
    return factories.make_invoice(tenant, customer, lines=[("Design", "1", 10000, "0")])


def test_it_serves_the_stored_pdf_when_nothing_changed(invoice: Invoice) -> None:
    first = download(invoice)
    second = download(invoice)
    assert (first.rendered, second.rendered) == (True, False)
    assert second.name == first.name
    assert second.read() == first.read()


def test_it_renders_again_after_a_line_edit_in_a_draft(tenant: Company, customer: Customer) -> None:
    draft = factories.make_invoice(
        tenant, customer, status="draft", lines=[("Design", "1", 100, "0")]
    )
    first = download(draft)
    # What the admin does when staff edit a draft's line: save it, then recalculate. Only the
    # description changes here, so no total moves: the lines themselves are fingerprinted.
    draft.lines.update(description="Design, revised")
    services.invoice_recalculate(invoice=fresh(draft))
    second = download(draft)
    assert second.rendered
    assert second.fingerprint != first.fingerprint
    assert "Design, revised" in pdf_pages_text(second.read())[0]
    # The superseded file is dropped: storage holds one PDF per invoice and language.
    assert not default_storage.exists(first.name)


def test_it_renders_again_after_an_edit_of_a_finalized_invoice(invoice: Invoice) -> None:
    first = download(invoice)
    Invoice.objects.filter(pk=invoice.pk).update(notes="Bank: IBAN DE00 1234")
    second = download(invoice)
    assert second.rendered and second.fingerprint != first.fingerprint
    assert "Bank: IBAN DE00 1234" in pdf_pages_text(second.read())[0]


def test_it_renders_again_after_a_payment(invoice: Invoice) -> None:
    first = download(invoice)
    # As payments.services records a payment: only amount_paid changes.
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=4000)
    second = download(invoice)
    assert second.rendered and second.fingerprint != first.fingerprint
    assert "Amount due $60.00" in pdf_pages_text(second.read())[0]


def page_drawing(pdf: PdfFile) -> bytes:
    """The first page's content stream (colours are ``r g b rg`` operators in it)."""
    return bytes(PdfReader(BytesIO(pdf.read())).pages[0].get_contents().get_data())


def test_it_renders_again_when_the_branding_changes(invoice: Invoice, tenant: Company) -> None:
    first = download(invoice)
    # #aa0000 as PDF RGB, for the title, the rule, the table header and the total.
    brand_red = b"0.666667 0 0 rg"
    assert brand_red not in page_drawing(first)
    Company.objects.filter(pk=tenant.pk).update(brand_color="#aa0000")
    second = download(invoice)
    assert second.rendered and second.fingerprint != first.fingerprint
    assert brand_red in page_drawing(second)


def test_it_keeps_one_pdf_per_language(invoice: Invoice) -> None:
    english = download(invoice)
    german = invoice_pdf_get_or_render(invoice=fresh(invoice), language="de")
    assert german.name != english.name
    assert default_storage.exists(english.name) and default_storage.exists(german.name)
    assert "100,00\xa0$" in pdf_pages_text(german.read())[0]


def test_it_prerenders_the_pdf_when_the_invoice_is_finalized(
    tenant: Company, customer: Customer, django_capture_on_commit_callbacks: Any
) -> None:
    draft = factories.make_invoice(tenant, customer, status="draft")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.invoice_finalize(invoice=draft)
    assert len(callbacks) == 1  # queued on commit, not while the row lock is held
    finalized = fresh(draft)
    pdf = invoice_pdf_get_or_render(invoice=finalized, language=invoice_pdf_language(finalized))
    assert not pdf.rendered


@pytest.fixture
def no_worker() -> Iterator[None]:
    """Celery with a broker but nobody consuming it (tests otherwise run tasks eagerly)."""
    app = render_invoice_pdf.app
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = True
        # Drop the message nobody consumed (from this project's queue only).
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(app.conf.task_default_queue)


def queued_renders() -> int:
    """Messages waiting in this project's queue (nobody consumes them under no_worker)."""
    app = render_invoice_pdf.app
    with app.connection_for_read() as connection:
        try:
            declared = connection.default_channel.queue_declare(
                queue=app.conf.task_default_queue, passive=True
            )
        except ChannelError:  # no queue yet: nothing was ever queued
            return 0
    return int(declared.message_count)


@pytest.mark.usefixtures("no_worker")
def test_it_renders_in_the_request_when_no_worker_answers(
    invoice: Invoice, monkeypatch: pytest.MonkeyPatch
) -> None:
    render_started: list[float] = []
    render_and_store = pdf_services._render_and_store

    def timed_render(*args: Any) -> PdfFile:
        render_started.append(time.monotonic())
        return render_and_store(*args)

    monkeypatch.setattr(pdf_services, "_render_and_store", timed_render)
    before = queued_renders()
    started = time.monotonic()
    pdf = download(invoice, wait_seconds=0.3)
    assert pdf.rendered
    assert default_storage.exists(pdf.name)
    # It gave a worker its chance first: the render was queued, and the request began its
    # own render only once the wait was over (the render's own time does not count).
    assert queued_renders() == before + 1
    assert len(render_started) == 1
    assert render_started[0] - started >= 0.3


@pytest.fixture
def result_store_down(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Celery's result store unreachable (in production it is the broker's Redis: when that is
    down, Celery's result client retries for about 20 seconds before it raises). Returns the
    calls that reached it."""
    backend = render_invoice_pdf.app.backend
    calls: list[str] = []

    def unreachable(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise ConnectionError("result store unreachable")

        return call

    for name in ("on_task_call", "get_task_meta", "wait_for_pending"):
        monkeypatch.setattr(backend, name, unreachable(name))
    return calls


@pytest.mark.usefixtures("no_worker")
def test_it_waits_for_the_worker_without_the_result_store(
    invoice: Invoice, result_store_down: list[str]
) -> None:
    # The download watches the storage only, so a Redis outage costs at most the wait.
    pdf = download(invoice, wait_seconds=0.3)
    assert pdf.rendered and default_storage.exists(pdf.name)
    assert result_store_down == []


@pytest.mark.usefixtures("no_worker")
def test_it_queues_the_prerender_without_the_result_store(
    tenant: Company,
    customer: Customer,
    result_store_down: list[str],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Nobody reads the pre-render's result: finalizing must not wait on the result store.
    draft = factories.make_invoice(tenant, customer, status="draft")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.invoice_finalize(invoice=draft)
    assert len(callbacks) == 1
    assert result_store_down == []


def png(color: str) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (40, 20), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_it_prints_the_logo_and_renders_again_when_its_file_changes(
    invoice: Invoice, tenant: Company
) -> None:
    tenant.logo.save("logo.png", ContentFile(png("red")))
    first = download(invoice)
    assert len(PdfReader(BytesIO(first.read())).pages[0].images) == 1
    # The same file name with new bytes (storages that overwrite in place do this).
    with default_storage.open(tenant.logo.name, "wb") as logo:
        logo.write(png("blue"))
    second = download(invoice)
    assert second.rendered and second.fingerprint != first.fingerprint


def test_it_skips_a_stored_logo_of_too_many_pixels_with_a_log_line(
    invoice: Invoice, tenant: Company, caplog: Any
) -> None:
    without_logo = download(invoice, wait_seconds=0)
    # A few kilobytes declaring 10,000 x 10,000 pixels, stored before uploads were checked.
    buffer = BytesIO()
    Image.new("1", (10000, 10000)).save(buffer, format="PNG")
    tenant.logo.save("huge.png", ContentFile(buffer.getvalue()))
    pdf = download(invoice, wait_seconds=0)
    # Printed as if there were no logo: the same document, never decoded.
    assert pdf.fingerprint == without_logo.fingerprint
    sizes = [image.image.size for image in PdfReader(BytesIO(pdf.read())).pages[0].images]
    assert (10000, 10000) not in sizes
    assert "10000x10000 pixels is beyond the limit" in caplog.text
