"""Admin for payments: the Stripe connection (secrets write-only), payments with flagged
overpayments, and stored webhook events. Thin: every change goes through payments.services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from invoices.admin_scoping import TenantScopedAdmin, allows, ledger_form_page, tenant_action
from invoices.models import Company, Invoice, InvoiceStatus
from invoices.money import AmountError, UnknownCurrency, format_money, parse_amount
from invoices.tenancy import Capability
from invoices.timezones import company_day_start, company_today
from payments import services, statement_document, statements
from payments.models import (
    OFFLINE_METHODS,
    OverpaymentHandling,
    Payment,
    StripeConnection,
    WebhookEvent,
)
from payments.tasks import stripe_sync_task


def amount_from_form(text: str, currency: str) -> int:
    """What staff typed (major units, like 12.50) as minor units, through the one parser."""
    try:
        return parse_amount(text, currency, "en")
    except (AmountError, UnknownCurrency) as exc:
        raise forms.ValidationError(getattr(exc, "message", str(exc))) from None


class OfflinePaymentForm(forms.Form):
    amount = forms.CharField(
        label=_("Amount"), help_text=_("In the invoice's currency, like 12.50.")
    )
    method = forms.ChoiceField(
        label=_("Method"), choices=[(m.value, m.label) for m in OFFLINE_METHODS]
    )
    paid_on = forms.DateField(
        label=_("Received on"),
        required=False,
        help_text=_("Empty: today."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reference = forms.CharField(label=_("Reference"), required=False, max_length=200)

    def __init__(self, *args: Any, company: Company, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.company, self.currency = company, currency

    def clean_amount(self) -> int:
        return amount_from_form(self.cleaned_data["amount"], self.currency)

    def clean_paid_on(self) -> Any:
        day = self.cleaned_data.get("paid_on")
        if day is not None and day > company_today(self.company):
            raise forms.ValidationError(_("The date cannot be in the future."))
        return day


class RefundForm(forms.Form):
    amount = forms.CharField(
        label=_("Amount"), required=False, help_text=_("Empty: everything not yet refunded.")
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self) -> int | None:
        text = self.cleaned_data.get("amount") or ""
        return amount_from_form(text, self.currency) if text.strip() else None


class VoidForm(forms.Form):
    """Voiding an invoice: when money was paid on it, what becomes of that money."""

    payments = forms.ChoiceField(
        label=_("Money paid on this invoice"),
        widget=forms.RadioSelect,
        choices=[
            ("refund", _("Refund it to the customer (through Stripe for online payments)")),
            ("credit", _("Keep it as customer credit (a credit note)")),
        ],
    )

    def __init__(self, *args: Any, has_payments: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not has_payments:
            del self.fields["payments"]


def surplus_text(payment: Payment) -> str:
    """What became of the part of a payment beyond what the invoice owed."""
    if not payment.surplus:
        return "—"
    amount = format_money(payment.surplus, payment.currency, "en")
    if payment.surplus_handling == OverpaymentHandling.CREDIT:
        note = payment.surplus_credit_note
        return str(_("%(amount)s kept as credit (%(note)s)")) % {
            "amount": amount,
            "note": note.number if note is not None else "—",
        }
    if payment.surplus_refund_id:
        return str(_("%(amount)s refunded (%(refund)s)")) % {
            "amount": amount,
            "refund": payment.surplus_refund_id,
        }
    return str(_("%(amount)s to refund")) % {"amount": amount}


class InvoicePaymentsAdminMixin:
    """Adds "Record a payment" (money received outside Stripe) to the invoice admin: a form at
    ``<id>/record-payment/`` for staff who manage the invoice's company (404 for others), and
    a ``record_payment_link`` read-only field. Voiding closes the invoices' open Checkout
    Sessions, in Stripe too."""

    # Provided by TenantScopedAdmin / ModelAdmin.
    admin_site: Any
    get_object: Callable[..., Any]
    has_change_permission: Callable[..., bool]
    message_user: Callable[..., None]

    @tenant_action(Capability.MANAGE_INVOICES, description=_("Void selected invoices"))
    def void(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> Any:
        response = super().void(request, queryset)  # type: ignore[misc]
        for invoice in queryset.filter(status=InvoiceStatus.VOID):
            services.invoice_checkouts_expire(invoice=invoice, actor=request.user)
        return response

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/record-payment/",
                self.admin_site.admin_view(self._record_payment_view),
                name="invoices_invoice_record_payment",
            ),
            path(
                "<path:object_id>/void/",
                self.admin_site.admin_view(self._void_view),
                name="invoices_invoice_void",
            ),
        ]
        return own + super().get_urls()  # type: ignore[misc]

    @staticmethod
    def _void_capability(invoice: Invoice) -> Capability:
        # Money already paid is refunded or credited: that is managing money.
        return Capability.MANAGE_MONEY if invoice.amount_paid else Capability.MANAGE_INVOICES

    def _void_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice: Invoice = self.get_object(request, object_id)  # 404 outside their companies
        if not allows(request, invoice.company_id, self._void_capability(invoice)):
            raise PermissionDenied
        back = reverse("admin:invoices_invoice_change", args=[invoice.pk])
        form = VoidForm(
            request.POST if request.method == "POST" else None,
            has_payments=invoice.amount_paid > 0,
        )
        if request.method == "POST" and form.is_valid():
            try:
                services.invoice_void(
                    invoice=invoice,
                    payments=form.cleaned_data.get("payments"),
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error("payments" if exc.field == "payments" else None, exc.message)
            else:
                self.message_user(request, _("Invoice %s voided.") % invoice.number)
                return HttpResponseRedirect(back)
        paid = format_money(invoice.amount_paid, invoice.currency, "en")
        return ledger_form_page(
            request,
            title=_("Void invoice"),
            subject=(
                _("%(number)s: %(paid)s has been paid on it.")
                % {"number": invoice.number, "paid": paid}
                if invoice.amount_paid
                else invoice.number
            ),
            form=form,
            back_url=back,
        )

    def object_buttons(self, request: HttpRequest, invoice: Invoice) -> list[dict[str, Any]]:
        buttons: list[dict[str, Any]] = super().object_buttons(request, invoice)  # type: ignore[misc]
        company = invoice.company_id
        if invoice.status in services.PAYABLE_STATUSES and allows(
            request, company, Capability.MANAGE_INVOICES
        ):
            buttons.append(
                {
                    "label": _("Record payment"),
                    "url": reverse("admin:invoices_invoice_record_payment", args=[invoice.pk]),
                    "name": "record_payment",
                }
            )
        if allows(request, company, Capability.MANAGE_MONEY):
            for payment in Payment.objects.filter(invoice=invoice).order_by("created_at"):
                if payment.amount_refunded < payment.amount:
                    buttons.append(
                        {
                            "label": _("Refund %s") % payment.public_id,
                            "url": reverse("admin:payments_payment_refund", args=[payment.pk]),
                            "name": "refund",
                        }
                    )
        if invoice.status in (
            InvoiceStatus.DRAFT,
            InvoiceStatus.OPEN,
            InvoiceStatus.UNCOLLECTIBLE,
        ) and allows(request, company, self._void_capability(invoice)):
            buttons.append(
                {
                    "label": _("Void"),
                    "url": reverse("admin:invoices_invoice_void", args=[invoice.pk]),
                    "name": "void",
                }
            )
        return buttons

    def _record_payment_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice: Invoice = self.get_object(request, object_id)  # 404 outside their companies
        if not self.has_change_permission(request, invoice):
            raise PermissionDenied
        back = reverse("admin:invoices_invoice_change", args=[invoice.pk])
        form = OfflinePaymentForm(
            request.POST if request.method == "POST" else None,
            company=invoice.company,
            currency=invoice.currency,
        )
        if request.method == "POST" and form.is_valid():
            day = form.cleaned_data["paid_on"]
            try:
                payment = services.payment_record_offline(
                    invoice=invoice,
                    amount=form.cleaned_data["amount"],
                    method=form.cleaned_data["method"],
                    paid_at=company_day_start(invoice.company, day) if day else None,
                    reference=form.cleaned_data["reference"],
                    source="admin",
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error("amount" if exc.field == "amount" else None, exc.message)
            else:
                self.message_user(
                    request,
                    _("Payment %(id)s of %(amount)s recorded.")
                    % {
                        "id": payment.public_id,
                        "amount": format_money(payment.amount, payment.currency, "en"),
                    },
                )
                return HttpResponseRedirect(back)
        return ledger_form_page(
            request,
            title=_("Record a payment"),
            subject=f"{invoice.number}: {format_money(invoice.amount_due, invoice.currency, 'en')}",
            form=form,
            back_url=back,
        )

    @admin.display(description=_("Payment received"))
    def record_payment_link(self, invoice: Invoice) -> str:
        if invoice.pk is None or invoice.status not in services.PAYABLE_STATUSES:
            return "—"
        url = reverse("admin:invoices_invoice_record_payment", args=[invoice.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Record a payment"))


class StripeConnectionForm(forms.ModelForm):  # type: ignore[type-arg]
    # Write-only: rendered empty, never filled from the database; blank keeps the saved one.
    secret_key = forms.CharField(
        label=_("Secret key"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_(
            "sk_live_… or sk_test_…. Stored encrypted; never shown again. Leave blank to keep."
        ),
    )
    webhook_secret = forms.CharField(
        label=_("Webhook signing secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("whsec_…. Stored encrypted; never shown again. Leave blank to keep."),
    )

    class Meta:
        model = StripeConnection
        fields = [
            "company",
            "publishable_key",
            "active",
            "overpayment_handling",
            "pay_on_stripe_hosted_page",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None and not (data.get("secret_key") and data.get("webhook_secret")):
            raise forms.ValidationError(_("Both secrets are needed to connect Stripe."))
        if data.get("secret_key") and not data["secret_key"].strip().startswith(("sk_", "rk_")):
            self.add_error("secret_key", _("A secret key starts with sk_."))
        if data.get("webhook_secret") and not data["webhook_secret"].strip().startswith("whsec_"):
            self.add_error("webhook_secret", _("A webhook signing secret starts with whsec_."))
        return data


@admin.register(StripeConnection)
class StripeConnectionAdmin(TenantScopedAdmin):
    form = StripeConnectionForm
    # Secrets are keys: owners only.
    write_capability = Capability.MANAGE_STAFF
    list_display = [
        "company",
        "secret_key_hint",
        "active",
        "connected_at",
        "sync_enabled_at",
        "webhook_url",
    ]
    list_select_related = ["company"]
    readonly_fields = [
        "secret_key_hint",
        "webhook_url",
        "connected_at",
        "stripe_account_id",
        "sync_enabled_at",
        "sync_reconciled_at",
    ]
    actions = ["import_from_stripe"]

    @tenant_action(
        Capability.MANAGE_INVOICES,
        description=_("Import customers, invoices and credit notes from Stripe"),
    )
    def import_from_stripe(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """Queue the import (manage.py stripe_sync) of each selected connection's account;
        it resumes where an earlier one stopped and never doubles anything."""
        queued = 0
        for connection in queryset.filter(active=True):
            stripe_sync_task.apply_async((connection.company_id,), ignore_result=True)
            queued += 1
        self.message_user(
            request,
            _(
                "Import from Stripe started for %(count)d account(s). Invoices appear as "
                "they are read; Stripe's webhooks keep them in sync afterwards."
            )
            % {"count": queued},
            messages.SUCCESS,
        )

    @admin.display(description=_("Webhook URL"))
    def webhook_url(self, obj: StripeConnection) -> str:
        if obj.pk is None:
            return "—"
        return settings.PUBLIC_BASE_URL + services.webhook_path(obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The company of an existing connection never changes.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "company"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        self.check_writable(request, obj)
        data = form.cleaned_data
        connection = services.stripe_connection_save(
            company=data.get("company") or obj.company,
            secret_key=data.get("secret_key") or None,
            webhook_secret=data.get("webhook_secret") or None,
            publishable_key=data.get("publishable_key", ""),
            active=data.get("active", True),
            overpayment_handling=data.get("overpayment_handling") or None,
            actor=request.user,
        )
        obj.pk = obj.id = connection.pk
        obj.webhook_key, obj.secret_key_hint = connection.webhook_key, connection.secret_key_hint
        hosted = bool(data.get("pay_on_stripe_hosted_page"))
        StripeConnection.objects.filter(pk=connection.pk).update(pay_on_stripe_hosted_page=hosted)


class PaymentInline(admin.TabularInline):  # type: ignore[type-arg]
    """On the invoice page: its payments, refunds and overpayment flags (read-only)."""

    model = Payment
    fk_name = "invoice"
    fields = readonly_fields = (
        "public_id",
        "paid_at",
        "amount_display",
        "amount_refunded",
        "status",
        "method",
        "reference",
        "source",
        "flagged_overpayment",
        "surplus_display",
        "review_reason",
        "refund_link",
    )
    extra = 0
    can_delete = False
    ordering = ["-paid_at"]
    verbose_name_plural = _("Payments")

    @admin.display(description=_("Amount"))
    def amount_display(self, obj: Payment) -> str:
        return format_money(obj.amount, obj.currency, "en")

    @admin.display(description=_("Surplus"))
    def surplus_display(self, obj: Payment) -> str:
        return surplus_text(obj)

    @admin.display(description=_("Refund"))
    def refund_link(self, obj: Payment) -> str:
        if obj.pk is None or obj.amount_refundable <= 0:
            return "—"
        url = reverse("admin:payments_payment_refund", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Refund"))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The invoice admin (TenantScopedAdmin) already decided who sees this invoice.
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FlaggedFilter(admin.SimpleListFilter):
    title = _("needs review")
    parameter_name = "flagged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", str(_("Overpayment (refunded or credited)")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(flagged_overpayment=True) if self.value() == "yes" else queryset


@admin.register(Payment)
class PaymentAdmin(TenantScopedAdmin):
    list_display = [
        "public_id",
        "invoice",
        "amount_display",
        "status",
        "method",
        "source",
        "flagged_overpayment",
        "surplus_display",
        "created_at",
    ]
    list_filter = [FlaggedFilter, "status", "method"]
    list_select_related = ["invoice", "company", "surplus_credit_note"]
    search_fields = ["public_id", "invoice__number", "provider_payment_intent_id"]
    actions = ["refund_in_full"]
    write_capability = Capability.MANAGE_MONEY
    readonly_fields = [*(f.name for f in Payment._meta.fields), "surplus_display", "refund_link"]

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, obj: Payment) -> str:
        return format_money(obj.amount, obj.currency, "en")

    @admin.display(description=_("Surplus"), ordering="surplus")
    def surplus_display(self, obj: Payment) -> str:
        return surplus_text(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(self._refund_view),
                name="payments_payment_refund",
            )
        ]
        return own + super().get_urls()

    def _refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        payment: Payment = self.get_object(request, object_id)  # 404 outside their companies
        if not self.has_change_permission(request, payment):
            raise PermissionDenied
        back = reverse("admin:payments_payment_change", args=[payment.pk])
        form = RefundForm(
            request.POST if request.method == "POST" else None, currency=payment.currency
        )
        if request.method == "POST" and form.is_valid():
            try:
                services.payment_refund(
                    payment=payment, amount=form.cleaned_data["amount"], actor=request.user
                )
            except ApplicationError as exc:
                form.add_error("amount" if exc.field == "amount" else None, exc.message)
            else:
                self.message_user(request, _("Refund recorded for %s.") % payment.public_id)
                return HttpResponseRedirect(back)
        left = format_money(payment.amount_refundable, payment.currency, "en")
        return ledger_form_page(
            request,
            title=_("Refund"),
            subject=f"{payment.public_id}: {left}",
            form=form,
            back_url=back,
        )

    @admin.display(description=_("Refund"))
    def refund_link(self, payment: Payment) -> str:
        if payment.pk is None or payment.amount_refundable <= 0:
            return "—"
        url = reverse("admin:payments_payment_refund", args=[payment.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Refund"))

    @tenant_action(
        Capability.MANAGE_MONEY,
        description=_("Refund in full (through Stripe for online payments)"),
    )
    def refund_in_full(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset.select_related("company", "invoice"):
            try:
                services.payment_refund(payment=payment, actor=request.user)
            except ApplicationError as exc:  # a refusal of ours or of Stripe, shown to staff
                self.message_user(request, f"{payment.public_id}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, _("Refunded %s.") % payment.public_id)


@admin.register(WebhookEvent)
class WebhookEventAdmin(TenantScopedAdmin):
    company_field = "connection__company"
    list_display = ["event_id", "type", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["event_id"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The customer's statement --------------------------------------------------------------------


class CustomerStatementAdminMixin:
    """On the customer admin (composed in backoffice.admin): a "Statement" page for staff who
    may read the customer's company, showing the statement the customer sees (the same
    partial), and its PDF. ``statement_send_url`` is the hook a sending mixin fills."""

    admin_site: Any
    model: Any
    get_object: Callable[..., Any]
    has_view_permission: Callable[..., bool]

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path(
                "<path:object_id>/statement/",
                wrap(self.statement_view),
                name="invoices_customer_statement",
            ),
            path(
                "<path:object_id>/statement.pdf",
                wrap(self.statement_pdf_view),
                name="invoices_customer_statement_pdf",
            ),
        ]
        return own + super().get_urls()  # type: ignore[misc]

    @admin.display(description=_("Statement"))
    def statement_link(self, obj: Any) -> str:
        if obj is None or obj.pk is None:
            return ""
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:invoices_customer_statement", args=[obj.pk]),
            _("Statement of account"),
        )

    def statement_send_url(self, request: HttpRequest, customer: Any) -> str:
        return ""

    def _statement_customer(self, request: HttpRequest, object_id: str) -> Any:
        customer = self.get_object(request, object_id)  # 404 outside the staff's companies
        if not self.has_view_permission(request, customer):
            raise PermissionDenied
        return customer

    def statement_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        customer = self._statement_customer(request, object_id)
        ledger = statements.customer_ledger(customer=customer)
        today = company_today(customer.company)
        params = {name: request.GET.get(name, "") for name in statements.PARAMETERS}
        error, statement_html, wanted = "", None, None
        try:
            wanted = statements.statement_request(params=params, ledger=ledger, today=today)
        except statements.StatementRefused as refused:
            error = refused.message
        if wanted is not None:
            statement_html = statement_document.statement_html(
                company=customer.company,
                customer=customer,
                statement=statements.statement_build(ledger=ledger, request=wanted),
                language=get_language() or "en",
                today=today,
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Statement of account"),
            "opts": self.model._meta,
            "original": customer,
            "customer": customer,
            "statement_html": statement_html,
            "error": error,
            "wanted": wanted.query() if wanted is not None else {},
            "query": urlencode(wanted.query()) if wanted is not None else "",
            "kind": wanted.kind if wanted is not None else "",
            "months": statement_document.month_choices(
                today=today,
                selected=wanted.month if wanted is not None else None,
                locale=get_language() or "en",
            ),
            "currencies": statement_document.currency_choices(
                ledger=ledger,
                selected=wanted.currency if wanted is not None else ledger.default_currency(),
            ),
            "as_of": (wanted.as_of if wanted is not None else today).isoformat(),
            "send_url": self.statement_send_url(request, customer),
        }
        return render(
            request, "admin/statements/statement.html", context, status=400 if error else 200
        )

    def statement_pdf_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        customer = self._statement_customer(request, object_id)
        ledger = statements.customer_ledger(customer=customer)
        today = company_today(customer.company)
        params = {name: request.GET.get(name, "") for name in statements.PARAMETERS}
        try:
            wanted = statements.statement_request(params=params, ledger=ledger, today=today)
        except statements.StatementRefused as refused:
            return HttpResponse(refused.message, status=400, content_type="text/plain")
        language = customer.preferred_language or customer.company.language or "en"
        body = statement_document.statement_pdf(
            company=customer.company,
            customer=customer,
            statement=statements.statement_build(ledger=ledger, request=wanted),
            language=language,
            today=today,
        )
        response = HttpResponse(body, content_type="application/pdf")
        filename = statement_document.statement_filename(wanted, "pdf")
        response["Content-Disposition"] = content_disposition_header(True, filename) or ""
        return response
