"""Customers: create, list, read, change, and the portal link."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from api.auth import company_of
from api.errors import ApiError, not_found
from api.examples import described
from api.invoices import LINK_BODY, link_options
from api.schemas import (
    CUSTOMER_FIELDS,
    CUSTOMER_LATER_FIELDS,
    CustomerIn,
    CustomerList,
    CustomerOut,
    CustomerPatch,
    LinkOut,
    StrictSchema,
    sent_fields,
)
from invoices import selectors, services
from invoices.customer_sessions import services as sessions
from invoices.customer_sessions.models import SignInPage, SignInSource
from invoices.models import Customer
from invoices.timezones import company_today
from payments import statements
from preferences.selectors import email_preference_for_address
from preferences.services import email_preference_ensure, email_preferences_url

router = Router(tags=["customers"])

# The Customer field that holds a Stripe customer id, once Stripe sync adds one. Until then the
# ``stripe_customer`` filter is accepted and matches no customer (none is linked to Stripe).
STRIPE_CUSTOMER_FIELD = "stripe_customer_id"


def customer_out(customer: Customer) -> Any:
    """The customer as the API shows it. A read: ``preferences_url`` is null until the
    address has a preferences row (created with the customer through the API, or by the
    first email sent to it), so a GET never writes."""
    preference = email_preference_for_address(company_id=customer.company_id, email=customer.email)
    if preference is not None and Customer.company.is_cached(customer):
        preference.company = customer.company  # loaded already: its domain makes the URL
    later = {
        name: getattr(customer, name) for name in CUSTOMER_LATER_FIELDS if hasattr(customer, name)
    }
    return CustomerOut(
        id=customer.public_id,
        **{name: getattr(customer, name) for name in CUSTOMER_FIELDS},
        **later,
        created_at=customer.created_at,
        preferences_url=email_preferences_url(preference) if preference is not None else None,
    )


def get_customer(request: HttpRequest, customer_id: str) -> Customer:
    customer = selectors.customer_for_company(company=company_of(request), public_id=customer_id)
    if customer is None:
        raise not_found("Customer")
    return customer


class CustomerFilters(Schema):
    email: str | None = Field(None, max_length=254, description="Exact address, any case")
    external_id: str | None = Field(None, max_length=100)
    stripe_customer: str | None = Field(
        None, max_length=255, description="Stripe customer id (cus_… in Stripe)"
    )
    page: int = 1
    page_size: int = 25


def _filtered(qs: QuerySet[Customer], filters: CustomerFilters) -> QuerySet[Customer]:
    if filters.email:
        qs = qs.filter(email__iexact=filters.email)
    if filters.external_id:
        qs = qs.filter(external_id=filters.external_id)
    if filters.stripe_customer:
        names = {field.name for field in Customer._meta.concrete_fields}
        if STRIPE_CUSTOMER_FIELD in names:
            qs = qs.filter(**{STRIPE_CUSTOMER_FIELD: filters.stripe_customer})
        else:
            qs = qs.none()
    return qs


@router.post(
    "/customers",
    response={201: CustomerOut},
    **described(
        "Create a customer",
        "POST",
        "/customers",
        {"name": "Ada Lovelace", "email": "ada@example.com", "external_id": "A-1"},
    ),
)
def create_customer(request: HttpRequest, payload: CustomerIn) -> Status[Any]:
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


@router.get(
    "/customers",
    response=CustomerList,
    **described(
        "List customers",
        "GET",
        "/customers?email=ada@example.com",
        None,
        "Newest first, `page_size` up to 100. Filters: `email` (exact, any case), "
        "`external_id`, `stripe_customer`.",
    ),
)
def list_customers(request: HttpRequest, filters: Query[CustomerFilters]) -> CustomerList:
    if not 1 <= filters.page_size <= 100:
        raise ApiError(400, "invalid", "page_size must be between 1 and 100.", "page_size")
    if filters.page < 1:
        raise ApiError(400, "invalid", "page must be 1 or more.", "page")
    qs = _filtered(
        Customer.objects.filter(company=company_of(request)).order_by("-created_at", "-id"),
        filters,
    )
    paginator = Paginator(qs, filters.page_size)
    page = paginator.get_page(filters.page) if filters.page <= max(paginator.num_pages, 1) else None
    return CustomerList(
        data=[customer_out(customer) for customer in page] if page else [],
        page=filters.page,
        page_size=filters.page_size,
        total_count=paginator.count,
        has_more=bool(page and page.has_next()),
    )


@router.get(
    "/customers/{customer_id}",
    response=CustomerOut,
    **described("Retrieve a customer", "GET", "/customers/cus_123", None),
)
def retrieve_customer(request: HttpRequest, customer_id: str) -> Any:
    return customer_out(get_customer(request, customer_id))


@router.patch(
    "/customers/{customer_id}",
    response=CustomerOut,
    **described(
        "Update a customer",
        "PATCH",
        "/customers/cus_123",
        {"email": "billing@example.com", "city": "London", "country": "GB"},
        "Any create field plus the billing address; fields left out stay as they are.",
    ),
)
def update_customer(
    request: HttpRequest,
    customer_id: str,
    payload: CustomerPatch,  # type: ignore[valid-type]
) -> Any:
    customer = get_customer(request, customer_id)
    changes = sent_fields(payload)
    for name, value in changes.items():
        if value is None:
            raise ApiError(400, "invalid", f"{name} cannot be null.", name)
    old_email = customer.email
    services.customer_update(customer=customer, changes=changes, source="api")
    if customer.email != old_email:
        email_preference_ensure(company_id=customer.company_id, email=customer.email)
    return customer_out(customer)


@router.post(
    "/customers/{customer_id}/portal-link",
    response=LinkOut,
    openapi_extra=LINK_BODY,
    **described(
        "Create the customer's portal link",
        "POST",
        "/customers/cus_123/portal-link",
        {},
        "The live link of the customer's portal (`/portal/<token>`): the same one while it "
        'lives. Optional body `{"expires_at": "2030-01-01T00:00:00Z"}`.',
    ),
)
def create_portal_link(request: HttpRequest, customer_id: str) -> LinkOut:
    customer = get_customer(request, customer_id)
    options = link_options(request)
    link = services.portal_link_create(customer=customer, expires_at=options.expires_at)
    return LinkOut(
        token=services.share_link_token(link),
        url=services.share_link_url(link),
        expires_at=link.expires_at,
    )


@router.delete(
    "/customers/{customer_id}/portal-link",
    response={204: None},
    **described(
        "Revoke the customer's portal link",
        "DELETE",
        "/customers/cus_123/portal-link",
        None,
        "The old URL answers 404 at once.",
    ),
)
def revoke_portal_link(request: HttpRequest, customer_id: str) -> Status[None]:
    services.portal_link_revoke(customer=get_customer(request, customer_id))
    return Status(204, None)


class SignInLinkIn(StrictSchema):
    redirect_to: Literal[
        "home", "invoices", "credit_notes", "payments", "statement", "billing_details", "invoice"
    ] = Field("home", description="The account page to land on: a page name, never a URL")
    invoice: str | None = Field(
        None, max_length=40, description="With `redirect_to: invoice`: the invoice (inv_…)"
    )
    expires_in: int = Field(
        int(sessions.MAGIC_LINK_DEFAULT_LIFETIME.total_seconds()),
        ge=sessions.MAGIC_LINK_MIN_SECONDS,
        le=sessions.MAGIC_LINK_MAX_SECONDS,
        strict=True,
        description="Seconds the link stays usable (60 to 604800)",
    )


class SignInLinkOut(Schema):
    url: str = Field(description="Opens a Continue page; its button signs the customer in, once")
    expires_at: dt.datetime


class SignOutOut(Schema):
    sessions_ended: int


def _sign_in_link_options(request: HttpRequest) -> SignInLinkIn:
    """The optional JSON body (none, or an empty form: the defaults)."""
    try:
        if request.content_type == "application/json" and request.body.strip():
            return SignInLinkIn.model_validate_json(request.body)
        if request.content_type != "application/json" and request.POST:
            raise ApiError(400, "invalid", "Send the options as a JSON object.")
        return SignInLinkIn.model_validate({})
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or None
        if first.get("type") == "extra_forbidden":
            raise ApiError(400, "unknown_field", f"Unknown field: {field}.", field) from None
        raise ApiError(400, "invalid", str(first.get("msg", "Invalid body.")), field) from None


SIGN_IN_LINK_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": SignInLinkIn.model_json_schema()}},
    }
}


@router.post(
    "/customers/{customer_id}/sign-in-link",
    response={201: SignInLinkOut},
    openapi_extra=SIGN_IN_LINK_BODY,
    **described(
        "Create a magic sign-in link",
        "POST",
        "/customers/cus_123/sign-in-link",
        {"redirect_to": "invoice", "invoice": "inv_123", "expires_in": 600},
        "A one-time link that signs the customer into the portal and lands on `redirect_to` "
        "(home, invoices, credit_notes, payments, statement, billing_details, or invoice with "
        "`invoice`). Make one only for someone your own system has signed in. Opening it shows "
        "a Continue button; the link works once, for `expires_in` seconds (60 to 604800, "
        "default 3600).",
    ),
)
def create_sign_in_link(request: HttpRequest, customer_id: str) -> Status[Any]:
    customer = get_customer(request, customer_id)
    options = _sign_in_link_options(request)
    invoice = None
    if options.redirect_to == SignInPage.INVOICE:
        if not options.invoice:
            raise ApiError(400, "invalid", "Name the invoice to land on.", "invoice")
        invoice = selectors.invoice_for_company(
            company=company_of(request), public_id=options.invoice
        )
        if invoice is None:
            raise ApiError(400, "invalid", "No such invoice of this customer.", "invoice")
    elif options.invoice is not None:
        raise ApiError(400, "invalid", "invoice goes only with redirect_to: invoice.", "invoice")
    link = sessions.sign_in_link_create(
        customer=customer,
        source=SignInSource.API,
        page=options.redirect_to,
        invoice=invoice,
        lifetime=dt.timedelta(seconds=options.expires_in),
    )
    return Status(
        201, SignInLinkOut(url=sessions.sign_in_link_url(link), expires_at=link.expires_at)
    )


@router.post(
    "/customers/{customer_id}/sign-out",
    response=SignOutOut,
    **described(
        "Sign a customer out everywhere",
        "POST",
        "/customers/cus_123/sign-out",
        None,
        "Ends every portal session of the customer and every sign-in link not used yet.",
    ),
)
def sign_out_customer(request: HttpRequest, customer_id: str) -> SignOutOut:
    customer = get_customer(request, customer_id)
    ended = sessions.customer_sign_out_everywhere(customer=customer, reason="api")
    return SignOutOut(sessions_ended=ended)


class BalanceRow(Schema):
    currency: str
    outstanding: int = Field(description="Owed on issued unpaid invoices, minor units")
    overdue: int = Field(description="The part of outstanding past its due date")
    credit_available: int = Field(description="Unapplied credit, minor units")


class BalanceOut(Schema):
    data: list[BalanceRow]


@router.get(
    "/customers/{customer_id}/balance",
    response=BalanceOut,
    **described(
        "A customer's balance",
        "GET",
        "/customers/cus_123/balance",
        None,
        "Per currency: outstanding, overdue and credit available, in minor units.",
    ),
)
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


class StatementFilters(Schema):
    type: str | None = Field(None, description="`open_item` or `balance_forward` (default)")
    currency: str | None = Field(
        None, description="Default: the company's, when the customer has it"
    )
    as_of: str | None = Field(None, description="Open item: the day (YYYY-MM-DD), default today")
    month: str | None = Field(None, description="Balance forward: a month (YYYY-MM)")
    from_: str | None = Field(None, alias="from", description="Balance forward: first day")
    to: str | None = Field(None, description="Balance forward: last day, default today")


class StatementRow(Schema):
    """A balance-forward row: debit raises the balance, credit lowers it (minor units)."""

    date: str
    type: str = Field(
        description="invoice, invoice_void, credit_note, credit_note_void, payment or refund"
    )
    number: str
    debit: int
    credit: int
    balance: int


class OpenItemRow(Schema):
    """An open-item row: an invoice still owing (``amount_due`` > 0) or unused credit (< 0)."""

    type: str = Field(description="invoice, credit_note or unapplied_payment")
    number: str
    issue_date: str
    due_date: str | None
    days_overdue: int
    total: int
    amount_paid_or_credited: int
    amount_due: int


class StatementSummary(Schema):
    invoiced: int = Field(description="Invoices issued less invoices voided in the period")
    paid: int
    credited: int = Field(description="Credit notes issued less credit notes voided")
    refunded: int


class StatementOut(Schema):
    type: str
    currency: str
    currencies: list[str] = Field(description="Every currency the customer has a statement in")
    as_of: str | None
    from_: str | None = Field(None, alias="from")
    to: str | None
    opening_balance: int | None = Field(description="Balance forward only; null for open item")
    closing_balance: int
    rows: list[StatementRow] | list[OpenItemRow]
    summary: StatementSummary | None
    aging: dict[str, int] = Field(
        description="Owed by days past due: current, 1_30, 31_60, 61_90, over_90"
    )


def statement_out(ledger: statements.Ledger, statement: statements.Statement) -> StatementOut:
    if isinstance(statement, statements.OpenItemStatement):
        return StatementOut.model_validate(
            {
                "type": statements.OPEN_ITEM,
                "currency": statement.currency,
                "currencies": ledger.currencies,
                "as_of": statement.as_of.isoformat(),
                "from": None,
                "to": None,
                "opening_balance": None,
                "closing_balance": statement.total,
                "rows": [
                    OpenItemRow(
                        type=row.kind,
                        number=row.number,
                        issue_date=row.date.isoformat(),
                        due_date=row.due_date.isoformat() if row.due_date else None,
                        days_overdue=row.days_overdue,
                        total=row.total,
                        amount_paid_or_credited=row.settled,
                        amount_due=row.due,
                    )
                    for row in statement.rows
                ],
                "summary": None,
                "aging": statement.aging.as_dict(),
            }
        )
    return StatementOut.model_validate(
        {
            "type": statements.BALANCE_FORWARD,
            "currency": statement.currency,
            "currencies": ledger.currencies,
            "as_of": None,
            "from": statement.start.isoformat(),
            "to": statement.end.isoformat(),
            "opening_balance": statement.opening,
            "closing_balance": statement.closing,
            "rows": [
                StatementRow(
                    date=line.date.isoformat(),
                    type=line.type,
                    number=line.number,
                    debit=line.debit,
                    credit=line.credit,
                    balance=line.balance,
                )
                for line in statement.lines
            ],
            "summary": StatementSummary(
                invoiced=statement.invoiced,
                paid=statement.paid,
                credited=statement.credited,
                refunded=statement.refunded,
            ),
            "aging": statement.aging.as_dict(),
        }
    )


def _query_params(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, "") for name in statements.PARAMETERS}


@router.get(
    "/customers/{customer_id}/statement",
    response=StatementOut,
    by_alias=True,
    **described(
        "A customer's statement",
        "GET",
        "/customers/cus_123/statement?type=balance_forward&month=2026-03&currency=usd",
        None,
        "One currency. `type=open_item` (with `as_of`, default today): the invoices still "
        "owing on that day and unused credit as negative rows. `type=balance_forward` (the "
        "default; `month=YYYY-MM`, or `from`/`to`, default the current month): the opening "
        "balance, every invoice, void, credit note, payment and refund with the running "
        "balance, the closing balance. Dates in the company's time zone; the current month "
        "and the 36 before it. A value out of range answers 400.",
    ),
)
def customer_statement(
    request: HttpRequest, customer_id: str, filters: Query[StatementFilters]
) -> StatementOut:
    """The customer's statement in one currency: open item or balance forward."""
    customer = get_customer(request, customer_id)
    customer.company = company_of(request)
    ledger = statements.customer_ledger(customer=customer)
    wanted = statements.statement_request(
        params=_query_params(request), ledger=ledger, today=company_today(customer.company)
    )
    return statement_out(ledger, statements.statement_build(ledger=ledger, request=wanted))
