"""Customer email: the one way the project sends a message to a customer.

Two steps, both recorded on a SentEmail row:

- ``invoice_email_queue`` (admin, API, reminders) checks the invoice and the address's
  preferences, writes the row (``queued``, or ``skipped`` when the address opted out) and
  hands the id to Celery once the transaction commits.
- ``email_deliver`` (the Celery task) claims the row, asks the preferences again (they may
  have changed while the message waited), builds the branded multipart message in the
  customer's language and sends it through Django's configured backend.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from email.mime.image import MIMEImage
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from invoices import events
from invoices import services as invoice_services
from invoices.document import LOGO_INLINE_MAX_BYTES, brand_color, invoice_summary
from invoices.events import Actor
from invoices.models import Company, Customer, Invoice, InvoiceStatus, Membership
from invoices.money import format_money
from invoices.timezones import company_today
from payments import statement_document, statements
from payments.gates import pay_gate, stripe_connected
from payments.models import Payment
from payments.receipts import payment_receipt, receipt_pdf, receipt_pdf_filename
from preferences import tasks
from preferences.models import (
    KIND_CATEGORY,
    STAFF_CATEGORY,
    STAFF_KINDS,
    EmailCategory,
    EmailKind,
    EmailPreference,
    ReminderSent,
    ReminderStep,
    SentEmail,
    SentEmailStatus,
    StaffNotificationSettings,
)
from preferences.selectors import email_preference_for_token, invoices_needing_reminders
from preferences.services import (
    CATEGORIES,
    can_email,
    email_preference_ensure,
    email_preference_token,
    email_preferences_url,
    email_unsubscribe,
    email_unsubscribe_url,
    normalize_email,
)

logger = logging.getLogger(__name__)

REMINDER_KINDS: dict[str, str] = {
    ReminderStep.DUE_SOON: EmailKind.REMINDER_DUE_SOON,
    ReminderStep.OVERDUE: EmailKind.REMINDER_OVERDUE,
}


class EmailRefused(Exception):
    """The invoice cannot be emailed in its current state (a draft, a void invoice)."""


def _refusal(invoice: Invoice, kind: str) -> str | None:
    """Why this kind of email must not go out for the invoice now, or None."""
    if invoice.status == InvoiceStatus.DRAFT:
        return "draft"  # drafts never reach customers
    if kind == EmailKind.RECEIPT:
        return None  # the money was received: its receipt is due whatever became of the invoice
    if invoice.status == InvoiceStatus.VOID:
        return "void"
    if kind != EmailKind.INVOICE and (
        invoice.status != InvoiceStatus.OPEN or invoice.amount_due <= 0
    ):
        return "not_due"  # reminders only for open invoices with money due
    return None


# Queueing ---------------------------------------------------------------------------------


@transaction.atomic
def invoice_email_queue(
    *, invoice: Invoice, kind: str = EmailKind.INVOICE, actor: Actor = None
) -> SentEmail:
    """Record an email about ``invoice`` to its customer and queue its delivery.

    Raises EmailRefused for a draft or void invoice (and a reminder for an invoice with nothing
    due). An address that turned the category off gets a ``skipped`` row and no message.
    """
    reason = _refusal(invoice, kind)
    if reason is not None:
        raise EmailRefused(reason)
    company, customer = invoice.company, invoice.customer
    category = KIND_CATEGORY[kind]
    allowed = can_email(company=company, email=customer.email, category=category)
    sent = SentEmail.objects.create(
        company=company,
        customer=customer,
        invoice=invoice,
        to_email=normalize_email(customer.email),
        kind=kind,
        category=category,
        status=SentEmailStatus.QUEUED if allowed else SentEmailStatus.SKIPPED,
        detail="" if allowed else "opted_out",
    )
    events.record(
        company=company,
        action="email.queued" if allowed else "email.skipped",
        object_id=invoice.public_id,
        actor=actor,
        email=sent.public_id,
        kind=kind,
    )
    if allowed:
        # robust: a broker hiccup must not undo the record (the row stays "queued", visible).
        transaction.on_commit(_delivery_queuer(sent.pk), robust=True)
    return sent


def _delivery_queuer(sent_email_id: int) -> Callable[[], None]:
    # Named, result ignored: see payments.webhooks._processing_queuer.
    def queue_email_delivery() -> None:
        tasks.send_email.apply_async((sent_email_id,), ignore_result=True)

    return queue_email_delivery


@transaction.atomic
def statement_email_queue(
    *, customer: Customer, params: Mapping[str, str], actor: Actor = None
) -> SentEmail:
    """Record a statement email to ``customer`` (documents category) and queue its delivery.

    ``params`` asks for the statement as the portal and the API do (type, currency, month,
    as_of, from, to); a bad value raises payments.statements.StatementRefused (400) and
    nothing is recorded. An address that turned documents off gets a ``skipped`` row.
    """
    company = customer.company
    ledger = statements.customer_ledger(customer=customer)
    wanted = statements.statement_request(
        params=params, ledger=ledger, today=company_today(company)
    )
    category = KIND_CATEGORY[EmailKind.STATEMENT]
    allowed = can_email(company=company, email=customer.email, category=category)
    sent = SentEmail.objects.create(
        company=company,
        customer=customer,
        to_email=normalize_email(customer.email),
        kind=EmailKind.STATEMENT,
        category=category,
        status=SentEmailStatus.QUEUED if allowed else SentEmailStatus.SKIPPED,
        detail="" if allowed else "opted_out",
        statement=wanted.query(),
    )
    events.record(
        company=company,
        action="email.queued" if allowed else "email.skipped",
        object_id=customer.public_id,
        actor=actor,
        email=sent.public_id,
        kind=EmailKind.STATEMENT,
    )
    if allowed:
        transaction.on_commit(_delivery_queuer(sent.pk), robust=True)
    return sent


def receipt_email_queue(*, payment: Payment) -> SentEmail | None:
    """Record the receipt for ``payment`` to the invoice's customer and queue its delivery
    (``skipped`` when the address turned documents off). A payment gets one receipt: a second
    call returns None."""
    invoice = payment.invoice
    company, customer = invoice.company, invoice.customer
    if not customer.email:
        return None
    allowed = can_email(company=company, email=customer.email, category=EmailCategory.DOCUMENTS)
    try:
        with transaction.atomic():
            sent = SentEmail.objects.create(
                company=company,
                customer=customer,
                invoice=invoice,
                payment=payment,
                to_email=normalize_email(customer.email),
                kind=EmailKind.RECEIPT,
                category=EmailCategory.DOCUMENTS,
                status=SentEmailStatus.QUEUED if allowed else SentEmailStatus.SKIPPED,
                detail="" if allowed else "opted_out",
            )
            events.record(
                company=company,
                action="email.queued" if allowed else "email.skipped",
                object_id=payment.public_id,
                email=sent.public_id,
                kind=EmailKind.RECEIPT,
            )
    except IntegrityError:
        return None  # already queued for this payment
    if allowed:
        transaction.on_commit(_delivery_queuer(sent.pk), robust=True)
    return sent


def reminders_queue(*, now: dt.datetime) -> int:
    """Queue every reminder step due at ``now``; each (invoice, step) at most once ever.
    Returns how many steps were taken (sent or skipped for an opted-out address)."""
    taken = 0
    for invoice, step in invoices_needing_reminders(now=now):
        try:
            with transaction.atomic():
                # The unique (invoice, step) row is the claim: a second beat run or a
                # concurrent worker fails here and moves on.
                claim = ReminderSent.objects.create(invoice=invoice, step=step)
                sent = invoice_email_queue(invoice=invoice, kind=REMINDER_KINDS[step])
                claim.sent_email = sent
                claim.save(update_fields=["sent_email"])
        except IntegrityError:
            continue
        except EmailRefused:
            continue
        taken += 1
    return taken


# Delivery ---------------------------------------------------------------------------------

# Rows a worker may take (under the row lock). A committed "sending" was left by a claim of
# earlier versions: nobody holds its lock, so it is nobody's any more.
CLAIMABLE = (SentEmailStatus.QUEUED, SentEmailStatus.SENDING)


def email_deliver(*, sent_email_id: int, final_attempt: bool = True) -> SentEmail | None:
    """Send a queued email. Returns None when another worker has it or it went out already.

    On a transport error the row goes back to ``queued`` (or ``failed`` on the final attempt)
    with the error in ``detail``, and the error is raised for Celery to retry.

    The claim is the row's lock, held by this worker's transaction until the outcome is
    written: a redelivered task skips a row being sent, and a worker that dies mid-send (killed,
    its machine lost) takes its transaction with it, so the row is ``queued`` again at once for
    the redelivered message or ``requeue_stale_emails``, never stuck in ``sending``. (Only a
    death between the mail server's acceptance and the commit, milliseconds, could send twice.)
    """
    failure: Exception | None = None
    with transaction.atomic():
        claimed = (
            SentEmail.objects.select_for_update(skip_locked=True)
            .filter(pk=sent_email_id, status__in=CLAIMABLE)
            .values_list("pk", flat=True)
            .first()
        )
        if claimed is None:
            return None
        SentEmail.objects.filter(pk=claimed).update(status=SentEmailStatus.SENDING)
        try:
            return _deliver_claimed(sent_email_id, final_attempt=final_attempt)
        except Exception as exc:
            # The row says what failed (written by _failed): commit that, then raise for
            # Celery's retry.
            failure = exc
    raise failure


def _deliver_claimed(sent_email_id: int, *, final_attempt: bool) -> SentEmail:
    sent = SentEmail.objects.select_related(
        "company", "customer", "invoice", "payment__invoice__company", "payment__invoice__customer"
    ).get(pk=sent_email_id)
    invoice, company = sent.invoice, sent.company
    is_statement = sent.kind == EmailKind.STATEMENT
    if is_statement and sent.customer is None:
        _finish(sent, SentEmailStatus.SKIPPED, detail="customer_deleted")
        return sent
    if sent.kind in STAFF_KINDS:
        return _staff_deliver(sent, final_attempt=final_attempt)
    if not is_statement and invoice is None:
        _finish(sent, SentEmailStatus.SKIPPED, detail="invoice_deleted")
        return sent
    # Asked again at send time: a customer may have opted out, or paid, while it waited.
    if not can_email(company=company, email=sent.to_email, category=sent.category):
        _finish(sent, SentEmailStatus.SKIPPED, detail="opted_out")
        return sent
    if invoice is not None and (refusal := _refusal(invoice, sent.kind)) is not None:
        _finish(sent, SentEmailStatus.SKIPPED, detail=refusal)
        return sent

    # The address's row (created on its first email) holds the unsubscribe link's selector.
    preference = email_preference_ensure(company_id=company.pk, email=sent.to_email)
    try:
        # Building inside the try too: whatever fails, the row never stays "sending".
        if sent.kind == EmailKind.RECEIPT:
            message = build_receipt_email(sent=sent, preference=preference)
        elif invoice is not None:
            message = build_invoice_email(sent=sent, invoice=invoice, preference=preference)
        else:
            message = build_statement_email(sent=sent, preference=preference)
    except statements.StatementRefused:
        # Asked for in range when queued, out of range by now (a month no longer offered).
        _finish(sent, SentEmailStatus.SKIPPED, detail="statement_out_of_range")
        return sent
    except Exception as exc:
        _failed(sent, exc, final_attempt=final_attempt)
        raise
    return _send(sent, message, final_attempt=final_attempt)


def _failed(sent: SentEmail, exc: Exception, *, final_attempt: bool) -> None:
    status = SentEmailStatus.FAILED if final_attempt else SentEmailStatus.QUEUED
    _finish(sent, status, detail=f"{type(exc).__name__}: {exc}"[:500])
    logger.warning("email %s to %s failed: %s", sent.public_id, sent.to_email, exc)


def _send(sent: SentEmail, message: EmailMultiAlternatives, *, final_attempt: bool) -> SentEmail:
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # any transport error: SMTP, socket, file backend
        _failed(sent, exc, final_attempt=final_attempt)
        raise
    sent.subject = str(message.subject)[:300]
    sent.message_id = message.extra_headers["Message-ID"]
    sent.sent_at = timezone.now()
    _finish(sent, SentEmailStatus.SENT, extra_fields=["subject", "message_id", "sent_at"])
    return sent


def _finish(
    sent: SentEmail, status: str, *, detail: str = "", extra_fields: Sequence[str] = ()
) -> None:
    sent.status, sent.detail = status, detail
    sent.save(update_fields=["status", "detail", "language", *extra_fields])


# Building ---------------------------------------------------------------------------------


def email_language(invoice: Invoice) -> str:
    """The customer's language, else the company's, else English (only languages we ship)."""
    return customer_email_language(invoice.customer, invoice.company)


def customer_email_language(customer: Customer, company: Company) -> str:
    shipped = {code for code, _name in settings.LANGUAGES}
    for code in (customer.preferred_language, company.language):
        if code and code in shipped:
            return code
    return "en"


def _from_address(company: Company) -> str:
    # Our domain sends (SPF/DKIM); the company's name is the display name.
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((company.name.replace("\n", " ").replace("\r", " "), address))


def _mailto_unsubscribe(token: str, category: str) -> str:
    # Read back by email_unsubscribe_by_mail when the MTA pipes the reply to
    # `manage.py unsubscribe_from_email`.
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return f"mailto:{address}?subject={quote(f'unsubscribe {category} {token}')}"


# A token is hex then base64url: it ends where token characters end.
_MAIL_SUBJECT_RE = re.compile(
    r"\bunsubscribe\s+([a-z]+)\s+([0-9a-f]{32}[A-Za-z0-9_-]{22})(?![A-Za-z0-9_-])"
)


def email_unsubscribe_by_mail(*, subject: str) -> EmailPreference | None:
    """Act on a mail sent to the List-Unsubscribe mailto address: the subject we put there
    names the category and carries the token (replies may prefix "Re:"). Returns the updated
    preferences, or None when the subject holds no genuine token."""
    match = _MAIL_SUBJECT_RE.search(subject or "")
    if match is None or match.group(1) not in CATEGORIES:
        return None
    preference = email_preference_for_token(match.group(2))
    if preference is None:
        return None
    return email_unsubscribe(preference=preference, category=match.group(1), source="mailto")


# Image types mail clients show inline (WebP and SVG are blocked or unsupported by many).
_EMAIL_LOGO_SUBTYPES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".gif": "gif"}


def _logo_part(company: Company, *, domain: str) -> MIMEImage | None:
    """The company logo as an inline part for ``cid:``, or None. The email carries its logo:
    nothing serves MEDIA_ROOT to the public, and mail clients block ``data:`` images."""
    if not company.logo:
        return None
    subtype = _EMAIL_LOGO_SUBTYPES.get(Path(company.logo.name or "").suffix.lower())
    if subtype is None:
        return None
    try:
        if company.logo.size > LOGO_INLINE_MAX_BYTES:
            return None
        with company.logo.open("rb") as file:
            data = file.read()
    except OSError:  # the file is gone from storage: send the email with the name instead
        logger.warning("logo of company %s unreadable", company.pk, exc_info=True)
        return None
    part = MIMEImage(data, _subtype=subtype)
    part["Content-ID"] = make_msgid("logo", domain=domain)
    part.add_header("Content-Disposition", "inline", filename=f"logo.{subtype}")
    return part


def email_domain() -> str:
    """The host our Message-IDs and logo Content-IDs are made on."""
    return urlsplit(settings.PUBLIC_BASE_URL).hostname or "localhost"


def email_branding(
    company: Company, *, with_logo: bool = True
) -> tuple[MIMEImage | None, dict[str, Any]]:
    """The logo part (or None) and the template values that brand an email: its colour and the
    ``cid:`` address of the logo."""
    logo = _logo_part(company, domain=email_domain()) if with_logo else None
    logo_url = f"cid:{str(logo['Content-ID']).strip('<>')}" if logo is not None else ""
    return logo, {"brand_color": brand_color(company), "logo_url": logo_url}


class _RelatedEmail(EmailMultiAlternatives):
    """Its only attachment is the logo the HTML names by cid:, so the text and HTML parts are
    wrapped in multipart/related (Django's default wrapper is multipart/mixed)."""

    mixed_subtype = "related"


def compose_email(
    *,
    company: Company,
    to: str,
    subject: str,
    text: str,
    html: str,
    headers: dict[str, str],
    logo: MIMEImage | None = None,
    attachment: tuple[str, bytes, str] | None = None,
    reply_to_company: bool = True,
) -> EmailMultiAlternatives:
    """The one way our emails are put together: plain text and HTML from the company's address
    (replies go to the company unless ``reply_to_company`` is off), the logo inline, at most one
    file. With only the logo beside the text the parts are wrapped in multipart/related, so
    clients show it inline; with a file, multipart/mixed."""
    message_class = EmailMultiAlternatives if attachment or logo is None else _RelatedEmail
    message = message_class(
        subject=subject,
        body=text,
        from_email=_from_address(company),
        to=[to],
        reply_to=[company.email] if reply_to_company and company.email else None,
        headers={"Message-ID": make_msgid(domain=email_domain()), **headers},
    )
    message.attach_alternative(html, "text/html")
    if logo is not None:
        message.attach(logo)
    if attachment is not None:
        message.attach(*attachment)
    return message


def _unsubscribe_headers(
    *, sent: SentEmail, preference: EmailPreference, unsubscribe_url: str, language: str
) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe (the URL and a mailto), and what the message is."""
    token = email_preference_token(preference)
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>, <{_mailto_unsubscribe(token, sent.category)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Content-Language": language,
        "X-Entity-Ref-ID": sent.public_id,
    }


def build_invoice_email(
    *, sent: SentEmail, invoice: Invoice, preference: EmailPreference
) -> EmailMultiAlternatives:
    """The message for ``sent``: HTML and plain text, branded, in the customer's language,
    with the share link, a pay link where payment is possible, and RFC 8058 headers."""
    template = "invoice" if sent.kind == EmailKind.INVOICE else "reminder"
    return _customer_email(sent=sent, invoice=invoice, preference=preference, template=template)


def build_receipt_email(*, sent: SentEmail, preference: EmailPreference) -> EmailMultiAlternatives:
    """The receipt for ``sent.payment``: the invoice email's frame (links, headers, language)
    saying what was received, with the receipt PDF attached."""
    payment = sent.payment
    if payment is None:
        raise ValueError(f"Receipt {sent.public_id} has no payment.")
    return _customer_email(
        sent=sent, invoice=payment.invoice, preference=preference, template="receipt"
    )


def _customer_email(
    *, sent: SentEmail, invoice: Invoice, preference: EmailPreference, template: str
) -> EmailMultiAlternatives:
    company, customer = invoice.company, invoice.customer
    language = email_language(invoice)
    sent.language = language
    link = invoice_services.share_link_create(invoice=invoice)
    share_url = f"{invoice_services.share_link_url(link)}?source=email"
    # A link, not a form: the GET opens the invoice page at its pay form (never pays).
    can_pay = pay_gate(invoice=invoice, connected=stripe_connected(company)).allowed
    pay_url = f"{share_url}#pay" if can_pay else ""
    preference.company = company  # the same company, loaded: its links need its domain
    unsubscribe_url = email_unsubscribe_url(preference, category=sent.category)
    logo, branding = email_branding(company)
    attachment: tuple[str, bytes, str] | None = None

    with translation.override(language):
        summary = invoice_summary(invoice=invoice, locale=language)
        context: dict[str, Any] = {
            "kind": sent.kind,
            "company": company,
            "customer_name": customer.name,
            "invoice_number": summary.number,
            "total": summary.total,
            "amount_due": summary.amount_due,
            "due_date": invoice.due_date,
            "share_url": share_url,
            "pay_url": pay_url,
            "preferences_url": email_preferences_url(preference),
            "unsubscribe_url": unsubscribe_url,
            "language": language,
            **branding,
        }
        if sent.payment is not None and sent.kind == EmailKind.RECEIPT:
            context["receipt"] = payment_receipt(payment=sent.payment, language=language)
            attachment = (
                receipt_pdf_filename(sent.payment),
                receipt_pdf(payment=sent.payment, language=language),
                "application/pdf",
            )
        subject = _subject(sent.kind, invoice=invoice, company=company)
        context["subject"] = subject
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)

    headers = _unsubscribe_headers(
        sent=sent, preference=preference, unsubscribe_url=unsubscribe_url, language=language
    )
    if sent.kind != EmailKind.INVOICE:
        headers["Auto-Submitted"] = "auto-generated"
    return compose_email(
        company=company,
        to=sent.to_email,
        subject=subject,
        text=text,
        html=html,
        headers=headers,
        logo=logo,
        attachment=attachment,
    )


def build_statement_email(
    *, sent: SentEmail, preference: EmailPreference
) -> EmailMultiAlternatives:
    """The statement email for ``sent``: HTML and plain text in the customer's language, the
    statement as a PDF attachment (the very PDF the portal serves), a link to the statement
    page in the portal, and RFC 8058 headers. Raises StatementRefused when the statement asked
    for is out of range by now."""
    company, customer = sent.company, sent.customer
    assert customer is not None  # checked by email_deliver
    customer.company = company
    language = customer_email_language(customer, company)
    sent.language = language
    ledger = statements.customer_ledger(customer=customer)
    today = company_today(company)
    wanted = statements.statement_request(params=sent.statement, ledger=ledger, today=today)
    statement = statements.statement_build(ledger=ledger, request=wanted)
    link = invoice_services.portal_link_create(customer=customer)
    query = urlencode({**wanted.query(), "lang": language})
    statement_url = f"{invoice_services.share_link_url(link)}/statement?{query}"
    preference.company = company  # the same company, loaded: its links need its domain
    unsubscribe_url = email_unsubscribe_url(preference, category=sent.category)
    pdf = statement_document.statement_pdf(
        company=company, customer=customer, statement=statement, language=language, today=today
    )
    with translation.override(language):
        view = statement_document.statement_view(
            company=company, customer=customer, statement=statement, locale=language, today=today
        )
        subject = statement_document.statement_subject(company)
        context: dict[str, Any] = {
            "kind": sent.kind,
            "company": company,
            "customer_name": customer.name,
            "statement": view,
            "statement_url": statement_url,
            "preferences_url": email_preferences_url(preference),
            "unsubscribe_url": unsubscribe_url,
            "language": language,
            "subject": subject,
            **email_branding(company, with_logo=False)[1],
        }
        text = render_to_string("emails/statement.txt", context)
        html = render_to_string("emails/statement.html", context)
    return compose_email(
        company=company,
        to=sent.to_email,
        subject=subject,
        text=text,
        html=html,
        headers=_unsubscribe_headers(
            sent=sent, preference=preference, unsubscribe_url=unsubscribe_url, language=language
        ),
        attachment=(statement_document.statement_filename(wanted, "pdf"), pdf, "application/pdf"),
    )


def _subject(kind: str, *, invoice: Invoice, company: Company) -> str:
    values = {
        "number": invoice.number,
        "company": company.name,
        "date": date_format(invoice.due_date, "DATE_FORMAT"),
    }
    if kind == EmailKind.REMINDER_DUE_SOON:
        return _("Reminder: invoice %(number)s from %(company)s is due on %(date)s") % values
    if kind == EmailKind.REMINDER_OVERDUE:
        return _("Overdue: invoice %(number)s from %(company)s was due on %(date)s") % values
    if kind == EmailKind.RECEIPT:
        return _("Receipt for your payment of invoice %(number)s to %(company)s") % values
    return _("Invoice %(number)s from %(company)s") % values


# Staff notifications ------------------------------------------------------------------------
#
# The company's own people hear of customer comments, payments and an invoice's first view,
# through the same log and delivery as customer email. Who gets what is each staff member's own
# StaffNotificationSettings (asked when queueing and again when sending).

STAFF_SETTING: dict[str, str] = {
    EmailKind.STAFF_COMMENT: "comments",
    EmailKind.STAFF_PAYMENT: "payments",
    EmailKind.STAFF_FIRST_VIEW: "first_view",
}


def staff_wants(membership: Membership, kind: str) -> bool:
    """Whether this staff member wants this kind of notification (their row, else the
    default for their role)."""
    try:
        settings_row = membership.notification_settings
    except StaffNotificationSettings.DoesNotExist:
        return StaffNotificationSettings.defaults_for(membership.role)
    return bool(getattr(settings_row, STAFF_SETTING[kind]))


def staff_notification_queue(
    *,
    invoice: Invoice,
    kind: str,
    payment: Payment | None = None,
    exclude_user_id: int | None = None,
) -> list[SentEmail]:
    """Record a notification of ``kind`` about ``invoice`` for every staff member of its
    company who wants it (not ``exclude_user_id``: who did it) and queue each delivery."""
    memberships = (
        Membership.objects.filter(company_id=invoice.company_id, user__is_active=True)
        .exclude(user__email="")
        .select_related("user", "notification_settings")
        .order_by("pk")
    )
    queued: list[SentEmail] = []
    for membership in memberships:
        if membership.user_id == exclude_user_id or not staff_wants(membership, kind):
            continue
        try:
            with transaction.atomic():
                sent = SentEmail.objects.create(
                    company_id=invoice.company_id,
                    invoice=invoice,
                    payment=payment,
                    staff_member=membership,
                    to_email=normalize_email(membership.user.email),
                    kind=kind,
                    category=STAFF_CATEGORY,
                )
        except IntegrityError:
            continue  # this payment's notification is already on its way to them
        queued.append(sent)
    ids = [sent.pk for sent in queued]
    for pk in ids:
        transaction.on_commit(_delivery_queuer(pk), robust=True)
    return queued


def first_view_notification_queue(*, invoice: Invoice) -> list[SentEmail]:
    """The first counted view of ``invoice``: staff hear of it once."""
    if SentEmail.objects.filter(invoice=invoice, kind=EmailKind.STAFF_FIRST_VIEW).exists():
        return []
    return staff_notification_queue(invoice=invoice, kind=EmailKind.STAFF_FIRST_VIEW)


def _staff_deliver(sent: SentEmail, *, final_attempt: bool) -> SentEmail:
    membership = (
        Membership.objects.select_related("user", "notification_settings")
        .filter(pk=sent.staff_member_id or 0)
        .first()
    )
    if membership is None or not membership.user.is_active:
        _finish(sent, SentEmailStatus.SKIPPED, detail="not_staff")
        return sent
    if not staff_wants(membership, sent.kind):
        _finish(sent, SentEmailStatus.SKIPPED, detail="opted_out")
        return sent
    if sent.invoice is None:
        _finish(sent, SentEmailStatus.SKIPPED, detail="invoice_deleted")
        return sent
    try:
        message = build_staff_email(sent=sent, invoice=sent.invoice)
    except Exception as exc:
        _failed(sent, exc, final_attempt=final_attempt)
        raise
    return _send(sent, message, final_attempt=final_attempt)


def build_staff_email(*, sent: SentEmail, invoice: Invoice) -> EmailMultiAlternatives:
    """A short notification in the company's language: what happened, and links to the
    invoice in the admin and to the member's own notification settings."""
    company = invoice.company
    language = company.language if company.language in dict(settings.LANGUAGES) else "en"
    sent.language = language
    base = settings.PUBLIC_BASE_URL
    invoice_url = base + reverse("admin:invoices_invoice_change", args=[invoice.pk])
    settings_url = base + reverse("admin:preferences_staffnotificationsettings_changelist")
    values = {"number": invoice.number, "customer": invoice.customer.name}
    with translation.override(language):
        if sent.kind == EmailKind.STAFF_PAYMENT and sent.payment is not None:
            values["amount"] = format_money(sent.payment.amount, sent.payment.currency, language)
            subject = _("Payment of %(amount)s received for invoice %(number)s") % values
            line = _("%(customer)s paid %(amount)s on invoice %(number)s.") % values
        elif sent.kind == EmailKind.STAFF_COMMENT:
            subject = _("New comment on invoice %(number)s") % values
            line = _("%(customer)s wrote a comment on invoice %(number)s.") % values
        else:
            subject = _("Invoice %(number)s was opened for the first time") % values
            line = _("%(customer)s opened invoice %(number)s for the first time.") % values
        context = {
            "subject": subject,
            "line": line,
            "invoice_url": invoice_url,
            "settings_url": settings_url,
            "company": company,
            "language": language,
            "brand_color": brand_color(company),
        }
        text = render_to_string("emails/staff.txt", context)
        html = render_to_string("emails/staff.html", context)
    return compose_email(
        company=company,
        to=sent.to_email,
        subject=subject,
        text=text,
        html=html,
        headers={
            # Where the member turns these off (their settings in the admin; needs a login).
            "List-Unsubscribe": f"<{settings_url}>",
            "Auto-Submitted": "auto-generated",
            "Content-Language": language,
            "X-Entity-Ref-ID": sent.public_id,
        },
        reply_to_company=False,
    )
