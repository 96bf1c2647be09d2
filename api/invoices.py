"""Invoices endpoints. Thin: parse, call a selector or service, shape the answer."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from api.auth import company_of
from api.errors import ApiError, not_found
from api.examples import described
from api.schemas import (
    InvoiceIn,
    InvoiceList,
    InvoiceOut,
    InvoicePatch,
    LineIn,
    LineOut,
    LinkIn,
    LinkOut,
    VoidIn,
    body_of,
)
from invoices import selectors, services
from invoices.models import Invoice, InvoiceStatus
from invoices.money import UnknownCurrency, exponent
from payments import services as payment_services

router = Router(tags=["invoices"])


def invoice_out(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(
        id=invoice.public_id,
        number=invoice.number,
        status=invoice.status,
        customer=invoice.customer.public_id,
        currency=invoice.currency,
        subtotal=invoice.subtotal,
        tax=invoice.tax_total,
        total=invoice.total,
        amount_paid=invoice.amount_paid,
        amount_credited=invoice.amount_credited,
        amount_due=invoice.amount_due,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        notes=invoice.notes,
        allow_partial_payments=invoice.allow_partial_payments,
        minimum_payment=invoice.minimum_payment,
        lines=[
            LineOut(
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                tax_rate=line.tax_rate,
                vat_category=line.effective_vat_category,
                vat_exemption_reason=line.vat_exemption_reason,
                unit_code=line.unit_code,
                amount=line.amount,
                tax_amount=line.tax_amount,
            )
            for line in invoice.lines.all()
        ],
        created_at=invoice.created_at,
    )


def get_invoice(request: HttpRequest, invoice_id: str) -> Invoice:
    invoice = selectors.invoice_for_company(company=company_of(request), public_id=invoice_id)
    if invoice is None:
        raise not_found("Invoice")
    return invoice


def link_options(request: HttpRequest) -> LinkIn:
    """The optional body of a link call: none, a JSON ``{"expires_at": ...}``, or a form field."""
    try:
        if request.content_type == "application/json" and request.body.strip():
            return LinkIn.model_validate_json(request.body)
        expires_at = request.POST.get("expires_at")
        return LinkIn.model_validate({"expires_at": expires_at} if expires_at else {})
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or None
        raise ApiError(400, "invalid", str(first.get("msg", "Invalid body.")), field) from None


# The link calls read their optional body themselves (link_options): say what they accept.
LINK_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    # JSON refuses unknown fields (LinkIn); a form ignores them.
                    "additionalProperties": media != "application/json",
                    "properties": {
                        "expires_at": {
                            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]
                        }
                    },
                }
            }
            for media in ("application/json", "application/x-www-form-urlencoded")
        },
    }
}


# A void reads its optional body itself (void_options): what becomes of money paid.
VOID_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    # JSON refuses unknown fields (VoidIn); a form ignores them.
                    "additionalProperties": media != "application/json",
                    "properties": {
                        "payments": {
                            "anyOf": [
                                {"type": "string", "enum": ["refund", "credit"]},
                                {"type": "null"},
                            ]
                        }
                    },
                }
            }
            for media in ("application/json", "application/x-www-form-urlencoded")
        },
    }
}


def void_options(request: HttpRequest) -> VoidIn:
    """The optional body of a void: none, a JSON ``{"payments": ...}``, or a form field."""
    if request.content_type == "application/json":
        return body_of(request, VoidIn)
    payments = request.POST.get("payments")
    try:
        return VoidIn.model_validate({"payments": payments} if payments else {})
    except PydanticValidationError:
        raise ApiError(400, "invalid", 'Choose "refund" or "credit".', "payments") from None


# Invoices --------------------------------------------------------------------------------


class InvoiceFilters(Schema):
    status: InvoiceStatus | None = None
    customer: str | None = None
    # The bounds are checked in list_invoices (with their own messages); documented here.
    page: int = Field(default=1, json_schema_extra={"minimum": 1})
    page_size: int = Field(default=25, json_schema_extra={"minimum": 1, "maximum": 100})


def _line_inputs(lines: list[LineIn]) -> list[services.LineInput]:
    return [
        services.LineInput(
            description=line.description,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            tax_rate=line.tax_rate,
            vat_category=line.vat_category,
            vat_exemption_reason=line.vat_exemption_reason,
            unit_code=line.unit_code,
        )
        for line in lines
    ]


def _customer_and_currency(
    request: HttpRequest, customer_id: str | None, currency: str | None
) -> Any:
    customer = None
    if customer_id is not None:
        customer = selectors.customer_for_company(
            company=company_of(request), public_id=customer_id
        )
        if customer is None:
            raise ApiError(400, "invalid", "No such customer.", "customer")
    if currency is not None:
        try:
            exponent(currency)
        except UnknownCurrency:
            raise ApiError(400, "invalid", "Unknown currency.", "currency") from None
    return customer


_LINES = [{"description": "Consulting", "quantity": "2", "unit_amount": 15000, "tax_rate": "19"}]


@router.post(
    "/invoices",
    response={201: InvoiceOut},
    **described(
        "Create a draft invoice",
        "POST",
        "/invoices",
        {"customer": "cus_123", "currency": "eur", "due_date": "2030-01-31", "lines": _LINES},
        "Amounts are integers in the currency's minor unit; the invoice starts as a `draft`.",
    ),
)
def create_invoice(request: HttpRequest, payload: InvoiceIn) -> Status[InvoiceOut]:
    company = company_of(request)
    customer = _customer_and_currency(request, payload.customer, payload.currency)
    invoice = services.invoice_create(
        company=company,
        customer=customer,
        currency=payload.currency,
        due_date=payload.due_date,
        issue_date=payload.issue_date,
        notes=payload.notes,
        allow_partial_payments=payload.allow_partial_payments,
        minimum_payment=payload.minimum_payment,
        lines=_line_inputs(payload.lines),
    )
    return Status(201, invoice_out(get_invoice(request, invoice.public_id)))


@router.get(
    "/invoices",
    response=InvoiceList,
    **described(
        "List invoices",
        "GET",
        "/invoices?status=open",
        None,
        "Newest first; filters `status` and `customer`, `page` and `page_size` (up to 100).",
    ),
)
def list_invoices(request: HttpRequest, filters: Query[InvoiceFilters]) -> InvoiceList:
    if not 1 <= filters.page_size <= 100:
        raise ApiError(400, "invalid", "page_size must be between 1 and 100.", "page_size")
    if filters.page < 1:
        raise ApiError(400, "invalid", "page must be 1 or more.", "page")
    qs = (
        Invoice.objects.filter(company=company_of(request))
        .select_related("customer")
        .prefetch_related("lines")
        .order_by("-issue_date", "-sequence")
    )
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.customer:
        qs = qs.filter(customer__public_id=filters.customer)
    paginator = Paginator(qs, filters.page_size)
    page = paginator.get_page(filters.page) if filters.page <= max(paginator.num_pages, 1) else None
    return InvoiceList(
        data=[invoice_out(invoice) for invoice in page] if page else [],
        page=filters.page,
        page_size=filters.page_size,
        total_count=paginator.count,
        has_more=bool(page and page.has_next()),
    )


@router.get(
    "/invoices/{invoice_id}",
    response=InvoiceOut,
    **described("Retrieve an invoice", "GET", "/invoices/inv_123", None),
)
def retrieve_invoice(request: HttpRequest, invoice_id: str) -> InvoiceOut:
    return invoice_out(get_invoice(request, invoice_id))


@router.patch(
    "/invoices/{invoice_id}",
    response=InvoiceOut,
    **described(
        "Update a draft invoice",
        "PATCH",
        "/invoices/inv_123",
        {"due_date": "2030-02-28", "lines": _LINES},
        "Drafts only (anything else answers 409). Any create field; `lines` replace every "
        "line; fields left out stay as they are.",
    ),
)
def update_invoice(request: HttpRequest, invoice_id: str, payload: InvoicePatch) -> InvoiceOut:
    invoice = get_invoice(request, invoice_id)
    sent = payload.model_fields_set
    for name in sent - {"minimum_payment"}:
        if getattr(payload, name) is None:
            raise ApiError(400, "invalid", f"{name} cannot be null.", name)
    changes: dict[str, Any] = {name: getattr(payload, name) for name in sent - {"lines"}}
    if "customer" in changes or "currency" in changes:
        customer = _customer_and_currency(request, changes.get("customer"), changes.get("currency"))
        if customer is not None:
            changes["customer"] = customer
    services.invoice_draft_update(
        invoice=invoice,
        changes=changes,
        lines=_line_inputs(payload.lines) if "lines" in sent else None,
    )
    return invoice_out(get_invoice(request, invoice_id))


@router.delete(
    "/invoices/{invoice_id}",
    response={204: None},
    **described(
        "Delete a draft invoice",
        "DELETE",
        "/invoices/inv_123",
        None,
        "Drafts only; an issued invoice answers 409 (void it instead).",
    ),
)
def delete_invoice(request: HttpRequest, invoice_id: str) -> Status[None]:
    services.invoice_draft_delete(invoice=get_invoice(request, invoice_id))
    return Status(204, None)


def _transition(request: HttpRequest, invoice_id: str, action: str) -> InvoiceOut:
    invoice = get_invoice(request, invoice_id)
    # An illegal transition raises IllegalTransition: a 409 through the API's error handler.
    if action == "finalize":
        services.invoice_finalize(invoice=invoice)
    elif action == "void":
        payment_services.invoice_void(invoice=invoice, payments=void_options(request).payments)
    else:
        services.invoice_mark_uncollectible(invoice=invoice)
    return invoice_out(get_invoice(request, invoice_id))


@router.post(
    "/invoices/{invoice_id}/finalize",
    response=InvoiceOut,
    **described("Finalize a draft", "POST", "/invoices/inv_123/finalize", None, "draft → `open`."),
)
def finalize_invoice(request: HttpRequest, invoice_id: str) -> InvoiceOut:
    return _transition(request, invoice_id, "finalize")


@router.post(
    "/invoices/{invoice_id}/void",
    response=InvoiceOut,
    openapi_extra=VOID_BODY,
    **described(
        "Void an invoice",
        "POST",
        "/invoices/inv_123/void",
        {"payments": "credit"},
        "→ `void`. When money has been paid on the invoice the body says what becomes of it: "
        '`"refund"` (online payments refunded through Stripe, offline ones recorded as '
        'refunded) or `"credit"` (a credit note for the customer); without it the answer is '
        "409 `has_payments` and nothing changes.",
    ),
)
def void_invoice(request: HttpRequest, invoice_id: str) -> InvoiceOut:
    return _transition(request, invoice_id, "void")


@router.post(
    "/invoices/{invoice_id}/mark-uncollectible",
    response=InvoiceOut,
    **described(
        "Mark an invoice uncollectible",
        "POST",
        "/invoices/inv_123/mark-uncollectible",
        None,
        "open → `uncollectible`; it may still be paid late or voided.",
    ),
)
def mark_invoice_uncollectible(request: HttpRequest, invoice_id: str) -> InvoiceOut:
    return _transition(request, invoice_id, "mark_uncollectible")


@router.post(
    "/invoices/{invoice_id}/share-link",
    response=LinkOut,
    openapi_extra=LINK_BODY,
    **described(
        "Create the invoice's share link",
        "POST",
        "/invoices/inv_123/share-link",
        None,
        "The live `/invoice/<token>` link: the same one while it lives. Optional body "
        '`{"expires_at": "2030-01-01T00:00:00Z"}`. Drafts cannot be shared (409).',
    ),
)
def create_share_link(request: HttpRequest, invoice_id: str) -> LinkOut:
    invoice = get_invoice(request, invoice_id)
    options = link_options(request)
    if invoice.status == InvoiceStatus.DRAFT:
        raise ApiError(409, "invalid_status", "Finalize the invoice before sharing it.", "status")
    link = services.share_link_create(invoice=invoice, expires_at=options.expires_at)
    return LinkOut(
        token=services.share_link_token(link),
        url=services.share_link_url(link),
        expires_at=link.expires_at,
    )


@router.delete(
    "/invoices/{invoice_id}/share-link",
    response={204: None},
    **described(
        "Revoke the invoice's share link",
        "DELETE",
        "/invoices/inv_123/share-link",
        None,
        "The old URL answers 404 at once.",
    ),
)
def revoke_share_link(request: HttpRequest, invoice_id: str) -> Status[None]:
    services.share_link_revoke(invoice=get_invoice(request, invoice_id))
    return Status(204, None)
