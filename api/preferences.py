"""``POST /api/v1/invoices/<id>/send`` and ``POST /api/v1/customers/<id>/statement/send``:
email an invoice or a statement of account to the customer (preferences apply)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from api.customers import get_customer
from api.errors import ApiError
from api.examples import described
from api.invoices import get_invoice
from api.schemas import StrictSchema, body_doc, body_of
from preferences import emails
from preferences.models import SentEmail, SentEmailStatus

router = Router(tags=["emails"])


class SentEmailOut(Schema):
    id: str
    status: str
    kind: str
    category: str
    to: str
    invoice: str | None
    customer: str | None = None
    # Why it was skipped or failed ("opted_out", …); empty otherwise.
    detail: str
    created_at: str
    sent_at: str | None


def sent_email_out(sent: SentEmail, invoice_id: str | None) -> SentEmailOut:
    return SentEmailOut(
        id=sent.public_id,
        status=sent.status,
        kind=sent.kind,
        category=sent.category,
        to=sent.to_email,
        invoice=invoice_id,
        detail=sent.detail,
        created_at=sent.created_at.isoformat(),
        sent_at=sent.sent_at.isoformat() if sent.sent_at else None,
    )


@router.post(
    "/invoices/{invoice_id}/send",
    response={200: SentEmailOut, 202: SentEmailOut},
    **described(
        "Email the invoice to its customer",
        "POST",
        "/invoices/inv_123/send",
        None,
        "202 while the email waits for the worker; 200 once decided: `sent`, or `skipped` "
        'with `detail: "opted_out"` when the customer turned invoice emails off.',
    ),
)
def send_invoice(request: HttpRequest, invoice_id: str) -> Status[SentEmailOut]:
    """202 while the email waits for the worker; 200 once decided: ``sent``, or ``skipped``
    with ``detail: "opted_out"`` when the customer turned invoice emails off."""
    invoice = get_invoice(request, invoice_id)
    try:
        sent = emails.invoice_email_queue(invoice=invoice)
    except emails.EmailRefused as exc:
        raise ApiError(
            409, "invalid_status", f"This invoice cannot be emailed ({exc}).", "status"
        ) from None
    # With eager Celery (no Redis) the task ran on commit already: report what happened.
    sent.refresh_from_db()
    status = 202 if sent.status in (SentEmailStatus.QUEUED, SentEmailStatus.SENDING) else 200
    return Status(status, sent_email_out(sent, invoice.public_id))


class StatementSendIn(StrictSchema):
    """Which statement to send; the same parameters as ``GET …/statement``, all optional."""

    type: str | None = Field(None, description="`open_item` or `balance_forward` (default)")
    currency: str | None = None
    as_of: str | None = Field(None, description="Open item: the day (YYYY-MM-DD)")
    month: str | None = Field(None, description="Balance forward: YYYY-MM")
    from_: str | None = Field(None, alias="from", description="Balance forward: first day")
    to: str | None = Field(None, description="Balance forward: last day")


@router.post(
    "/customers/{customer_id}/statement/send",
    response={202: SentEmailOut},
    openapi_extra=body_doc(StatementSendIn),
    **described(
        "Email a statement to the customer",
        "POST",
        "/customers/cus_123/statement/send",
        {"type": "balance_forward", "month": "2026-03", "currency": "usd"},
        "Queues the statement (the PDF attached, a link to it in the portal) in the "
        "documents category of the customer's email preferences and answers 202: `status` "
        '`queued`, or `skipped` with `detail: "opted_out"`. Without a body, the current '
        "month's balance-forward statement. A value out of range answers 400.",
    ),
)
def send_statement(request: HttpRequest, customer_id: str) -> Status[SentEmailOut]:
    """Queue a statement email to the customer; 202 with the email's record."""
    customer = get_customer(request, customer_id)
    payload = body_of(request, StatementSendIn)
    params = {
        name: value
        for name, value in payload.model_dump(by_alias=True).items()
        if isinstance(value, str)
    }
    sent = emails.statement_email_queue(customer=customer, params=params)
    sent.refresh_from_db()
    out = sent_email_out(sent, None)
    out.customer = customer.public_id
    return Status(202, out)
