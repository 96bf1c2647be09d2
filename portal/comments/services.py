"""Writes for the comment thread: posting under the invoice's write mode, the proofs a customer
gives (emailed codes, sign-in links, an authenticator app), and staff replies and resolution.

Refusals raise :class:`CommentError` with a stable ``code`` that views turn into the API's error
shape. Counters that must survive a refusal (wrong-code attempts, TOTP back-off) are committed
in their own transaction before the error is raised.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import smtplib

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from invoices import events
from invoices.customer_sessions import services as sessions
from invoices.customer_sessions.models import (
    SESSION_MAX_AGE,
    CustomerSession,
    OpenedBy,
    SignInLink,
    SignInPage,
    SignInSource,
)
from invoices.customer_sessions.services import OpenedSession
from invoices.customization.domains import company_origin
from invoices.models import Invoice
from invoices.models.company import CommentWriteMode
from invoices.tenancy import User, can_manage_invoices
from invoices.webhooks.services import event_emit

from . import realtime
from .models import (
    Comment,
    CommentRole,
    CustomerTotpDevice,
    EmailCode,
    Verification,
)
from .selectors import (
    comment_write_mode,
    public_comment,
    totp_required,
)

logger = logging.getLogger(__name__)

BODY_MAX_LENGTH = 2000
NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254  # Comment.author_email (EmailField's default max_length)
CODE_LIFETIME = dt.timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5
CODE_RESEND_AFTER = dt.timedelta(seconds=60)
CODES_PER_HOUR = 5
# A code proves the mailbox for one invoice for a while; a customer session is wider and longer
# (14 days idle, 30 at most: invoices.customer_sessions).
INVOICE_SESSION_LIFETIME = dt.timedelta(hours=2)

# Control characters other than newline and tab: invisible tricks, and NUL breaks PostgreSQL.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class CommentError(ApplicationError):
    """A refusal the writer can act on; ``status`` is the HTTP status views answer with."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(code, message, field, status)


# Input ------------------------------------------------------------------------------------


def clean_body(body: str) -> str:
    text = _CONTROL_RE.sub("", (body or "").replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise CommentError(400, "invalid", _("Write a comment first."), "body")
    if len(text) > BODY_MAX_LENGTH:
        raise CommentError(
            400,
            "too_long",
            _("A comment can be at most %(max)d characters long.") % {"max": BODY_MAX_LENGTH},
            "body",
        )
    return text


def clean_name(name: str, *, required: bool) -> str:
    text = " ".join(_CONTROL_RE.sub("", name or "").split())
    if required and not text:
        raise CommentError(400, "invalid", _("Enter your name."), "name")
    if len(text) > NAME_MAX_LENGTH:
        raise CommentError(400, "too_long", _("That name is too long."), "name")
    return text


def clean_email(email: str) -> str:
    text = (email or "").strip()
    try:
        validate_email(text)
    except ValidationError:
        raise CommentError(400, "invalid", _("Enter a valid email address."), "email") from None
    # validate_email allows up to 320 characters; the column (EmailField) holds 254, and
    # PostgreSQL refuses a longer value (SQLite would silently store it).
    if len(text) > EMAIL_MAX_LENGTH:
        raise CommentError(400, "too_long", _("That email address is too long."), "email")
    return text


# Posting ----------------------------------------------------------------------------------


def comment_post(
    *,
    invoice: Invoice,
    name: str,
    email: str,
    body: str,
    session: CustomerSession | None = None,
    totp_code: str = "",
) -> Comment:
    """A customer's comment, if the invoice's write mode lets this writer post. Flags the invoice
    as needing attention and tells open streams."""
    text = clean_body(body)
    mode = comment_write_mode(invoice=invoice)
    customer = invoice.customer
    if mode == CommentWriteMode.LINK:
        author_name = clean_name(name, required=True)
        author_email = clean_email(email)
        verification = Verification.LINK
    elif mode == CommentWriteMode.EMAIL_CODE:
        if session is None or not session.covers(invoice):
            raise CommentError(
                403,
                "verification_required",
                _("Enter the code we email to the customer's address before posting."),
            )
        author_name = clean_name(name, required=False) or customer.name
        author_email = customer.email
        verification = Verification.EMAIL_CODE
    else:
        if session is None or session.invoice_id is not None or not session.covers(invoice):
            raise CommentError(
                403,
                "session_required",
                _("Sign in with the link or code we email to the customer before posting."),
            )
        author_name = clean_name(name, required=False) or customer.name
        author_email = customer.email
        verification = Verification.CUSTOMER_SESSION

    totp_used = False
    if totp_required(invoice=invoice):
        device = CustomerTotpDevice.objects.filter(customer_id=invoice.customer_id).first()
        if device is None or not device.confirmed:
            raise CommentError(
                403,
                "totp_enrolment_required",
                _("Set up an authenticator app before posting."),
                "totp_code",
            )
        totp_verify(device=device, code=totp_code)
        totp_used = True

    return _comment_insert(
        invoice=invoice,
        role=CommentRole.CUSTOMER,
        author_name=author_name,
        author_email=author_email,
        verification=verification,
        totp_confirmed=totp_used,
        body=text,
    )


def comment_reply(*, invoice: Invoice, user: User, body: str) -> Comment:
    """A staff reply (owner or billing manager of the invoice's company)."""
    if not can_manage_invoices(user, invoice.company_id):
        raise CommentError(403, "forbidden", _("You may not reply on this invoice."))
    full_name = getattr(user, "get_full_name", lambda: "")() or user.get_username()
    return _comment_insert(
        invoice=invoice,
        role=CommentRole.STAFF,
        author_name=f"{full_name} ({invoice.company.name})"[:NAME_MAX_LENGTH],
        author_email=getattr(user, "email", "") or "",
        verification=Verification.STAFF,
        totp_confirmed=False,
        body=clean_body(body),
        staff_user=user,
    )


@transaction.atomic
def _comment_insert(
    *,
    invoice: Invoice,
    role: str,
    author_name: str,
    author_email: str,
    verification: str,
    totp_confirmed: bool,
    body: str,
    staff_user: User | None = None,
) -> Comment:
    # The invoice row lock serialises writers of one thread, so numbers are 1, 2, 3… with no
    # duplicates; other invoices are not held up.
    locked = Invoice.objects.select_for_update().only("id", "needs_attention").get(pk=invoice.pk)
    last = Comment.objects.filter(invoice_id=invoice.pk).aggregate(m=Max("number"))["m"] or 0
    comment = Comment.objects.create(
        company_id=invoice.company_id,
        invoice_id=invoice.pk,
        number=last + 1,
        role=role,
        author_name=author_name,
        author_email=author_email,
        staff_user=staff_user if staff_user is not None and staff_user.is_authenticated else None,
        verification=verification,
        totp_confirmed=totp_confirmed,
        body=body,
    )
    if role == CommentRole.CUSTOMER and not locked.needs_attention:
        locked.needs_attention = True
        locked.save(update_fields=["needs_attention"])
    if role == CommentRole.CUSTOMER:
        invoice.needs_attention = True
    events.record(
        company=invoice.company,
        action="comment.posted",
        object_id=invoice.public_id,
        actor=staff_user,
        number=comment.number,
        role=role,
        verification=verification,
    )
    event_emit(
        company=invoice.company,
        type="comment.created",
        object_id=invoice.public_id,
        data={
            "object": "comment",
            "invoice": invoice.public_id,
            "number": comment.number,
            "role": role,
            "author_name": author_name,
            "body": body,
            "created_at": comment.created_at.isoformat(),
        },
    )
    invoice_id, payload = invoice.pk, public_comment(comment)
    transaction.on_commit(lambda: realtime.publish(invoice_id=invoice_id, comment=payload))
    return comment


@transaction.atomic
def invoice_attention_resolve(*, invoice: Invoice, user: User) -> bool:
    """Staff mark the customer's comments answered. False when there was nothing to resolve."""
    if not can_manage_invoices(user, invoice.company_id):
        raise CommentError(403, "forbidden", _("You may not resolve this invoice."))
    changed = Invoice.objects.filter(pk=invoice.pk, needs_attention=True).update(
        needs_attention=False
    )
    invoice.needs_attention = False
    if changed:
        events.record(
            company=invoice.company,
            action="comment.resolved",
            object_id=invoice.public_id,
            actor=user,
        )
    return bool(changed)


# Emailed codes ----------------------------------------------------------------------------


def _code_hash(invoice_id: int, code: str) -> str:
    return salted_hmac(
        "portal.comments.email-code", f"{invoice_id}:{code}", algorithm="sha256"
    ).hexdigest()


def _send_to_customer(invoice: Invoice, subject: str, body: str) -> None:
    recipient = invoice.customer.email
    invoice_id = invoice.pk

    def send() -> None:
        try:
            send_mail(subject, body, None, [recipient], fail_silently=False)
        except (smtplib.SMTPException, OSError):
            # The code or link is saved but never left: tell the writer instead of a 500.
            logger.warning("comments: email to the customer of invoice %s failed", invoice_id)
            raise CommentError(
                503,
                "email_failed",
                _("We could not send the email just now. Try again in a minute."),
            ) from None

    transaction.on_commit(send)


def _customer_language(invoice: Invoice) -> str:
    return invoice.customer.preferred_language or invoice.company.language or "en"


def email_code_request(*, invoice: Invoice) -> EmailCode:
    """Email a fresh six-digit code to the customer's address on file (never to an address the
    requester types: that is what makes the code a proof)."""
    now = timezone.now()
    with transaction.atomic():
        Invoice.objects.select_for_update().only("id").get(pk=invoice.pk)
        recent = list(
            EmailCode.objects.filter(
                invoice_id=invoice.pk, created_at__gt=now - dt.timedelta(hours=1)
            ).values_list("created_at", flat=True)
        )
        if recent and max(recent) > now - CODE_RESEND_AFTER:
            raise CommentError(
                429, "rate_limited", _("A code was just sent. Wait a minute before asking again.")
            )
        if len(recent) >= CODES_PER_HOUR:
            raise CommentError(
                429, "rate_limited", _("Too many codes were requested. Try again later.")
            )
        code = f"{secrets.randbelow(1_000_000):06d}"
        row = EmailCode.objects.create(
            company_id=invoice.company_id,
            customer_id=invoice.customer_id,
            invoice_id=invoice.pk,
            code_hash=_code_hash(invoice.pk, code),
            expires_at=now + CODE_LIFETIME,
        )
        with translation.override(_customer_language(invoice)):
            subject = _("Your code for invoice %(number)s") % {"number": invoice.number}
            text = _(
                "Your code to comment on invoice %(number)s from %(company)s is %(code)s.\n\n"
                "It expires in 10 minutes. If you did not ask for it, ignore this email."
            ) % {"number": invoice.number, "company": invoice.company.name, "code": code}
        _send_to_customer(invoice, subject, text)
        events.record(
            company=invoice.company, action="comment.code_sent", object_id=invoice.public_id
        )
    return row


def email_code_verify(*, invoice: Invoice, code: str) -> OpenedSession:
    """Trade a live code for a session cookie. Wrong guesses count against every live code of
    the invoice and are committed even though the call then fails."""
    code = (code or "").strip().replace(" ", "")
    outcome = _email_code_check(invoice=invoice, code=code)
    if isinstance(outcome, CommentError):
        raise outcome
    return outcome


@transaction.atomic
def _email_code_check(*, invoice: Invoice, code: str) -> OpenedSession | CommentError:
    now = timezone.now()
    codes = list(
        EmailCode.objects.select_for_update()
        .filter(invoice_id=invoice.pk, customer_id=invoice.customer_id, used_at__isnull=True)
        .order_by("-created_at")[:CODES_PER_HOUR]
    )
    unexpired = [c for c in codes if c.expires_at > now]
    live = [c for c in unexpired if c.attempts < CODE_MAX_ATTEMPTS]
    if not live:
        if unexpired:
            return CommentError(
                429, "too_many_attempts", _("Too many wrong codes. Ask for a new code."), "code"
            )
        if codes:
            return CommentError(
                400, "code_expired", _("This code has expired. Ask for a new one."), "code"
            )
        return CommentError(400, "no_code", _("Ask for a code first."), "code")

    wanted = _code_hash(invoice.pk, code) if re.fullmatch(r"\d{6}", code) else ""
    match = next((c for c in live if wanted and constant_time_compare(c.code_hash, wanted)), None)
    if match is None:
        EmailCode.objects.filter(pk__in=[c.pk for c in live]).update(attempts=F("attempts") + 1)
        if all(c.attempts + 1 >= CODE_MAX_ATTEMPTS for c in live):
            return CommentError(
                429, "too_many_attempts", _("Too many wrong codes. Ask for a new code."), "code"
            )
        return CommentError(400, "code_invalid", _("That code is not right."), "code")

    match.used_at = now
    match.save(update_fields=["used_at"])
    # In customer-session mode the code opens the customer's session; otherwise this invoice.
    wide = comment_write_mode(invoice=invoice) == CommentWriteMode.CUSTOMER_SESSION
    return _session_open(invoice=invoice, customer_wide=wide, opened_by=OpenedBy.EMAIL_CODE)


def _session_open(
    *,
    invoice: Invoice,
    customer_wide: bool,
    opened_by: str,
    replaces: CustomerSession | None = None,
) -> OpenedSession:
    opened = sessions.session_open(
        customer=invoice.customer,
        opened_by=opened_by,
        invoice=None if customer_wide else invoice,
        lifetime=SESSION_MAX_AGE if customer_wide else INVOICE_SESSION_LIFETIME,
        replaces=replaces,
    )
    events.record(
        company=invoice.company,
        action="comment.session_opened",
        object_id=invoice.public_id,
        opened_by=opened_by,
        customer_wide=customer_wide,
    )
    return opened


# Sign-in links ----------------------------------------------------------------------------


def signin_link_request(*, invoice: Invoice, page_token: str) -> SignInLink:
    """Email the customer a one-time link that opens a customer session on this device and
    leads back to this invoice's comments."""
    now = timezone.now()
    with transaction.atomic():
        Invoice.objects.select_for_update().only("id").get(pk=invoice.pk)
        recent = list(
            SignInLink.objects.filter(
                invoice_id=invoice.pk,
                source=SignInSource.COMMENTS,
                created_at__gt=now - dt.timedelta(hours=1),
            ).values_list("created_at", flat=True)
        )
        if (recent and max(recent) > now - CODE_RESEND_AFTER) or len(recent) >= CODES_PER_HOUR:
            raise CommentError(
                429, "rate_limited", _("A link was just sent. Wait a minute before asking again.")
            )
        link = sessions.sign_in_link_create(
            customer=invoice.customer,
            source=SignInSource.COMMENTS,
            page=SignInPage.INVOICE,
            invoice=invoice,
        )
        url = (
            f"{company_origin(invoice.company)}/invoice/{page_token}/comments/signin/"
            f"{sessions.sign_in_link_token(link)}"
        )
        with translation.override(_customer_language(invoice)):
            subject = _("Sign in to comment on invoice %(number)s") % {"number": invoice.number}
            text = _(
                "Open this link to comment on invoice %(number)s from %(company)s:\n\n%(url)s\n\n"
                "It works once, for 30 minutes. If you did not ask for it, ignore this email."
            ) % {"number": invoice.number, "company": invoice.company.name, "url": url}
        _send_to_customer(invoice, subject, text)
    return link


def signin_link_open(
    *, invoice: Invoice, token: str, replaces: CustomerSession | None = None
) -> OpenedSession:
    try:
        signed_in = sessions.sign_in_link_redeem(token=token, invoice=invoice, replaces=replaces)
    except sessions.SignInLinkInvalid:
        raise CommentError(
            400, "link_expired", _("This sign-in link has expired or was already used.")
        ) from None
    events.record(
        company=invoice.company,
        action="comment.session_opened",
        object_id=invoice.public_id,
        opened_by=OpenedBy.COMMENT_LINK,
        customer_wide=True,
    )
    return signed_in.opened


# Authenticator app (TOTP) -----------------------------------------------------------------


def totp_enrol(*, invoice: Invoice, session: CustomerSession | None) -> CustomerTotpDevice:
    """Start enrolling an authenticator for the invoice's customer. Only someone who proved the
    mailbox may, and a confirmed app is never replaced from the page (staff can reset it)."""
    if session is None or not session.covers(invoice):
        raise CommentError(
            403, "verification_required", _("Verify with the emailed code before enrolling.")
        )
    with transaction.atomic():
        device = (
            CustomerTotpDevice.objects.select_for_update()
            .filter(customer_id=invoice.customer_id)
            .first()
        )
        if device is not None and device.confirmed:
            raise CommentError(
                409, "already_enrolled", _("An authenticator app is already set up.")
            )
        if device is not None:
            device.delete()
        return CustomerTotpDevice.objects.create(
            company_id=invoice.company_id, customer_id=invoice.customer_id
        )


def totp_confirm(
    *, invoice: Invoice, session: CustomerSession | None, code: str
) -> CustomerTotpDevice:
    if session is None or not session.covers(invoice):
        raise CommentError(
            403, "verification_required", _("Verify with the emailed code before enrolling.")
        )
    device = CustomerTotpDevice.objects.filter(
        customer_id=invoice.customer_id, confirmed=False
    ).first()
    if device is None:
        raise CommentError(400, "no_enrolment", _("Start setting up the app first."))
    totp_verify(device=device, code=code)
    CustomerTotpDevice.objects.filter(pk=device.pk).update(confirmed=True)
    device.confirmed = True
    events.record(
        company=invoice.company, action="comment.totp_enrolled", object_id=invoice.public_id
    )
    return device


def customer_totp_reset(*, device: CustomerTotpDevice, user: User) -> None:
    """Staff remove a customer's authenticator app (a lost phone): the customer enrols a new
    one from the invoice page after proving the mailbox again."""
    if not can_manage_invoices(user, device.company_id):
        raise CommentError(403, "forbidden", _("You may not reset this authenticator app."))
    with transaction.atomic():
        CustomerTotpDevice.objects.filter(pk=device.pk).delete()
        events.record(
            company=device.company,
            action="comment.totp_reset",
            object_id=device.customer.public_id,
            actor=user,
        )


def totp_verify(*, device: CustomerTotpDevice, code: str) -> None:
    """Check a code as django-otp's TOTPDevice does: within one step of tolerance, never a time
    step at or before the last one used (a replayed code fails), with exponential back-off."""
    outcome = _totp_check(device_id=device.pk, code=(code or "").strip().replace(" ", ""))
    if outcome is not None:
        raise outcome


@transaction.atomic
def _totp_check(*, device_id: int, code: str) -> CommentError | None:
    device = CustomerTotpDevice.objects.select_for_update().get(pk=device_id)
    if not code:
        return CommentError(
            403, "totp_required", _("Enter the code from your authenticator app."), "totp_code"
        )
    allowed, _info = device.verify_is_allowed()
    if not allowed:
        return CommentError(
            429,
            "too_many_attempts",
            _("Too many wrong codes. Wait a little and try again."),
            "totp_code",
        )
    totp = device.totp()
    verified = (
        code.isascii()  # str.isdigit() is also true for "²", which int() refuses
        and code.isdigit()
        and totp.verify(int(code), device.tolerance, device.last_t + 1)
    )
    if not verified:
        device.throttle_increment(commit=True)
        return CommentError(
            400,
            "totp_invalid",
            _("That authenticator code is not right or was already used."),
            "totp_code",
        )
    device.last_t = totp.t()
    device.drift = totp.drift
    device.last_used_at = timezone.now()
    device.throttle_reset(commit=False)
    device.save(
        update_fields=[
            "last_t",
            "drift",
            "last_used_at",
            "throttling_failure_count",
            "throttling_failure_timestamp",
        ]
    )
    return None
