"""Reads for the comment thread. Every read is scoped to one invoice (and so one company)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from invoices.customer_sessions.cookies import COOKIE_NAME
from invoices.customer_sessions.models import CustomerSession
from invoices.models import Invoice
from invoices.models.company import CommentWriteMode

from .models import Comment, CustomerTotpDevice

# The customer session cookie (plain-HTTP name; ``__Host-`` prefixed over HTTPS).
SESSION_COOKIE = COOKIE_NAME
# One page of a thread; a client that is further behind asks again with the last id it got.
PAGE_SIZE = 200


def comment_write_mode(*, invoice: Invoice) -> str:
    """The invoice's own mode, else the company default."""
    mode = invoice.comment_write_mode or invoice.company.comment_write_mode
    return mode if mode in CommentWriteMode.values else CommentWriteMode.LINK


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["number"],
        "author": row["author_name"],
        "role": row["role"],
        "body": row["body"],
        "created_at": row["created_at"].isoformat(),
    }


_PUBLIC_FIELDS = ("number", "author_name", "role", "body", "created_at")


def public_comment(comment: Comment) -> dict[str, Any]:
    """A comment as customers see it: no email, no database id (``id`` is its number)."""
    return _public({field: getattr(comment, field) for field in _PUBLIC_FIELDS})


# What the thread on the invoice page shows, as scalar subqueries for the page's one lookup
# (invoices.selectors.Annotations; ``i`` invoice, ``u`` customer): comments are only ever added
# (or removed with their invoice), so their count and last id change with every change of the
# thread; the customer's authenticator decides the form (thread_state).
THREAD_VERSION_SQL = {
    "comment_count": "SELECT COUNT(*) FROM comments_comment WHERE invoice_id = i.id",
    "comment_last_id": "SELECT MAX(id) FROM comments_comment WHERE invoice_id = i.id",
    "totp_confirmed": (
        "SELECT confirmed FROM comments_customertotpdevice"
        " WHERE customer_id = u.id AND company_id = c.id"
    ),
}


def comments_for_invoice(
    *, invoice_id: int, after: int = 0, limit: int = PAGE_SIZE
) -> list[dict[str, Any]]:
    """The thread as customers see it, oldest first. One query (plain rows: the invoice page
    shows it on every open)."""
    rows = (
        Comment.objects.filter(invoice_id=invoice_id, number__gt=after)
        .order_by("number")
        .values(*_PUBLIC_FIELDS)[:limit]
    )
    return [_public(row) for row in rows]


def last_comment_number(*, invoice_id: int) -> int:
    last = (
        Comment.objects.filter(invoice_id=invoice_id)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return last or 0


def totp_device_for(*, invoice: Invoice) -> CustomerTotpDevice | None:
    return CustomerTotpDevice.objects.filter(
        customer_id=invoice.customer_id, company_id=invoice.company_id
    ).first()


def totp_required(*, invoice: Invoice) -> bool:
    """The company's choice, on top of any write mode (Company.comment_require_totp)."""
    return bool(invoice.company.comment_require_totp)


@dataclass(frozen=True)
class ThreadState:
    """What the thread's form must ask of this writer, for the template and the JSON."""

    mode: str
    verified: bool
    totp_required: bool
    totp_enrolled: bool

    @property
    def needs_verification(self) -> bool:
        """Prove the mailbox first: the mode asks for it, or an authenticator must be enrolled
        (only a verified customer may enrol one)."""
        wanted = self.mode != CommentWriteMode.LINK or self.needs_enrolment
        return wanted and not self.verified

    @property
    def needs_enrolment(self) -> bool:
        return self.totp_required and not self.totp_enrolled

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "verified": self.verified,
            "totp_required": self.totp_required,
            "totp_enrolled": self.totp_enrolled,
            "needs_verification": self.needs_verification,
            "needs_enrolment": self.needs_enrolment,
        }


def thread_state(*, invoice: Invoice, session: CustomerSession | None) -> ThreadState:
    mode = comment_write_mode(invoice=invoice)
    required = totp_required(invoice=invoice)
    # Only looked up when asked for: most pages then cost no query for it.
    device = totp_device_for(invoice=invoice) if required else None
    if mode == CommentWriteMode.CUSTOMER_SESSION:
        verified = bool(session and session.covers(invoice) and session.invoice_id is None)
    else:
        verified = bool(session and session.covers(invoice))
    return ThreadState(
        mode=mode,
        verified=verified,
        totp_required=required,
        totp_enrolled=bool(device and device.confirmed),
    )


def attention_count(*, company_ids: list[int] | None) -> int:
    """Invoices waiting for a staff answer, in these companies (None: all)."""
    qs = Invoice.objects.filter(needs_attention=True)
    if company_ids is not None:
        qs = qs.filter(company_id__in=company_ids)
    return qs.count()
