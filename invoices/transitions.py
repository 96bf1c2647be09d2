"""The invoice lifecycle as an explicit table: anything not listed here is refused."""

from __future__ import annotations

from core.errors import ApplicationError
from invoices.models import InvoiceStatus

S = InvoiceStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.OPEN, S.VOID}),
    S.OPEN: frozenset({S.PAID, S.VOID, S.UNCOLLECTIBLE}),
    # An uncollectible invoice may still be paid late, or written off for good.
    S.UNCOLLECTIBLE: frozenset({S.PAID, S.VOID}),
    # A refund (or a reversed credit) makes a paid invoice owe something again.
    S.PAID: frozenset({S.OPEN}),
    S.VOID: frozenset(),
}


class IllegalTransition(ApplicationError):
    """A status change the table does not allow (409: it conflicts with the invoice's state)."""

    def __init__(self, from_status: str, to_status: str) -> None:
        super().__init__(
            "invalid_status",
            f"An invoice cannot go from {from_status} to {to_status}.",
            "status",
            409,
        )
        self.from_status = from_status
        self.to_status = to_status


def check_transition(from_status: str, to_status: str) -> None:
    if to_status not in TRANSITIONS.get(from_status, frozenset()):
        raise IllegalTransition(from_status, to_status)
