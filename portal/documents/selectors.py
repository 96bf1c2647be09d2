"""Which documents a customer sees, and how many customers see a document.

A customer sees a shared document of their own company that is for them, for one of their
issued invoices (drafts never show), or for every customer. Everything else — another
customer's, another company's, a staff-only one — does not exist for them.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from invoices.models import Customer
from invoices.selectors import CUSTOMER_VISIBLE_STATUSES

from .models import Document, DocumentAudience, DocumentVisibility


def _visible_to(customer: Customer) -> Q:
    return Q(company_id=customer.company_id, visibility=DocumentVisibility.CUSTOMERS) & (
        Q(audience=DocumentAudience.ALL_CUSTOMERS)
        | Q(audience=DocumentAudience.CUSTOMER, customer_id=customer.pk)
        | Q(
            audience=DocumentAudience.INVOICE,
            invoice__customer_id=customer.pk,
            invoice__status__in=CUSTOMER_VISIBLE_STATUSES,
        )
    )


def documents_for_customer(*, customer: Customer) -> QuerySet[Document]:
    """The documents ``customer`` may open, newest first, with their invoice's number. One
    query when evaluated."""
    return (
        Document.objects.filter(_visible_to(customer))
        .select_related("invoice")
        .only(
            "public_id",
            "title",
            "filename",
            "content_type",
            "size",
            "audience",
            "created_at",
            "invoice__number",
        )
        .order_by("-created_at", "-pk")
    )


# customer_has_documents as a scalar subquery for a portal page's one lookup
# (invoices.selectors.Annotations; ``u`` is the customer): the same conditions as _visible_to.
HAS_DOCUMENTS_SQL = (
    "SELECT EXISTS (SELECT 1 FROM documents_document d"
    " LEFT JOIN invoices_invoice di ON di.id = d.invoice_id"
    " WHERE d.company_id = u.company_id AND d.visibility = 'customers'"
    " AND (d.audience = 'all_customers'"
    " OR (d.audience = 'customer' AND d.customer_id = u.id)"
    " OR (d.audience = 'invoice' AND di.customer_id = u.id"
    " AND di.status IN ('open', 'paid', 'void', 'uncollectible'))))"
)


def customer_has_documents(*, customer: Customer) -> bool:
    """Whether the portal shows the Documents tab: one EXISTS query."""
    return Document.objects.filter(_visible_to(customer)).exists()


def document_for_customer(*, customer: Customer, public_id: str) -> Document | None:
    """The document ``public_id`` if ``customer`` may open it, else None. One query."""
    if not isinstance(public_id, str) or not public_id.startswith("doc_") or len(public_id) > 32:
        return None
    return (
        Document.objects.filter(_visible_to(customer), public_id=public_id)
        .only("public_id", "file", "filename", "content_type", "size")
        .first()
    )


def audience_size(document: Document, *, customers_in_company: int) -> int:
    """How many customers can open ``document`` now (0 while it is staff only). The admin
    passes the company's customer count, read in its list query."""
    if document.visibility != DocumentVisibility.CUSTOMERS:
        return 0
    if document.audience == DocumentAudience.ALL_CUSTOMERS:
        return customers_in_company
    if document.audience == DocumentAudience.INVOICE:
        invoice = document.invoice
        return int(invoice is not None and invoice.status in CUSTOMER_VISIBLE_STATUSES)
    return 1
