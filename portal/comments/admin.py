"""The comment thread in the invoice admin: the thread on the invoice page with a reply box and a
"mark resolved" tick, a "needs attention" marker and filter (with its count) on the list, and a
bulk "mark resolved" action. Thin: replies and resolution go through portal.comments.services.

Mixed into ``invoices.admin.InvoiceAdmin`` (before ``TenantScopedAdmin``, whose scoping and
permissions apply unchanged: read-only staff see the thread but cannot reply)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from invoices.admin_scoping import TenantScopedAdmin, tenant_action
from invoices.models import Invoice
from invoices.models.company import CommentWriteMode
from invoices.tenancy import Capability

from .models import Comment, CustomerTotpDevice
from .services import (
    BODY_MAX_LENGTH,
    CommentError,
    comment_reply,
    customer_totp_reset,
    invoice_attention_resolve,
)


class InvoiceCommentsForm(forms.ModelForm):  # type: ignore[type-arg]
    """The invoice's own fields plus a reply to the thread and a "resolved" tick."""

    comment_write_mode = forms.ChoiceField(
        label=_("Who may comment"),
        required=False,
        choices=[("", _("The company's default")), *CommentWriteMode.choices],
    )
    comment_reply = forms.CharField(
        label=_("Reply to the customer"),
        required=False,
        max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Posted to the invoice's comment thread when you save; the customer sees it."),
    )
    comment_resolve = forms.BooleanField(
        label=_("Mark resolved"),
        required=False,
        help_text=_("Removes the invoice from the 'needs attention' list."),
    )
    # No Meta: the admin builds the form for Invoice with the fields it shows.


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = _("needs attention")
    parameter_name = "needs_attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # One count query, scoped like the list itself.
        waiting = model_admin.get_queryset(request).filter(needs_attention=True).count()
        return [
            ("yes", str(_("Needs attention (%(count)d)") % {"count": waiting})),
            ("no", str(_("No"))),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(needs_attention=True)
        if self.value() == "no":
            return queryset.filter(needs_attention=False)
        return queryset


class InvoiceCommentsAdminMixin:
    form: Any = InvoiceCommentsForm

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invoice]:
        # The comment count in the same query as the list (no query per row).
        counts = (
            Comment.objects.filter(invoice_id=OuterRef("pk"))
            .order_by()
            .values("invoice_id")
            .annotate(n=Count("id"))
            .values("n")
        )
        qs: QuerySet[Invoice] = super().get_queryset(request)  # type: ignore[misc]
        return qs.annotate(comment_count=Coalesce(Subquery(counts), 0))

    @admin.display(description=_("Comments"), ordering="-needs_attention")
    def attention_marker(self, invoice: Invoice) -> SafeString | str:
        count = getattr(invoice, "comment_count", 0)
        if invoice.needs_attention:
            return format_html(
                '<strong class="needs-attention" title="{}">● {}</strong>',
                _("A customer comment waits for an answer"),
                count,
            )
        return str(count) if count else ""

    @admin.display(description=_("Comment thread"))
    def comment_thread(self, invoice: Invoice) -> str:
        if invoice.pk is None:
            return ""
        comments = Comment.objects.filter(invoice_id=invoice.pk).order_by("number")
        return render_to_string(
            "admin/comments/_thread.html", {"comments": comments, "invoice": invoice}
        )

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm[Any], formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        invoice = form.instance
        reply = form.cleaned_data.get("comment_reply", "")
        try:
            if reply and reply.strip():
                comment_reply(invoice=invoice, user=request.user, body=reply)
                self.message_user(request, _("Reply posted."))  # type: ignore[attr-defined]
            if form.cleaned_data.get("comment_resolve"):
                invoice_attention_resolve(invoice=invoice, user=request.user)
        except CommentError as exc:
            self.message_user(request, exc.message, messages.ERROR)  # type: ignore[attr-defined]

    @tenant_action(
        Capability.MANAGE_INVOICES,
        description=_("Mark selected invoices resolved (comments answered)"),
    )
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        done = 0
        for invoice in queryset.filter(needs_attention=True).select_related("company"):
            if invoice_attention_resolve(invoice=invoice, user=request.user):
                done += 1
        self.message_user(  # type: ignore[attr-defined]
            request, _("%(count)d invoice(s) marked resolved.") % {"count": done}
        )


@admin.register(CustomerTotpDevice)
class CustomerTotpDeviceAdmin(TenantScopedAdmin):
    """Customers' authenticator apps: listed (never their secret) and reset by a manager when a
    customer loses the phone; nothing else is edited here."""

    list_display = ["customer", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["customer__name", "customer__email"]
    list_select_related = ["customer"]
    fields = ["customer", "confirmed", "created_at", "last_used_at"]
    readonly_fields = ["customer", "confirmed", "created_at", "last_used_at"]
    actions = ["reset"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # resetting goes through the action (audited, manager only)

    @tenant_action(
        Capability.MANAGE_INVOICES,
        description=_("Reset the selected authenticator apps (the customer sets up again)"),
    )
    def reset(self, request: HttpRequest, queryset: QuerySet[CustomerTotpDevice]) -> None:
        done = 0
        for device in queryset.select_related("company", "customer"):
            try:
                customer_totp_reset(device=device, user=request.user)
                done += 1
            except CommentError as exc:
                self.message_user(request, f"{device.customer}: {exc.message}", messages.ERROR)
        self.message_user(request, _("%(count)d authenticator app(s) reset.") % {"count": done})
