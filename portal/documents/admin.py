"""Documents in the admin: upload a file for one customer, one invoice or every customer, choose
who sees it (staff only by default), and see how many customers can open it. Thin: saving and
deleting go through portal.documents.services; scoping and roles are TenantScopedAdmin's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from invoices.admin_scoping import TenantScopedAdmin
from invoices.models import Customer

from .filetypes import FileRefused, sniff
from .models import Document, DocumentAudience
from .selectors import audience_size
from .services import document_delete, document_save


class DocumentForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Document
        fields = ["company", "title", "file", "audience", "customer", "invoice", "visibility"]
        widgets = {"audience": forms.RadioSelect, "visibility": forms.RadioSelect}
        help_texts = {
            "file": _("PDF, PNG, JPEG, CSV, XLSX or DOCX, at most 10 MB."),
            "visibility": _("Customers see nothing until you share it."),
        }

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if upload is not None and hasattr(upload, "content_type"):  # a new upload
            try:
                sniff(upload)
            except FileRefused as exc:
                raise forms.ValidationError(exc.message) from None
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        audience = data.get("audience")
        customer, invoice, company = data.get("customer"), data.get("invoice"), data.get("company")
        if audience == DocumentAudience.CUSTOMER and customer is None:
            self.add_error("customer", _("Choose the customer this document is for."))
        if audience == DocumentAudience.INVOICE and invoice is None:
            self.add_error("invoice", _("Choose the invoice this document is for."))
        # Only the target the audience names is kept (the others are cleared on save).
        if audience != DocumentAudience.CUSTOMER:
            data["customer"] = None
        if audience != DocumentAudience.INVOICE:
            data["invoice"] = None
        for target in (data.get("customer"), data.get("invoice")):
            if target is not None and company is not None and target.company_id != company.pk:
                self.add_error("audience", _("Choose a customer or invoice of this company."))
        return data


@admin.register(Document)
class DocumentAdmin(TenantScopedAdmin):
    form = DocumentForm
    list_display = [
        "title",
        "company",
        "audience",
        "target",
        "visibility",
        "seen_by",
        "size_display",
        "created_at",
    ]
    list_filter = ["visibility", "audience"]
    search_fields = ["title", "filename", "public_id", "customer__name", "invoice__number"]
    list_select_related = ["company", "customer", "invoice"]
    readonly_fields = ["public_id", "filename", "content_type", "size", "seen_by", "created_at"]
    raw_id_fields = ["customer", "invoice"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # The company's customer count in the list query itself: no query per row.
        customers = (
            Customer.objects.filter(company_id=OuterRef("company_id"))
            .order_by()
            .values("company_id")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(customers_in_company=Coalesce(Subquery(customers), 0))
        )

    @admin.display(description=_("for"))
    def target(self, document: Document) -> str:
        if document.invoice is not None:
            return document.invoice.number
        if document.customer is not None:
            return document.customer.name
        return str(_("Every customer"))

    @admin.display(description=_("Customers who can see it"))
    def seen_by(self, document: Document) -> int | str:
        if document.pk is None:
            return "—"
        count = getattr(document, "customers_in_company", None)
        if count is None:
            count = Customer.objects.filter(company_id=document.company_id).count()
        return audience_size(document, customers_in_company=count)

    @admin.display(description=_("Size"), ordering="size")
    def size_display(self, document: Document) -> str:
        return f"{document.size / 1024:.0f} KB" if document.size >= 1024 else f"{document.size} B"

    def save_model(self, request: HttpRequest, obj: Document, form: Any, change: bool) -> None:
        self.check_writable(request, obj)
        upload = form.cleaned_data.get("file") if "file" in form.changed_data else None
        document_save(
            document=obj, upload=upload, changed=list(form.changed_data), actor=request.user
        )

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        document_delete(document=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for document in self.deletable(request, queryset):
            document_delete(document=document, actor=request.user)
