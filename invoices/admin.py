"""The admin billing staff work in. Thin: list/filter/search here, every change via services.

The invoice admin is composed with other apps' inlines, columns and mixins in
``backoffice/admin.py``, which registers it; this module offers its invoices-own part,
:class:`InvoiceAdminBase`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from invoices import selectors, services, sign_in, staff
from invoices.admin_links import CustomerPortalLinkAdminMixin, InvoiceShareLinkAdminMixin
from invoices.admin_scoping import (
    TenantScopedAdmin,
    allows,
    company_ids,
    ledger_form_page,
    tenant_action,
)
from invoices.bank_details import DEFAULT_UNIT_CODE
from invoices.einvoice.admin_mixin import InvoiceEInvoiceAdminMixin
from invoices.models import (
    ApiKey,
    Company,
    CreditApplication,
    CreditNote,
    Customer,
    Invoice,
    InvoiceStatus,
    LineItem,
    Membership,
    StaffInvitation,
    StaffSignInSettings,
)
from invoices.models.company import EINVOICE_FORMAT_CHOICES, PortalEditableField
from invoices.models.invoice import vat_line_problem
from invoices.money import (
    AmountError,
    UnknownCurrency,
    currency_choices,
    format_amount,
    format_money,
    parse_amount,
)
from invoices.pdf.admin_mixin import InvoicePdfAdminMixin
from invoices.selectors import UNPAID_STATUSES
from invoices.tenancy import Capability
from invoices.timezones import company_today


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

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "default_currency":
            return forms.ChoiceField(
                label=_("Default currency"), choices=currency_choices(), initial="usd"
            )
        if db_field.name == "portal_editable_fields":
            return forms.TypedMultipleChoiceField(
                label=_("Billing details customers may change"),
                choices=PortalEditableField.choices,
                widget=forms.CheckboxSelectMultiple,
                required=False,
                help_text=_(
                    "On the portal's billing details page. Fields not ticked are shown, and "
                    "refused if posted."
                ),
            )
        if db_field.name == "einvoice_formats":
            return forms.MultipleChoiceField(
                label=_("E-invoice formats"),
                choices=EINVOICE_FORMAT_CHOICES,
                widget=forms.CheckboxSelectMultiple,
                required=False,
                help_text=_("Offered to customers on the invoice page and in their account."),
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

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
    readonly_fields = ["public_id", "created_at", "change_history"]

    def save_model(
        self, request: HttpRequest, obj: Customer, form: ModelForm[Any], change: bool
    ) -> None:
        # A change goes through the service, so it joins the customer's change history.
        self.check_writable(request, obj)
        if not change:
            super(TenantScopedAdmin, self).save_model(request, obj, form, change)
            return
        own = {f.name for f in Customer._meta.fields}
        changes = {name: getattr(obj, name) for name in form.changed_data if name in own}
        services.customer_update(customer=obj, changes=changes, actor=request.user)

    @admin.display(description=_("Change history"))
    def change_history(self, customer: Customer) -> str:
        """Every audited change of this customer (by staff, the API or the customer in the
        portal), newest first: one query."""
        if customer.pk is None:
            return "—"
        return render_to_string(
            "admin/invoices/_customer_history.html",
            {"entries": selectors.customer_history(customer=customer)},
        )


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


def amount_input(text: str, currency: str) -> int:
    """What staff typed (major units, like 1,200.00) as minor units, through the one parser."""
    try:
        return parse_amount(text, currency, "en")
    except (AmountError, UnknownCurrency) as exc:
        raise forms.ValidationError(getattr(exc, "message", str(exc))) from None


def amount_initial(amount: int | None, currency: str) -> str:
    """An amount as staff read and type it: ``120000, "usd"`` -> ``1,200.00``."""
    if amount is None:
        return ""
    try:
        return format_amount(amount, currency, "en")
    except UnknownCurrency:
        return str(amount)


class LineItemForm(ModelForm):  # type: ignore[type-arg]
    """A line with its unit amount typed in major units of the invoice's currency."""

    unit_amount = forms.CharField(
        label=_("Unit amount"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 12}),
        help_text=_("In the invoice's currency, like 1,200.00."),
    )

    # Narrow inputs: a line with its VAT and unit fields still fits a laptop's screen.
    _WIDTHS = {
        "description": 16,
        "quantity": 5,
        "unit_code": 4,
        "unit_amount": 8,
        "tax_rate": 5,
        "vat_exemption_reason": 8,
    }

    def __init__(self, *args: Any, currency: str = "usd", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        if "unit_code" in self.fields:
            self.fields["unit_code"].required = False
        for name, size in self._WIDTHS.items():
            if name in self.fields:
                self.fields[name].widget.attrs.update({"size": size, "class": ""})
        if self.instance.pk is not None:
            self.initial["unit_amount"] = amount_initial(self.instance.unit_amount, currency)

    def clean_unit_amount(self) -> int:
        return amount_input(self.cleaned_data["unit_amount"], self.currency)

    def clean_unit_code(self) -> str:
        # Left empty: "one" (C62), the unit of most lines.
        return str(self.cleaned_data.get("unit_code") or DEFAULT_UNIT_CODE)

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        problem = vat_line_problem(
            tax_rate=data.get("tax_rate"),
            vat_category=data.get("vat_category") or "",
            exemption_reason=data.get("vat_exemption_reason") or "",
        )
        if problem and data.get("description"):
            self.add_error("vat_category", problem)
        return data


class LineItemFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    """Lines read in the currency the invoice form posts (or the invoice has)."""

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        posted = (self.data.get("currency") or "") if self.is_bound else ""
        currency = posted or getattr(self.instance, "currency", "") or "usd"
        return {**super().get_form_kwargs(index), "currency": currency}


class LineItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = LineItem
    form = LineItemForm
    formset = LineItemFormSet
    fields = [
        "position",
        "description",
        "quantity",
        "unit_code",
        "unit_amount",
        "tax_rate",
        "vat_category",
        "vat_exemption_reason",
        "amount_display",
    ]
    readonly_fields = ["amount_display"]

    class Media:
        css = {"all": ["invoices/admin_lines.css"]}

    @admin.display(description=_("Amount"))
    def amount_display(self, line: LineItem) -> str:
        if line.pk is None:
            return ""
        return format_money(line.amount, line.invoice.currency, "en")

    @admin.display(description=_("Unit amount"))
    def unit_amount_display(self, line: LineItem) -> str:
        return format_money(line.unit_amount, line.invoice.currency, "en")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.status != InvoiceStatus.DRAFT:
            return [
                "position",
                "description",
                "quantity",
                "unit_code",
                "unit_amount_display",
                "tax_rate",
                "vat_category",
                "vat_exemption_reason",
                "amount_display",
            ]
        return self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.status != InvoiceStatus.DRAFT:
            return self.get_fields(request, obj)
        return self.readonly_fields

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        # A new invoice opens with three empty lines; a draft with one more; issued: none.
        if obj is None:
            return 3
        return 1 if obj.status == InvoiceStatus.DRAFT else 0

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Lines of a finalized invoice are part of a legal document: editable in drafts only,
        # by those who manage the invoice's company.
        if obj is None:
            return True
        return obj.status == "draft" and allows(request, obj.company_id, Capability.MANAGE_INVOICES)

    has_add_permission = has_change_permission  # type: ignore[assignment]
    has_delete_permission = has_change_permission

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The invoice admin (tenant-scoped) already decided who sees the invoice: its lines
        # show, read-only once it is issued.
        return True


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


_BUTTON_LABELS: dict[str, Any] = {
    "finalize": _("Finalize"),
    "mark_uncollectible": _("Mark uncollectible"),
    "send_invoice_by_email": _("Send"),
}


class InvoiceForm(ModelForm):  # type: ignore[type-arg]
    """The invoice's own fields, money in major units of its currency (no Meta: the admin
    builds the form for Invoice with the fields it shows; other apps' forms extend it)."""

    minimum_payment = forms.CharField(
        label=_("Minimum payment"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 12}),
        help_text=_("The smallest part payment accepted, like 50.00. Empty: no minimum."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "minimum_payment" in self.fields:
            self.initial["minimum_payment"] = amount_initial(
                self.instance.minimum_payment, self.instance.currency
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        currency = data.get("currency") or self.instance.currency or ""
        text = (data.get("minimum_payment") or "").strip()
        if "minimum_payment" in self.fields:
            try:
                data["minimum_payment"] = amount_input(text, currency) if text else None
            except forms.ValidationError as exc:
                self.add_error("minimum_payment", exc)
        issue, due = data.get("issue_date"), data.get("due_date")
        if issue and due and due < issue:
            self.add_error("due_date", _("The due date is before the issue date."))
        return data


class InvoiceAdminBase(
    InvoicePdfAdminMixin, InvoiceEInvoiceAdminMixin, InvoiceShareLinkAdminMixin, TenantScopedAdmin
):
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
    form: Any = InvoiceForm
    # Totals are derived (invoices.totals) and shown formatted in the invoice's currency.
    exclude = ["subtotal", "tax_total", "total", "amount_paid", "amount_credited"]
    readonly_fields = [
        "public_id",
        "number",
        "sequence",
        "status",
        "subtotal_display",
        "tax_display",
        "total_display",
        "paid_display",
        "credited_display",
        "due_display",
        "buyer_snapshot",
        "seller_snapshot",
        "finalized_at",
        "paid_at",
        "created_at",
        "pdf_link",
        "einvoice_links",
    ]
    actions = ["finalize", "void", "mark_uncollectible"]
    # Actions offered as buttons on the change page, with the statuses they apply to; each
    # shows only where its tenant_action capability holds in the invoice's company.
    object_actions: dict[str, frozenset[str]] = {
        "finalize": frozenset({InvoiceStatus.DRAFT}),
        "mark_uncollectible": frozenset({InvoiceStatus.OPEN}),
    }

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/do/<str:name>/",
                self.admin_site.admin_view(require_POST(self._object_action_view)),
                name="invoices_invoice_object_action",
            )
        ]
        return own + super().get_urls()

    def _object_action_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """One invoice's action from its button: the same tenant_action the list runs."""
        invoice: Invoice = self.get_object(request, object_id)  # 404 outside their companies
        found = self.get_actions(request).get(name)
        if name not in self.object_actions or found is None:
            raise PermissionDenied
        if not allows(
            request, invoice.company_id, getattr(found[0], "capability", Capability.ADMINISTER)
        ):
            raise PermissionDenied
        found[0](self, request, Invoice.objects.filter(pk=invoice.pk))
        return HttpResponseRedirect(reverse("admin:invoices_invoice_change", args=[invoice.pk]))

    def object_buttons(self, request: HttpRequest, invoice: Invoice) -> list[dict[str, Any]]:
        """The buttons the change page offers this user for this invoice (other apps' mixins
        add theirs): ``{"label", "url", "post", "kind"}``."""
        buttons: list[dict[str, Any]] = []
        actions = self.get_actions(request)
        for name, statuses in self.object_actions.items():
            found = actions.get(name)
            if found is None or invoice.status not in statuses:
                continue
            if not allows(
                request, invoice.company_id, getattr(found[0], "capability", Capability.ADMINISTER)
            ):
                continue
            buttons.append(
                {
                    "label": _BUTTON_LABELS.get(name, found[2]),
                    "url": reverse("admin:invoices_invoice_object_action", args=[invoice.pk, name]),
                    "post": True,
                    "name": name,
                }
            )
        return buttons

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        invoice = self.get_object(request, object_id)
        managed = allows(request, invoice.company_id, Capability.MANAGE_INVOICES)
        extra_context = {
            **(extra_context or {}),
            "object_buttons": self.object_buttons(request, invoice),
            "share_pdf_url": (
                reverse("admin:invoices_invoice_pdf", args=[invoice.pk])
                if managed and invoice.status != InvoiceStatus.DRAFT
                else ""
            ),
            "share_pdf_name": f"{invoice.number}.pdf",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "currency":
            return forms.ChoiceField(label=_("Currency"), choices=currency_choices())
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        # An invoice never moves to another company; an issued one shows what it says
        # read-only, except what the service lets change after issue (one list, there).
        editable = services.invoice_editable_fields(obj)
        frozen = ["company"] + [
            f.name
            for f in Invoice._meta.fields
            if f.editable
            and f.name not in ("company", *self.exclude)
            and editable is not None
            and f.name not in editable
        ]
        frozen = ["minimum_payment_display" if n == "minimum_payment" else n for n in frozen]
        return [*fields, *(name for name in frozen if name not in fields)]

    @admin.display(description=_("Total"), ordering="total")
    def total_display(self, invoice: Invoice) -> str:
        return format_money(invoice.total, invoice.currency, "en")

    @admin.display(description=_("Subtotal"))
    def subtotal_display(self, invoice: Invoice) -> str:
        return format_money(invoice.subtotal, invoice.currency, "en") if invoice.pk else "—"

    @admin.display(description=_("Tax"))
    def tax_display(self, invoice: Invoice) -> str:
        return format_money(invoice.tax_total, invoice.currency, "en") if invoice.pk else "—"

    @admin.display(description=_("Amount paid"))
    def paid_display(self, invoice: Invoice) -> str:
        return format_money(invoice.amount_paid, invoice.currency, "en") if invoice.pk else "—"

    @admin.display(description=_("Credit applied"))
    def credited_display(self, invoice: Invoice) -> str:
        if not invoice.pk:
            return "—"
        return format_money(invoice.amount_credited, invoice.currency, "en")

    @admin.display(description=_("Minimum payment"))
    def minimum_payment_display(self, invoice: Invoice) -> str:
        if invoice.minimum_payment is None:
            return "—"
        return format_money(invoice.minimum_payment, invoice.currency, "en")

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """A new invoice opens in the staff member's company, in its currency, issued today
        and due by its payment terms."""
        initial = dict(super().get_changeform_initial_data(request))
        ids = company_ids(request, Capability.MANAGE_INVOICES)
        chosen = initial.get("company")
        company = None
        if isinstance(chosen, str) and chosen.isdigit():
            company = Company.objects.filter(pk=int(chosen)).first()
        elif ids:
            company = Company.objects.filter(pk__in=ids).order_by("name").first()
        if company is None or not allows(request, company.pk, Capability.MANAGE_INVOICES):
            return initial
        today = company_today(company)
        return {
            **initial,
            "company": company.pk,
            "currency": company.default_currency,
            "issue_date": today,
            "due_date": today + dt.timedelta(days=company.payment_terms_days),
        }

    @admin.display(description=_("Amount due"))
    def due_display(self, invoice: Invoice) -> str:
        if not invoice.pk:
            return "—"
        return format_money(invoice.amount_due, invoice.currency, "en")

    def save_model(
        self, request: HttpRequest, obj: Invoice, form: ModelForm[Any], change: bool
    ) -> None:
        self.check_writable(request, obj)
        if not change:
            services.invoice_save_new(invoice=obj, actor=request.user)
            return
        own = {f.name for f in Invoice._meta.fields}
        changes = {name: getattr(obj, name) for name in form.changed_data if name in own}
        services.invoice_update(invoice=obj, changes=changes, actor=request.user)

    def save_related(
        self, request: HttpRequest, form: ModelForm[Any], formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        if form.instance.status == InvoiceStatus.DRAFT:
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
            except ApplicationError as exc:
                # An illegal transition, or payments to settle (void them one by one from the
                # invoice page, which asks what becomes of the money).
                self.message_user(request, f"{invoice.number}: {exc.message}", messages.WARNING)
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
    currency = forms.ChoiceField(label=_("Currency"), choices=currency_choices)
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
        return ledger_form_page(
            request,
            title=_("Apply to an invoice"),
            subject=f"{note.number}: {format_money(note.remaining, note.currency, 'en')}",
            form=form,
            back_url=back,
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
