"""Writes for the customer's billing details page: the fields the company allows, each
checked, saved through ``invoices.services.customer_update`` (audited, the ``customer.updated``
webhook, issued invoices untouched); a new billing email only once the new address confirms a
link sent to it, with a notice to the old one.

Enforced here, not in the page: a posted field the company does not allow is refused (400),
never quietly dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from invoices import events, services
from invoices.models import Customer
from invoices.tokens import make_token, new_selector, parse_token

from . import fields as checks
from .models import BillingEmailChange
from .selectors import editable_fields

logger = logging.getLogger(__name__)

EMAIL_CHANGE_PURPOSE = "billing-email"
EMAIL_CHANGE_LIFETIME = dt.timedelta(hours=24)
EMAIL_CHANGES_PER_HOUR = 5
EMAIL_CONFIRM_PATH = "/portal/billing-email/"


class BillingDetailsRefused(ApplicationError):
    """The request as a whole is refused: a field the company does not let customers change,
    or too many email changes."""


class BillingDetailsInvalid(ApplicationError):
    """One message per field that failed its check (the page shows them all)."""

    def __init__(self, errors: dict[str, str]) -> None:
        field_name, message = next(iter(errors.items()))
        super().__init__("invalid", message, field_name, 400)
        self.errors = errors


@dataclass(frozen=True)
class BillingOutcome:
    changed: list[str] = field(default_factory=list)
    # The address waiting for its confirmation link, or "".
    email_pending: str = ""


def _posted_fields(customer: Customer, posted: Mapping[str, str]) -> dict[str, str]:
    allowed = set(editable_fields(customer))
    wanted: dict[str, str] = {}
    for key, value in posted.items():
        name = checks.POSTED_ALIASES.get(key, key)
        if name not in checks.FIELD_GROUP:
            continue  # not a billing detail (the language switch, a CSRF token...)
        if name not in allowed:
            raise BillingDetailsRefused(
                "not_editable",
                _("%(field)s cannot be changed here. Ask %(company)s to change it.")
                % {"field": field_label(name), "company": customer.company.name},
                name,
                400,
            )
        wanted[name] = str(value)
    return wanted


def _clean(customer: Customer, wanted: dict[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    errors: dict[str, str] = {}
    country = customer.country
    if "country" in wanted:
        try:
            country = cleaned["country"] = checks.clean_country(wanted["country"])
        except checks.FieldInvalid as exc:
            errors["country"] = str(exc)
    for name, raw in wanted.items():
        if name == "country":
            continue
        try:
            if name == "email":
                value = checks.clean_email(raw)
            elif name == "phone":
                value = checks.clean_phone(raw)
            elif name == "preferred_language":
                value = checks.clean_language(raw)
            elif name == "tax_id":
                value = checks.clean_tax_id(raw, country=country)
            else:
                value = checks.clean_text(raw)
                if name == "name" and not value:
                    raise checks.FieldInvalid(_("Enter the name invoices are made out to."))
            if len(value) > checks.MAX_LENGTHS.get(name, 200):
                raise checks.FieldInvalid(
                    _("At most %(count)d characters.") % {"count": checks.MAX_LENGTHS[name]}
                )
            cleaned[name] = value
        except checks.FieldInvalid as exc:
            errors[name] = str(exc)
    if errors:
        raise BillingDetailsInvalid(errors)
    return cleaned


def billing_details_update(*, customer: Customer, posted: Mapping[str, str]) -> BillingOutcome:
    """Apply what the customer posted on the billing details page."""
    cleaned = _clean(customer, _posted_fields(customer, posted))
    new_email = cleaned.pop("email", customer.email)
    changes = {name: value for name, value in cleaned.items() if value != getattr(customer, name)}
    pending = ""
    with transaction.atomic():
        if changes:
            services.customer_update(customer=customer, changes=changes, source="portal")
        if new_email.casefold() != customer.email.casefold():
            pending = billing_email_change_request(customer=customer, new_email=new_email).new_email
    return BillingOutcome(changed=sorted(changes), email_pending=pending)


def field_label(name: str) -> str:
    return {
        "name": _("Name"),
        "address_line1": _("Address"),
        "address_line2": _("Address (second line)"),
        "postal_code": _("Postal code"),
        "city": _("City"),
        "region": _("Region or state"),
        "country": _("Country"),
        "email": _("Billing email"),
        "phone": _("Phone"),
        "tax_id": _("Tax id"),
        "buyer_reference": _("Buyer reference"),
        "preferred_language": _("Language"),
    }.get(name, name)


# The billing email -------------------------------------------------------------------------


def _language(customer: Customer) -> str:
    return customer.preferred_language or customer.company.language or "en"


def _send(subject: str, body: str, recipient: str) -> None:
    def send() -> None:
        try:
            send_mail(subject, body, None, [recipient], fail_silently=False)
        except (smtplib.SMTPException, OSError):
            # The request is saved; the customer can ask again from the page.
            logger.warning("billing: an email about a billing email change was not sent")

    transaction.on_commit(send)


def billing_email_confirm_url(change: BillingEmailChange) -> str:
    token = make_token(change.selector, purpose=EMAIL_CHANGE_PURPOSE)
    return f"{settings.PUBLIC_BASE_URL}{EMAIL_CONFIRM_PATH}{token}"


@transaction.atomic
def billing_email_change_request(*, customer: Customer, new_email: str) -> BillingEmailChange:
    """Email a confirmation link to ``new_email`` and tell the current address; the email
    changes only when the link is confirmed. A newer request replaces an older one."""
    now = timezone.now()
    Customer.objects.select_for_update().only("id").get(pk=customer.pk)
    pending = BillingEmailChange.objects.filter(
        customer_id=customer.pk, confirmed_at__isnull=True, cancelled_at__isnull=True
    )
    recent = BillingEmailChange.objects.filter(
        customer_id=customer.pk, created_at__gt=now - dt.timedelta(hours=1)
    ).count()
    if recent >= EMAIL_CHANGES_PER_HOUR:
        raise BillingDetailsRefused(
            "rate_limited",
            _("Too many email changes were asked for. Try again in an hour."),
            "email",
            429,
        )
    pending.update(cancelled_at=now)
    change = BillingEmailChange.objects.create(
        company_id=customer.company_id,
        customer=customer,
        old_email=customer.email,
        new_email=new_email,
        selector=new_selector(),
        expires_at=now + EMAIL_CHANGE_LIFETIME,
    )
    company = customer.company.name
    with translation.override(_language(customer)):
        _send(
            _("Confirm your billing email for %(company)s") % {"company": company},
            _(
                "You asked for invoices from %(company)s to go to this address.\n\n"
                "Confirm it with this link (it works once, for 24 hours):\n%(url)s\n\n"
                "If you did not ask for it, ignore this email: nothing changes."
            )
            % {"company": company, "url": billing_email_confirm_url(change)},
            new_email,
        )
        _send(
            _("Your billing email for %(company)s is about to change") % {"company": company},
            _(
                "Someone with access to your account at %(company)s asked for invoices to go "
                "to %(new)s instead of this address. It changes once that address confirms.\n\n"
                "If this was not you, contact %(company)s."
            )
            % {"company": company, "new": new_email},
            customer.email,
        )
    events.record(
        company=customer.company,
        action="customer.billing_email_change_requested",
        object_id=customer.public_id,
        source="portal",
        fields=["email"],
        values={"email": {"from": customer.email, "to": f"{new_email} (unconfirmed)"}},
    )
    return change


def billing_email_change_for_token(token: str) -> BillingEmailChange | None:
    """The pending change a confirmation link names, with its customer and company, or None
    (forged, used, replaced or expired: all alike). One query; none for a forged token."""
    selector = parse_token(token, purpose=EMAIL_CHANGE_PURPOSE)
    if selector is None:
        return None
    return (
        BillingEmailChange.objects.select_related("customer__company")
        .filter(
            selector=selector,
            confirmed_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )


@transaction.atomic
def billing_email_change_confirm(*, token: str) -> Customer | None:
    """Confirm the change a link names: the customer's email becomes the new address. Works
    once; None for any link that does not (the page answers the one not-found page)."""
    selector = parse_token(token, purpose=EMAIL_CHANGE_PURPOSE)
    if selector is None:
        return None
    change = (
        BillingEmailChange.objects.select_for_update()
        .filter(
            selector=selector,
            confirmed_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if change is None:
        return None
    customer = Customer.objects.select_related("company").get(pk=change.customer_id)
    change.confirmed_at = timezone.now()
    change.save(update_fields=["confirmed_at"])
    if customer.email != change.old_email:
        # Staff changed the address meanwhile: theirs stands, this link no longer applies.
        return None
    services.customer_update(
        customer=customer, changes={"email": change.new_email}, source="portal"
    )
    return customer
