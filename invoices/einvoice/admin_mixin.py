"""The admin's e-invoice downloads on an invoice: one link per format, for staff of the
invoice's company (scoped like the change view). When the data cannot make a valid
e-invoice, the change page says which fields are missing instead of a file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from core.errors import ApplicationError
from invoices.einvoice.data import FORMATS
from invoices.einvoice.services import invoice_einvoice
from invoices.models import Invoice, InvoiceStatus

FORMAT_LABELS = {
    "facturx": "Factur-X (PDF/A-3)",
    "xrechnung": "XRechnung 3.0 (XML)",
    "ubl": "Peppol UBL (XML)",
}


class InvoiceEInvoiceAdminMixin:
    """Adds ``<id>/e-invoice/<format>/`` to the invoice admin and an ``einvoice_links``
    read-only field."""

    admin_site: Any
    get_object: Callable[..., Any]

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/e-invoice/<str:fmt>/",
                self.admin_site.admin_view(require_GET(self._einvoice_view)),
                name="invoices_invoice_einvoice",
            )
        ]
        return own + super().get_urls()  # type: ignore[misc]

    def _einvoice_view(self, request: HttpRequest, object_id: str, fmt: str) -> HttpResponse:
        # get_object is tenant-scoped (TenantScopedAdmin): another company's invoice is a 404.
        invoice: Invoice = self.get_object(request, object_id)
        try:
            file = invoice_einvoice(invoice=invoice, fmt=fmt)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
        response = HttpResponse(file.content, content_type=file.content_type)
        response["Content-Disposition"] = content_disposition_header(True, file.filename) or ""
        return response

    @admin.display(description=_("E-invoice"))
    def einvoice_links(self, invoice: Invoice) -> str:
        if invoice.pk is None or invoice.status == InvoiceStatus.DRAFT:
            return "—"
        return format_html_join(
            " ",
            '<a class="button" href="{}">{}</a>',
            (
                (reverse("admin:invoices_invoice_einvoice", args=[invoice.pk, fmt]), label)
                for fmt, label in ((fmt, FORMAT_LABELS[fmt]) for fmt in FORMATS)
            ),
        ) or format_html("")
