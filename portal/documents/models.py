"""Files staff share with customers: a contract, a price list, a delivery note.

A document is for one customer, one invoice (its customer sees it once the invoice is issued)
or every customer of the company; it is seen by staff only until staff share it. The stored
file's name is random: the name customers download it under is kept apart (``filename``), and
its type is the one sniffed from the content at upload (``content_type``), never the browser's.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from invoices.ids import new_public_id
from invoices.models import Company, Customer, Invoice


def new_document_id() -> str:
    return new_public_id("doc")


def document_upload_to(document: Document, filename: str) -> str:
    # Nothing of the uploader's name in the path: it is neither trusted nor needed there.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"documents/{document.company_id}/{secrets.token_hex(16)}.{extension}"


class DocumentAudience(models.TextChoices):
    CUSTOMER = "customer", _("One customer")
    INVOICE = "invoice", _("One invoice (its customer)")
    ALL_CUSTOMERS = "all_customers", _("All customers of the company")


class DocumentVisibility(models.TextChoices):
    STAFF = "staff", _("Staff only")
    CUSTOMERS = "customers", _("Shared with the customer(s)")


class Document(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="documents")
    public_id = models.CharField(max_length=32, unique=True, default=new_document_id)
    title = models.CharField(_("title"), max_length=200)
    file = models.FileField(_("file"), upload_to=document_upload_to, max_length=200)
    # What the download is called (the title's safe form with the sniffed type's extension).
    filename = models.CharField(max_length=200)
    # Sniffed from the content at upload (portal.documents.filetypes), one of the allowed types.
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(default=0)
    audience = models.CharField(
        _("for"), max_length=16, choices=DocumentAudience.choices, default=DocumentAudience.CUSTOMER
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="documents"
    )
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="documents"
    )
    # Staff only until someone decides otherwise: sharing is never the default.
    visibility = models.CharField(
        _("visible to"),
        max_length=10,
        choices=DocumentVisibility.choices,
        default=DocumentVisibility.STAFF,
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # The audience names exactly the object it needs: a customer document without a
            # customer must never fall back to "everyone".
            models.CheckConstraint(
                condition=(
                    Q(audience="customer", customer__isnull=False, invoice__isnull=True)
                    | Q(audience="invoice", customer__isnull=True, invoice__isnull=False)
                    | Q(audience="all_customers", customer__isnull=True, invoice__isnull=True)
                ),
                name="document_audience_target",
            )
        ]
        indexes = [
            # The customer's list: shared documents of the company by audience.
            models.Index(
                fields=["company", "visibility", "audience"], name="document_company_shared"
            ),
            models.Index(fields=["customer", "visibility"], name="document_customer_shared"),
            models.Index(fields=["invoice", "visibility"], name="document_invoice_shared"),
        ]

    def __str__(self) -> str:
        return self.title
