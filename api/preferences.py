"""``POST /api/v1/invoices/<id>/send``: email the invoice to its customer (preferences apply)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema, Status

from api.errors import ApiError
from api.examples import described
from api.invoices import get_invoice
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
    # Why it was skipped or failed ("opted_out", …); empty otherwise.
    detail: str
    created_at: str
    sent_at: str | None


def sent_email_out(sent: SentEmail, invoice_id: str) -> SentEmailOut:
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
