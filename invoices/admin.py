"""The admin billing staff work in. Thin: list/filter/search here, every change via services.

The invoice admin is composed with other apps' inlines, columns and mixins in
``backoffice/admin.py``, which registers it; this module offers its invoices-own part,
:class:`InvoiceAdminBase`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from invoices import services, sign_in, staff
from invoices.admin_links import CustomerPortalLinkAdminMixin, InvoiceShareLinkAdminMixin
from invoices.admin_scoping import TenantScopedAdmin, allows, company_ids, tenant_action
from invoices.models import (
    ApiKey,
    Company,
    CreditApplication,
    CreditNote,
    Customer,
    Invoice,
    LineItem,
    Membership,
    StaffInvitation,
    StaffSignInSettings,
)
from invoices.money import AmountError, UnknownCurrency, format_money, parse_amount
from invoices.pdf.admin_mixin import InvoicePdfAdminMixin
from invoices.selectors import UNPAID_STATUSES
from invoices.tenancy import Capability
from invoices.transitions import IllegalTransition


@admin.register(Company)
class CompanyAdmin(TenantScopedAdmin):
    company_field = "pk"
    # Settings are the owner's; plan, slug, creating and deleting a company a superuser's.
    write_capability = Capability.MANAGE_STAFF
    delete_capability = Capability.ADMINISTER
    list_display = ["name", "slug", "plan", "default_currency", "language"]
    search_fields = ["name", "slug"]
    readonly_fields = ["public_key", "next_invoice_sequence", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return company_ids(request, Capability.ADMINISTER) is None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is None or allows(request, obj.pk, Capability.ADMINISTER):
            return fields
        return [*fields, "plan", "slug"]

    def save_model(
        self, request: HttpRequest, obj: Company, form: ModelForm[Any], change: bool
    ) -> None:
        if not change:
            if not self.has_add_permission(request):
                raise PermissionDenied
            super(TenantScopedAdmin, self).save_model(request, obj, form, change)
            return
        self.check_writable(request, obj)
        if {"plan", "slug"} & set(form.changed_data) and not allows(
            request, obj.pk, Capability.ADMINISTER
        ):
            raise PermissionDenied
        staff.company_settings_save(company=obj, changed=form.changed_data, actor=request.user)


class MembershipForm(forms.ModelForm):  # type: ignore[type-arg]
    """People are attached by email, never picked from the list of every account."""

    email = forms.EmailField(
        label=_("Email"),
        help_text=_(
            "An existing account with this email joins at once; anyone else gets an emailed "
            "invitation to create an account."
        ),
    )

    class Meta:
        model = Membership
        fields = ["company", "role"]


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    write_capability = Capability.MANAGE_STAFF
    list_display = ["user", "company", "role"]
    list_filter = ["role"]
    list_select_related = ["user", "company"]
    actions = ["unlock_sign_in"]

    @tenant_action(Capability.MANAGE_STAFF, description=_("Unlock sign-in (after a lock-out)"))
    def unlock_sign_in(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("company", "user"):
            if sign_in.staff_unlock(membership=membership, actor=request.user):
                self.message_user(request, _("%(user)s unlocked.") % {"user": membership.user})

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = MembershipForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["company", "email", "role"] if obj is None else ["user", "company", "role"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A membership never moves to another person or company; only its role changes.
        return ["user", "company"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: Membership, form: ModelForm[Any], change: bool
    ) -> None:
        self.check_writable(request, obj)
        if change:
            staff.membership_role_change(membership=obj, role=obj.role, actor=request.user)
            return
        try:
            result = staff.membership_invite(
                company=obj.company,
                email=form.cleaned_data["email"],
                role=obj.role,
                actor=request.user,
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            result = None
        if isinstance(result, Membership):
            obj.pk = result.pk
            obj.user = result.user
        elif isinstance(result, StaffInvitation):
            self.message_user(
                request, _("Invitation emailed to %(email)s.") % {"email": result.email}
            )

    def response_add(
        self, request: HttpRequest, obj: Membership, post_url_continue: Any = None
    ) -> Any:
        if obj.pk is None:  # invited (or refused): nothing to open
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if obj.pk is None:
            return None
        return super().log_addition(request, obj, message)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        staff.membership_remove(membership=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in self.deletable(request, queryset).select_related("company", "user"):
            self.delete_model(request, membership)


@admin.register(StaffInvitation)
class StaffInvitationAdmin(TenantScopedAdmin):
    """Pending and accepted invitations; new ones are made from the membership form."""

    write_capability = Capability.MANAGE_STAFF
    list_display = ["email", "company", "role", "created_at", "accepted_at"]
    list_select_related = ["company"]
    readonly_fields = ["email", "company", "role", "invited_by", "created_at", "accepted_at"]
    exclude = ["token_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StaffSignInSettings)
class StaffSignInSettingsAdmin(TenantScopedAdmin):
    """How the company's staff sign in: the owners' second factor. The owners'."""

    write_capability = Capability.MANAGE_STAFF
    list_display = ["company", "owners_require_otp", "updated_at"]
    list_select_related = ["company"]
    fields = ["company", "owners_require_otp"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A company's settings never move to another company.
        return ["company"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: StaffSignInSettings, form: ModelForm[Any], change: bool
    ) -> None:
        self.check_writable(request, obj)
        sign_in.sign_in_settings_save(
            settings_row=obj, changed=form.changed_data, actor=request.user
        )


@admin.register(Customer)
class CustomerAdmin(CustomerPortalLinkAdminMixin, TenantScopedAdmin):
    list_display = ["name", "email", "external_id", "company", "public_id"]
    search_fields = ["name", "email", "external_id", "public_id"]
    list_select_related = ["company"]
    readonly_fields = ["public_id", "created_at"]


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", str(_("Overdue"))), ("no", str(_("Not overdue")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        overdue = {"status__in": UNPAID_STATUSES, "due_date__lt": timezone.localdate()}
        if self.value() == "yes":
            return queryset.filter(**overdue)
        if self.value() == "no":
            return queryset.exclude(**overdue)
        return queryset


class LineItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = LineItem
    extra = 1
    fields = ["position", "description", "quantity", "unit_amount", "tax_rate", "amount"]
    readonly_fields = ["amount"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Lines of a finalized invoice are part of a legal document: editable in drafts only,
        # by those who manage the invoice's company.
        if obj is None:
            return True
        return obj.status == "draft" and allows(request, obj.company_id, Capability.MANAGE_INVOICES)

    has_add_permission = has_change_permission  # type: ignore[assignment]
    has_delete_permission = has_change_permission


class CreditApplicationInline(admin.TabularInline):  # type: ignore[type-arg]
    """Credit applied: on a credit note (to which invoices) and on an invoice (from which
    notes). Read-only: applying goes through the credit note's "Apply" form."""

    model = CreditApplication
    fields = readonly_fields = (
        "credit_note",
        "invoice",
        "amount_display",
        "applied_at",
        "applied_by",
        "reversed_at",
    )
    extra = 0
    can_delete = False
    verbose_name_plural = _("Credit applied")

    @admin.display(description=_("Amount"))
    def amount_display(self, obj: CreditApplication) -> str:
        return format_money(obj.amount, obj.invoice.currency, "en")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The parent admin (tenant-scoped) already decided who sees the object.
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InvoiceAdminBase(InvoicePdfAdminMixin, InvoiceShareLinkAdminMixin, TenantScopedAdmin):
    """The invoice admin without other apps' parts (registered by ``backoffice.admin``)."""

    list_display = [
        "number",
        "customer",
        "status",
        "total_display",
        "due_display",
        "due_date",
    ]
    list_filter = ["status", OverdueFilter, "currency"]
    search_fields = ["number", "customer__name", "customer__email", "public_id"]
    list_select_related = ["customer", "company"]
    date_hierarchy = "issue_date"
    inlines = [LineItemInline, CreditApplicationInline]
    readonly_fields = [
        "public_id",
        "number",
        "sequence",
        "status",
        "subtotal",
        "tax_total",
        "total",
        "amount_paid",
        "amount_credited",
        "buyer_snapshot",
        "seller_snapshot",
        "finalized_at",
        "paid_at",
        "created_at",
        "pdf_link",
    ]
    actions = ["finalize", "void", "mark_uncollectible"]

    @admin.display(description=_("Total"), ordering="total")
    def total_display(self, invoice: Invoice) -> str:
        return format_money(invoice.total, invoice.currency, "en")

    @admin.display(description=_("Amount due"))
    def due_display(self, invoice: Invoice) -> str:
        return format_money(invoice.amount_due, invoice.currency, "en")

    def save_model(
        self, request: HttpRequest, obj: Invoice, form: ModelForm[Any], change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:
            self.check_writable(request, obj)
            services.invoice_save_new(invoice=obj, actor=request.user)

    def save_related(
        self, request: HttpRequest, form: ModelForm[Any], formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        services.invoice_recalculate(invoice=form.instance)

    def _run_transition(self, request: HttpRequest, queryset: QuerySet[Invoice], verb: str) -> None:
        action = {
            "finalize": services.invoice_finalize,
            "void": services.invoice_void,
            "mark_uncollectible": services.invoice_mark_uncollectible,
        }[verb]
        done = 0
        for invoice in queryset:
            try:
                action(invoice=invoice, actor=request.user)
                done += 1
            except IllegalTransition as exc:
                self.message_user(request, f"{invoice.number}: {exc}", messages.WARNING)
        self.message_user(request, _("%(count)d invoice(s) updated.") % {"count": done})

    @tenant_action(Capability.MANAGE_INVOICES, description=_("Finalize selected drafts"))
    def finalize(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._run_transition(request, queryset, "finalize")

    @tenant_action(Capability.MANAGE_INVOICES, description=_("Void selected invoices"))
    def void(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._run_transition(request, queryset, "void")

    @tenant_action(
        Capability.MANAGE_INVOICES, description=_("Mark selected invoices uncollectible")
    )
    def mark_uncollectible(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._run_transition(request, queryset, "mark_uncollectible")


class CreditNoteForm(ModelForm):  # type: ignore[type-arg]
    amount_text = forms.CharField(label=_("Amount"), help_text=_("Like 12.50, in the currency."))

    class Meta:
        model = CreditNote
        fields = ["company", "customer", "currency", "reason", "invoice"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            data["amount"] = parse_amount(
                data.get("amount_text") or "", data.get("currency") or "", "en"
            )
        except (AmountError, UnknownCurrency) as exc:
            self.add_error("amount_text", getattr(exc, "message", str(exc)))
        return data


class CreditNoteApplyForm(forms.Form):
    invoice = forms.ModelChoiceField(label=_("Invoice"), queryset=Invoice.objects.none())
    amount = forms.CharField(
        label=_("Amount"), required=False, help_text=_("Empty: as much as remains and is owed.")
    )

    def __init__(self, *args: Any, note: CreditNote, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.note = note
        self.fields["invoice"].queryset = Invoice.objects.filter(  # type: ignore[attr-defined]
            company_id=note.company_id,
            customer_id=note.customer_id,
            currency=note.currency,
            status__in=UNPAID_STATUSES,
        )

    def clean_amount(self) -> int | None:
        text = (self.cleaned_data.get("amount") or "").strip()
        if not text:
            return None
        try:
            return parse_amount(text, self.note.currency, "en")
        except AmountError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(CreditNote)
class CreditNoteAdmin(TenantScopedAdmin):
    form = CreditNoteForm
    list_display = [
        "number",
        "customer",
        "status",
        "amount_display",
        "remaining_display",
        "issued_at",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["number", "customer__name", "customer__email", "public_id"]
    list_select_related = ["customer"]
    inlines = [CreditApplicationInline]
    actions = ["void"]
    # Issuing, applying and voiding credit is money: managers of the note's company.
    write_capability = Capability.MANAGE_MONEY

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, note: CreditNote) -> str:
        return format_money(note.amount, note.currency, "en")

    @admin.display(description=_("Remaining"))
    def remaining_display(self, note: CreditNote) -> str:
        return format_money(note.remaining, note.currency, "en")

    @admin.display(description=_("Apply"))
    def apply_link(self, note: CreditNote) -> str:
        if note.pk is None or note.status != "issued" or note.remaining <= 0:
            return "—"
        url = reverse("admin:invoices_creditnote_apply", args=[note.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Apply to an invoice"))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["company", "customer", "currency", "amount_text", "reason", "invoice"]
        return [
            "public_id",
            "number",
            "customer",
            "status",
            "currency",
            "amount_display",
            "amount_applied",
            "remaining_display",
            "reason",
            "invoice",
            "issued_at",
            "voided_at",
            "apply_link",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(
        self, request: HttpRequest, obj: CreditNote, form: ModelForm[Any], change: bool
    ) -> None:
        # The company written (and the customer and invoice it points to) must be one where
        # the user manages money: re-checked here, whatever the form offered.
        self.check_writable(request, obj)
        if change:
            return  # an issued credit note never changes; void it instead
        data = form.cleaned_data
        if not allows(request, data["company"].pk, Capability.MANAGE_MONEY):
            raise PermissionDenied
        note = services.credit_note_create(
            company=data["company"],
            customer=data["customer"],
            currency=data["currency"],
            amount=data["amount"],
            reason=data.get("reason") or "",
            invoice=data.get("invoice"),
            actor=request.user,
        )
        obj.pk, obj.public_id, obj.number = note.pk, note.public_id, note.number

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/apply/",
                self.admin_site.admin_view(self._apply_view),
                name="invoices_creditnote_apply",
            )
        ]
        return own + super().get_urls()

    def _apply_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        note: CreditNote = self.get_object(request, object_id)  # 404 outside their companies
        if not self.has_change_permission(request, note):
            raise PermissionDenied
        back = reverse("admin:invoices_creditnote_change", args=[note.pk])
        form = CreditNoteApplyForm(request.POST if request.method == "POST" else None, note=note)
        if request.method == "POST" and form.is_valid():
            try:
                services.credit_note_apply(
                    note=note,
                    invoice=form.cleaned_data["invoice"],
                    amount=form.cleaned_data["amount"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error("amount" if exc.field == "amount" else None, exc.message)
            else:
                self.message_user(request, _("Credit applied."))
                return HttpResponseRedirect(back)
        return render(
            request,
            "admin/ledger/form.html",
            {
                "title": _("Apply to an invoice"),
                "subject": f"{note.number}: {format_money(note.remaining, note.currency, 'en')}",
                "form": form,
                "back_url": back,
            },
        )

    @tenant_action(Capability.MANAGE_MONEY, description=_("Void selected credit notes"))
    def void(self, request: HttpRequest, queryset: QuerySet[CreditNote]) -> None:
        for note in queryset:
            try:
                services.credit_note_void(note=note, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{note.number}: {exc.message}", messages.WARNING)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An issued credit note is a document: it is voided, never deleted.
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    list_display = ["prefix", "name", "company", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["company"]
    fields = ["company", "name"]
    actions = ["revoke"]
    # Keys open the company's whole API: owners only.
    write_capability = Capability.MANAGE_STAFF

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: ModelForm[Any], change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        self.check_writable(request, obj)
        key, raw_key = services.api_key_create(
            company=obj.company, name=obj.name, actor=request.user
        )
        obj.pk = key.pk
        # Shown once; only a hash is kept.
        self.message_user(
            request, _("New API key (copy it now, it will not be shown again): %s") % raw_key
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    @tenant_action(Capability.MANAGE_STAFF, description=_("Revoke selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(key=key, actor=request.user)
        self.message_user(request, _("Keys revoked."))
