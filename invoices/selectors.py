"""Reads: every lookup is scoped to a tenant, a share token or a staff member."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import F, Q, Sum
from django.utils import timezone

from invoices import rows
from invoices.customization import scope
from invoices.models import (
    AuditEvent,
    Company,
    CreditNote,
    Customer,
    Invoice,
    InvoiceStatus,
    LineItem,
    ShareLink,
    ShareLinkKind,
)
from invoices.models.credit_note import CreditNoteStatus
from invoices.tokens import SHARE_LINK_PURPOSE, parse_token

CUSTOMER_VISIBLE_STATUSES = (
    InvoiceStatus.OPEN,
    InvoiceStatus.PAID,
    InvoiceStatus.VOID,
    InvoiceStatus.UNCOLLECTIBLE,
)
UNPAID_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)


# The token lookups run on every customer page view: hand-written SQL (invoices.rows), one
# query, every condition on the same share-link row.
# ``{extras}``: the callers' scalar subqueries (see ``Annotations``), each preceded by a comma.
_INVOICE_FOR_SELECTOR_SQL = """
SELECT {invoice}, {company}, {customer}{extras}
FROM invoices_sharelink s
JOIN invoices_invoice i ON i.id = s.invoice_id
JOIN invoices_company c ON c.id = i.company_id
JOIN invoices_customer u ON u.id = i.customer_id
WHERE s.selector = %(selector)s AND s.kind = %(kind)s AND s.revoked_at IS NULL
  AND (s.expires_at IS NULL OR s.expires_at > %(now)s)
  AND i.status IN ({statuses})
LIMIT 1
"""
_CUSTOMER_FOR_SELECTOR_SQL = """
SELECT {customer}, {company}{extras}
FROM invoices_sharelink s
JOIN invoices_customer u ON u.id = s.customer_id
JOIN invoices_company c ON c.id = u.company_id
WHERE s.selector = %(selector)s AND s.kind = %(kind)s AND s.revoked_at IS NULL
  AND (s.expires_at IS NULL OR s.expires_at > %(now)s)
LIMIT 1
"""


# What a page reads besides the rows, in the same round trip: name -> a scalar SQL subquery over
# the aliases ``i`` (invoice; invoice links only), ``c`` (company) and ``u`` (customer), which
# may use the ``%(now)s`` parameter. Each value ends up on the returned object under its name,
# as the database returned it. The app that owns a table writes its subquery (for example
# ``payments.gates.STRIPE_STATE_SQL``); the page that needs them composes them.
Annotations = Mapping[str, str]


def _extras_sql(annotate: Annotations) -> str:
    return "".join(f", ({sql}) AS {name}" for name, sql in annotate.items())


# CUSTOMER_VISIBLE_STATUSES as named parameters of hand-written SQL, and the placeholders that
# name them (``status IN ({VISIBLE_STATUSES_SQL})``).
VISIBLE_STATUS_PARAMS = {
    f"status{n}": str(status) for n, status in enumerate(CUSTOMER_VISIBLE_STATUSES)
}
VISIBLE_STATUSES_SQL = ", ".join(f"%({name})s" for name in VISIBLE_STATUS_PARAMS)


def _link_params(selector: str, kind: str) -> dict[str, object]:
    from django.db import connection

    return {
        "selector": selector,
        "kind": str(kind),
        "now": connection.ops.adapt_datetimefield_value(timezone.now()),
    }


def invoice_for_share_token(token: str, *, annotate: Annotations | None = None) -> Invoice | None:
    """The invoice a live invoice share link opens, with company and customer; never a draft.
    One query for a well-formed token, none for a forged one. ``annotate``: values read in the
    same query, set on the invoice (see ``Annotations``)."""
    annotate = annotate or {}
    selector = parse_token(token, purpose=SHARE_LINK_PURPOSE)
    if selector is None:
        return None
    sql = _INVOICE_FOR_SELECTOR_SQL.format(
        invoice=rows.columns(Invoice, "i"),
        company=rows.columns(Company, "c"),
        customer=rows.columns(Customer, "u"),
        statuses=VISIBLE_STATUSES_SQL,
        extras=_extras_sql(annotate),
    )
    found = rows.fetch_joined(
        sql,
        {**_link_params(selector, ShareLinkKind.INVOICE), **VISIBLE_STATUS_PARAMS},
        [(Invoice, "i"), (Company, "c"), (Customer, "u")],
        extras=tuple(annotate),
    )
    if found is None:
        return None
    invoice, company, customer = found
    assert isinstance(invoice, Invoice)
    assert isinstance(company, Company) and isinstance(customer, Customer)
    if not scope.admits(company):
        return None  # another company's own domain: as unknown as a forged token
    customer.company = company
    invoice.company = company
    invoice.customer = customer
    return invoice


def customer_for_portal_token(
    token: str, *, annotate: Annotations | None = None
) -> Customer | None:
    """The customer a live portal link opens, with the company. One query at most.
    ``annotate``: values read in the same query, set on the customer (see ``Annotations``)."""
    annotate = annotate or {}
    selector = parse_token(token, purpose=SHARE_LINK_PURPOSE)
    if selector is None:
        return None
    sql = _CUSTOMER_FOR_SELECTOR_SQL.format(
        customer=rows.columns(Customer, "u"),
        company=rows.columns(Company, "c"),
        extras=_extras_sql(annotate),
    )
    params = _link_params(selector, ShareLinkKind.PORTAL)
    found = rows.fetch_joined(
        sql, params, [(Customer, "u"), (Company, "c")], extras=tuple(annotate)
    )
    if found is None:
        return None
    customer, company = found
    assert isinstance(customer, Customer) and isinstance(company, Company)
    if not scope.admits(company):
        return None  # another company's own domain: as unknown as a forged token
    customer.company = company
    return customer


# The line fields a document shows (the values_list / attribute order of LINE_FIELDS is the
# document fingerprint's: invoices.document).
LINE_FIELDS = (
    "position",
    "description",
    "quantity",
    "unit_amount",
    "tax_rate",
    "amount",
    "tax_amount",
)
# An invoice's lines as a document shows them, in their order (hand-written and prepared: a
# first view of an invoice page reads them; the ORM's query cost 0.8 ms of Python there).
_DOCUMENT_LINE_FIELDS = ("id", "invoice_id", *LINE_FIELDS)
_DOCUMENT_LINES_SQL = """
SELECT {line} FROM invoices_lineitem l WHERE l.invoice_id = %(invoice)s ORDER BY l.position, l.id
"""


def document_lines(*, invoice: Invoice) -> list[LineItem]:
    """The lines of ``invoice`` in their order, with what a document shows of them. One query,
    none when they were prefetched (``prefetch_related("lines")``)."""
    prefetched = getattr(invoice, "_prefetched_objects_cache", {})
    if "lines" in prefetched:
        return list(prefetched["lines"])
    sql = _DOCUMENT_LINES_SQL.format(line=rows.columns(LineItem, "l", _DOCUMENT_LINE_FIELDS))
    found = rows.fetch_all(sql, {"invoice": invoice.pk}, LineItem, "l", _DOCUMENT_LINE_FIELDS)
    return [line for line in found if isinstance(line, LineItem)]


@dataclass(frozen=True)
class CurrencyBalance:
    """A customer's account in one currency, minor units."""

    currency: str
    outstanding: int
    overdue: int
    credit_available: int


def customer_balance(*, customer: Customer, today: dt.date) -> list[CurrencyBalance]:
    """Per currency (sorted): what the customer owes on issued unpaid invoices, the part of it
    past due on ``today``, and the unapplied credit of issued credit notes. Two queries."""
    due = F("total") - F("amount_paid") - F("amount_credited")
    owed = (
        Invoice.objects.filter(
            company_id=customer.company_id, customer=customer, status__in=UNPAID_STATUSES
        )
        .values("currency")
        .annotate(
            outstanding=Sum(due),
            overdue=Sum(due, filter=Q(due_date__lt=today)),
        )
    )
    credit = (
        CreditNote.objects.filter(
            company_id=customer.company_id, customer=customer, status=CreditNoteStatus.ISSUED
        )
        .values("currency")
        .annotate(unapplied=Sum(F("amount") - F("amount_applied")))
    )
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in owed:
        table[row["currency"]][0] = max(int(row["outstanding"] or 0), 0)
        table[row["currency"]][1] = max(int(row["overdue"] or 0), 0)
    for note_row in credit:
        table[note_row["currency"]][2] = max(int(note_row["unapplied"] or 0), 0)
    return [CurrencyBalance(currency, *values) for currency, values in sorted(table.items())]


def is_overdue(invoice: Invoice, today: dt.date | None = None) -> bool:
    today = today or timezone.localdate()
    return invoice.status in UNPAID_STATUSES and invoice.due_date < today


def invoice_for_company(*, company: Company, public_id: str) -> Invoice | None:
    return (
        Invoice.objects.select_related("company", "customer")
        .filter(company=company, public_id=public_id)
        .first()
    )


def customer_for_company(*, company: Company, public_id: str) -> Customer | None:
    return Customer.objects.filter(company=company, public_id=public_id).first()


def live_share_link(*, invoice: Invoice) -> ShareLink | None:
    now = timezone.now()
    for link in ShareLink.objects.filter(
        kind=ShareLinkKind.INVOICE, invoice=invoice, revoked_at__isnull=True
    ):
        if link.expires_at is None or link.expires_at > now:
            return link
    return None


def live_portal_link(*, customer: Customer) -> ShareLink | None:
    now = timezone.now()
    for link in ShareLink.objects.filter(
        kind=ShareLinkKind.PORTAL, customer=customer, revoked_at__isnull=True
    ):
        if link.expires_at is None or link.expires_at > now:
            return link
    return None


def customer_languages(customer: Customer | None, company: Company | None) -> tuple[str, ...]:
    """The languages a customer page prefers after the browser's: the customer's, then the
    company's (for core.i18n.activate_language)."""
    return tuple(
        code
        for code in (
            customer.preferred_language if customer is not None else "",
            company.language if company is not None else "",
        )
        if code
    )


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    action: str
    # The staff account, or the channel when no account acted ("portal", "api", "system").
    by: str
    # (field, before, after) where the audit kept values, else the fields' names.
    values: list[tuple[str, str, str]]
    fields: list[str]


# The customer change history shows the newest entries; older ones stay in the audit trail.
HISTORY_LIMIT = 100


def customer_history(*, customer: Customer) -> list[HistoryEntry]:
    """The audited changes of ``customer``, newest first. One query (the actor joined)."""
    found = (
        AuditEvent.objects.filter(company_id=customer.company_id, object_id=customer.public_id)
        .select_related("actor")
        .order_by("-created_at", "-pk")[:HISTORY_LIMIT]
    )
    entries = []
    for event in found:
        data = event.data if isinstance(event.data, dict) else {}
        values = data.get("values")
        entries.append(
            HistoryEntry(
                at=event.created_at,
                action=event.action,
                by=event.actor.get_username()
                if event.actor is not None
                else str(data.get("source") or "system"),
                values=[
                    (str(name), str(pair.get("from", "")), str(pair.get("to", "")))
                    for name, pair in values.items()
                    if isinstance(pair, dict)
                ]
                if isinstance(values, dict)
                else [],
                fields=[str(name) for name in data.get("fields", []) or []],
            )
        )
    return entries
