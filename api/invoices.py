"""Customers and invoices endpoints. Thin: parse, call a selector or service, shape the answer."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from api.auth import company_of
from api.errors import ApiError, not_found
from api.schemas import (
    CustomerIn,
    CustomerOut,
    InvoiceIn,
    InvoiceList,
    InvoiceOut,
    LineOut,
    LinkIn,
    LinkOut,
)
from invoices import selectors, services
from invoices.models import Customer, Invoice, InvoiceStatus
from invoices.money import UnknownCurrency, exponent
from invoices.timezones import company_today
from preferences.selectors import email_preference_for_address
from preferences.services import email_preference_ensure, email_preferences_url

router = Router(tags=["invoices"])


def customer_out(customer: Customer) -> CustomerOut:
    """The customer as the API shows it. A read: ``preferences_url`` is null until the
    address has a preferences row (created with the customer through the API, or by the
    first email sent to it), so a GET never writes."""
    preference = email_preference_for_address(company_id=customer.company_id, email=customer.email)
    return CustomerOut(
        id=customer.public_id,
        name=customer.name,
        email=customer.email,
        external_id=customer.external_id,
        preferred_language=customer.preferred_language,
        created_at=customer.created_at,
        preferences_url=email_preferences_url(preference) if preference is not None else None,
    )


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


def get_customer(request: HttpRequest, customer_id: str) -> Customer:
    customer = selectors.customer_for_company(company=company_of(request), public_id=customer_id)
    if customer is None:
        raise not_found("Customer")
    return customer


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


# Customers -------------------------------------------------------------------------------


@router.post("/customers", response={201: CustomerOut})
def create_customer(request: HttpRequest, payload: CustomerIn) -> Status[CustomerOut]:
    company = company_of(request)
    if payload.external_id and company.customers.filter(external_id=payload.external_id).exists():
        raise ApiError(409, "duplicate", "A customer with this external_id exists.", "external_id")
    customer = services.customer_create(
        company=company,
        name=payload.name,
        email=payload.email,
        external_id=payload.external_id,
        preferred_language=payload.preferred_language,
    )
    # The customer's preferences link exists from the start (the answer carries it).
    email_preference_ensure(company_id=company.pk, email=customer.email)
    return Status(201, customer_out(customer))


@router.get("/customers/{customer_id}", response=CustomerOut)
def retrieve_customer(request: HttpRequest, customer_id: str) -> CustomerOut:
    return customer_out(get_customer(request, customer_id))


class BalanceRow(Schema):
    currency: str
    outstanding: int = Field(description="Owed on issued unpaid invoices, minor units")
    overdue: int = Field(description="The part of outstanding past its due date")
    credit_available: int = Field(description="Unapplied credit, minor units")


class BalanceOut(Schema):
    data: list[BalanceRow]


@router.get("/customers/{customer_id}/balance", response=BalanceOut)
def customer_balance(request: HttpRequest, customer_id: str) -> BalanceOut:
    """The customer's account per currency: outstanding, overdue, credit available."""
    customer = get_customer(request, customer_id)
    rows = selectors.customer_balance(customer=customer, today=company_today(company_of(request)))
    return BalanceOut(
        data=[
            BalanceRow(
                currency=row.currency,
                outstanding=row.outstanding,
                overdue=row.overdue,
                credit_available=row.credit_available,
            )
            for row in rows
        ]
    )


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


@router.post("/customers/{customer_id}/portal-link", response=LinkOut, openapi_extra=LINK_BODY)
def create_portal_link(request: HttpRequest, customer_id: str) -> LinkOut:
    customer = get_customer(request, customer_id)
    options = link_options(request)
    link = services.portal_link_create(customer=customer, expires_at=options.expires_at)
    return LinkOut(
        token=services.share_link_token(link),
        url=services.share_link_url(link),
        expires_at=link.expires_at,
    )


@router.delete("/customers/{customer_id}/portal-link", response={204: None})
def revoke_portal_link(request: HttpRequest, customer_id: str) -> Status[None]:
    services.portal_link_revoke(customer=get_customer(request, customer_id))
    return Status(204, None)


# Invoices --------------------------------------------------------------------------------


class InvoiceFilters(Schema):
    status: InvoiceStatus | None = None
    customer: str | None = None
    # The bounds are checked in list_invoices (with their own messages); documented here.
    page: int = Field(default=1, json_schema_extra={"minimum": 1})
    page_size: int = Field(default=25, json_schema_extra={"minimum": 1, "maximum": 100})


@router.post("/invoices", response={201: InvoiceOut})
def create_invoice(request: HttpRequest, payload: InvoiceIn) -> Status[InvoiceOut]:
    company = company_of(request)
    customer = selectors.customer_for_company(company=company, public_id=payload.customer)
    if customer is None:
        raise ApiError(400, "invalid", "No such customer.", "customer")
    try:
        exponent(payload.currency)
    except UnknownCurrency:
        raise ApiError(400, "invalid", "Unknown currency.", "currency") from None
    invoice = services.invoice_create(
        company=company,
        customer=customer,
        currency=payload.currency,
        due_date=payload.due_date,
        issue_date=payload.issue_date,
        notes=payload.notes,
        allow_partial_payments=payload.allow_partial_payments,
        minimum_payment=payload.minimum_payment,
        lines=[
            services.LineInput(
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                tax_rate=line.tax_rate,
            )
            for line in payload.lines
        ],
    )
    return Status(201, invoice_out(get_invoice(request, invoice.public_id)))


@router.get("/invoices", response=InvoiceList)
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


@router.get("/invoices/{invoice_id}", response=InvoiceOut)
def retrieve_invoice(request: HttpRequest, invoice_id: str) -> InvoiceOut:
    return invoice_out(get_invoice(request, invoice_id))


def _transition(request: HttpRequest, invoice_id: str, action: str) -> InvoiceOut:
    invoice = get_invoice(request, invoice_id)
    # An illegal transition raises IllegalTransition: a 409 through the API's error handler.
    if action == "finalize":
        services.invoice_finalize(invoice=invoice)
    else:
        services.invoice_void(invoice=invoice)
    return invoice_out(get_invoice(request, invoice_id))


@router.post("/invoices/{invoice_id}/finalize", response=InvoiceOut)
def finalize_invoice(request: HttpRequest, invoice_id: str) -> InvoiceOut:
    return _transition(request, invoice_id, "finalize")


@router.post("/invoices/{invoice_id}/void", response=InvoiceOut)
def void_invoice(request: HttpRequest, invoice_id: str) -> InvoiceOut:
    return _transition(request, invoice_id, "void")


@router.post("/invoices/{invoice_id}/share-link", response=LinkOut, openapi_extra=LINK_BODY)
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


@router.delete("/invoices/{invoice_id}/share-link", response={204: None})
def revoke_share_link(request: HttpRequest, invoice_id: str) -> Status[None]:
    services.share_link_revoke(invoice=get_invoice(request, invoice_id))
    return Status(204, None)
