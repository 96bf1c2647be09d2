"""Credit notes: create (issued at once), list by customer, retrieve, void, apply to an
invoice. Thin: parse, look up within the key's company, call a service, shape the answer."""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field, StrictInt

from api.auth import company_of
from api.errors import ApiError, not_found
from api.examples import described
from api.schemas import StrictSchema, body_doc, body_of
from invoices import selectors, services
from invoices.models import CreditNote

router = Router(tags=["credit notes"])


class CreditNoteIn(StrictSchema):
    customer: str = Field(description="cus_…")
    currency: str = Field(min_length=3, max_length=3)
    amount: StrictInt = Field(le=10**15, description="Minor units, more than zero")
    reason: str = Field(default="", max_length=200)
    invoice: str | None = Field(default=None, description="inv_… the credit is about")


class ApplyIn(StrictSchema):
    invoice: str = Field(description="inv_… an open invoice of the same customer and currency")
    amount: StrictInt | None = Field(
        default=None,
        le=10**15,
        description="Minor units; default the least of what remains and what the invoice owes",
    )


class ApplicationOut(Schema):
    invoice: str
    amount: int
    applied_at: dt.datetime
    reversed_at: dt.datetime | None


class CreditNoteOut(Schema):
    id: str = Field(description="cn_…")
    object: str = "credit_note"
    number: str
    status: str = Field(description="issued or void")
    customer: str
    currency: str
    amount: int
    amount_applied: int
    amount_remaining: int
    reason: str
    invoice: str | None
    issued_at: dt.datetime | None
    voided_at: dt.datetime | None
    applications: list[ApplicationOut]


class CreditNoteList(Schema):
    object: str = "list"
    data: list[CreditNoteOut]
    page: int
    page_size: int
    total_count: int
    has_more: bool


class CreditNoteFilters(Schema):
    customer: str | None = None
    page: int = 1
    page_size: int = 25


def _notes(request: HttpRequest) -> QuerySet[CreditNote]:
    # Drafts never leave the company's own tools (none are made through the API).
    return (
        CreditNote.objects.filter(company=company_of(request))
        .exclude(status="draft")
        .select_related("customer", "invoice")
        .prefetch_related("applications__invoice")
    )


def credit_note_out(note: CreditNote) -> CreditNoteOut:
    return CreditNoteOut(
        id=note.public_id,
        number=note.number,
        status=note.status,
        customer=note.customer.public_id,
        currency=note.currency,
        amount=note.amount,
        amount_applied=note.amount_applied,
        amount_remaining=note.remaining,
        reason=note.reason,
        invoice=note.invoice.public_id if note.invoice is not None else None,
        issued_at=note.issued_at,
        voided_at=note.voided_at,
        applications=[
            ApplicationOut(
                invoice=application.invoice.public_id,
                amount=application.amount,
                applied_at=application.applied_at,
                reversed_at=application.reversed_at,
            )
            for application in note.applications.all()
        ],
    )


def get_credit_note(request: HttpRequest, credit_note_id: str) -> CreditNote:
    note = _notes(request).filter(public_id=credit_note_id).first()
    if note is None:
        raise not_found("Credit note")
    return note


@router.post(
    "/credit-notes",
    response={201: CreditNoteOut},
    **described(
        "Issue a credit note",
        "POST",
        "/credit-notes",
        {"customer": "cus_123", "currency": "usd", "amount": 2500, "reason": "Goodwill"},
        "Issued at once; apply it to an open invoice of the same customer and currency.",
    ),
)
def create_credit_note(request: HttpRequest, payload: CreditNoteIn) -> Status[CreditNoteOut]:
    company = company_of(request)
    customer = selectors.customer_for_company(company=company, public_id=payload.customer)
    if customer is None:
        raise ApiError(400, "invalid", "No such customer.", "customer")
    invoice = None
    if payload.invoice:
        invoice = selectors.invoice_for_company(company=company, public_id=payload.invoice)
        if invoice is None:
            raise ApiError(400, "invalid", "No such invoice.", "invoice")
    note = services.credit_note_create(
        company=company,
        customer=customer,
        currency=payload.currency,
        amount=payload.amount,
        reason=payload.reason,
        invoice=invoice,
    )
    return Status(201, credit_note_out(get_credit_note(request, note.public_id)))


@router.get(
    "/credit-notes",
    response=CreditNoteList,
    **described("List credit notes", "GET", "/credit-notes?customer=cus_123", None),
)
def list_credit_notes(request: HttpRequest, filters: Query[CreditNoteFilters]) -> CreditNoteList:
    if not 1 <= filters.page_size <= 100:
        raise ApiError(400, "invalid", "page_size must be between 1 and 100.", "page_size")
    if filters.page < 1:
        raise ApiError(400, "invalid", "page must be 1 or more.", "page")
    qs = _notes(request).order_by("-issued_at", "-id")
    if filters.customer:
        qs = qs.filter(customer__public_id=filters.customer)
    paginator = Paginator(qs, filters.page_size)
    page = paginator.get_page(filters.page) if filters.page <= max(paginator.num_pages, 1) else None
    return CreditNoteList(
        data=[credit_note_out(note) for note in page] if page else [],
        page=filters.page,
        page_size=filters.page_size,
        total_count=paginator.count,
        has_more=bool(page and page.has_next()),
    )


@router.get(
    "/credit-notes/{credit_note_id}",
    response=CreditNoteOut,
    **described("Retrieve a credit note", "GET", "/credit-notes/cn_123", None),
)
def retrieve_credit_note(request: HttpRequest, credit_note_id: str) -> CreditNoteOut:
    return credit_note_out(get_credit_note(request, credit_note_id))


@router.post(
    "/credit-notes/{credit_note_id}/void",
    response=CreditNoteOut,
    **described(
        "Void a credit note",
        "POST",
        "/credit-notes/cn_123/void",
        None,
        "Only while nothing of it is applied (409 otherwise).",
    ),
)
def void_credit_note(request: HttpRequest, credit_note_id: str) -> CreditNoteOut:
    services.credit_note_void(note=get_credit_note(request, credit_note_id))
    return credit_note_out(get_credit_note(request, credit_note_id))


@router.post(
    "/credit-notes/{credit_note_id}/apply",
    response=CreditNoteOut,
    openapi_extra=body_doc(ApplyIn),
    **described(
        "Apply a credit note",
        "POST",
        "/credit-notes/cn_123/apply",
        {"invoice": "inv_123", "amount": 1000},
        "To an open invoice of the same customer and currency; without `amount`, the least "
        "of what remains and what is owed.",
    ),
)
def apply_credit_note(request: HttpRequest, credit_note_id: str) -> CreditNoteOut:
    note = get_credit_note(request, credit_note_id)
    payload = body_of(request, ApplyIn)
    invoice = selectors.invoice_for_company(company=company_of(request), public_id=payload.invoice)
    if invoice is None:
        raise ApiError(400, "invalid", "No such invoice.", "invoice")
    services.credit_note_apply(note=note, invoice=invoice, amount=payload.amount)
    return credit_note_out(get_credit_note(request, credit_note_id))
