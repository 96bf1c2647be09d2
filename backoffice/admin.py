"""The invoice admin, composed: each app offers its inline, column, filter, action or mixin, and
this is the one place that puts them together on the invoice page staff work in."""

from __future__ import annotations

from django.contrib import admin

from invoices.admin import CustomerAdmin as CustomerAdminBase
from invoices.admin import InvoiceAdminBase, InvoiceForm
from invoices.customer_sessions.admin import CustomerSessionsAdminMixin, sign_out_everywhere
from invoices.models import Customer, Invoice
from payments.admin import CustomerStatementAdminMixin, InvoicePaymentsAdminMixin, PaymentInline
from portal.comments.admin import (
    InvoiceCommentsAdminMixin,
    InvoiceCommentsForm,
    NeedsAttentionFilter,
)
from preferences.admin import (
    CustomerStatementEmailAdminMixin,
    SentEmailInline,
    send_invoice_by_email,
    send_statement_by_email,
)
from tracking.admin import ADMIN_CSS, view_log, views_badge


class InvoiceAdminForm(InvoiceCommentsForm, InvoiceForm):
    """The invoice's own fields (major-unit money) with the comment thread's reply."""


@admin.register(Invoice)
class InvoiceAdmin(InvoicePaymentsAdminMixin, InvoiceCommentsAdminMixin, InvoiceAdminBase):
    list_display = [*InvoiceAdminBase.list_display, views_badge, "attention_marker"]
    list_filter = [*InvoiceAdminBase.list_filter, NeedsAttentionFilter]
    # view_stats: the views badge reads the statistics from the same query (no query per row).
    list_select_related = [*InvoiceAdminBase.list_select_related, "view_stats"]
    inlines = [*InvoiceAdminBase.inlines, PaymentInline, SentEmailInline]
    # view_log is a callable; the stubs allow only names.
    readonly_fields = [
        *InvoiceAdminBase.readonly_fields,
        "record_payment_link",
        view_log,  # type: ignore[list-item]
        "comment_thread",
    ]
    form = InvoiceAdminForm
    object_actions = {
        **InvoiceAdminBase.object_actions,
        "send_invoice_by_email": frozenset({"open", "uncollectible", "paid"}),
    }
    actions = [*InvoiceAdminBase.actions, send_invoice_by_email, "mark_resolved"]

    class Media:
        css = {"all": [ADMIN_CSS]}


# The customer admin, with the statement page (payments) and emailing it (preferences), and
# the customer's sessions (signing out everywhere).
admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerAdmin(
    CustomerSessionsAdminMixin,
    CustomerStatementEmailAdminMixin,
    CustomerStatementAdminMixin,
    CustomerAdminBase,
):
    readonly_fields = [*CustomerAdminBase.readonly_fields, "statement_link", "active_sessions"]
    actions = [send_statement_by_email, sign_out_everywhere]
