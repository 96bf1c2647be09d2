"""The admin's "Download PDF" link on an invoice: the same PDF the customer downloads, for
staff of the invoice's company (scoped like the change view: 404 for anyone else)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from invoices.models import Invoice
from invoices.pdf.html import invoice_pdf_language
from invoices.pdf.http import pdf_response
from invoices.pdf.services import invoice_pdf_get_or_render


class InvoicePdfAdminMixin:
    """Adds ``<id>/pdf/`` to the invoice admin and a ``pdf_link`` read-only field."""

    # Provided by TenantScopedAdmin / ModelAdmin.
    admin_site: Any
    get_object: Callable[..., Any]

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/pdf/",
                self.admin_site.admin_view(require_GET(self._pdf_view)),
                name="invoices_invoice_pdf",
            )
        ]
        return own + super().get_urls()  # type: ignore[misc]

    def _pdf_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        # get_object is tenant-scoped (TenantScopedAdmin): another company's invoice is a 404.
        invoice: Invoice = self.get_object(request, object_id)
        language = invoice_pdf_language(invoice)
        return pdf_response(
            invoice_pdf_get_or_render(invoice=invoice, language=language),
            retry=lambda: invoice_pdf_get_or_render(invoice=invoice, language=language),
        )

    @admin.display(description=_("PDF"))
    def pdf_link(self, invoice: Invoice) -> str:
        if invoice.pk is None:
            return ""
        url = reverse("admin:invoices_invoice_pdf", args=[invoice.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Download PDF"))
