"""Who may see what inside the frame: the one check every /embed/ request goes through.

The snippet passes ``customer`` (email, external id or Stripe customer id), ``hash`` and, for the expiring form,
``expires``. The hash is checked before the customer is looked up, so without the company's
secret nobody learns whether an identifier belongs to a customer. A refusal says which part
failed, in words meant for the developer wiring the snippet, and never the expected hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from core.crypto import SecretUnreadable, decrypt_secret
from core.errors import ApplicationError
from invoices.models import Company, Customer
from portal.embed.hashing import MAX_EXPIRY_HORIZON, MAX_HASH_LENGTH, hash_matches
from portal.embed.models import EmbedSecret, EmbedSettings, IdentifyBy
from portal.embed.selectors import AmbiguousCustomer, embed_customer_lookup

MAX_IDENTIFIER_LENGTH = 254


class EmbedDenied(ApplicationError):
    """A refused embed request: ``code`` for programs (the ``error`` event), ``message`` for the
    developer reading the frame or the console."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(code, message, None, status)


@dataclass(frozen=True)
class EmbedCredentials:
    """What the host page passed, as received (strings; empty when absent)."""

    identifier: str
    hash: str
    expires: str


@dataclass(frozen=True)
class EmbedAccess:
    settings: EmbedSettings
    company: Company
    customer: Customer
    credentials: EmbedCredentials
    # False only in test mode without a hash (the page then shows a banner).
    verified: bool


def embed_secrets_accepted(secret: EmbedSecret, *, now: dt.datetime) -> list[str]:
    """The current secret, plus the previous one while its grace period lasts."""
    accepted = [decrypt_secret(secret.secret_encrypted)]
    if secret.previous_accepted_at(now):
        accepted.append(decrypt_secret(secret.previous_secret_encrypted))
    return accepted


def _parse_expires(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise EmbedDenied(
            "invalid_expires",
            _("expires must be a Unix timestamp in seconds (digits only), e.g. 1767225600."),
        )
    return int(raw)


def _identifier_name(settings: EmbedSettings) -> str:
    if settings.identify_by == IdentifyBy.EXTERNAL_ID:
        return str(_("the customer's external id"))
    if settings.identify_by == IdentifyBy.STRIPE_CUSTOMER:
        return str(_("the customer's Stripe customer id (cus_…)"))
    return str(_("the customer's email address"))


def _check_hash(
    *, settings: EmbedSettings, credentials: EmbedCredentials, expires: int | None, now: dt.datetime
) -> None:
    secret = getattr(settings.company, "embed_secret", None)
    if secret is None:
        raise EmbedDenied(
            "no_secret",
            _("This company has no embed secret yet: create one in the admin (Embed settings)."),
        )
    try:
        accepted = embed_secrets_accepted(secret, now=now)
    except SecretUnreadable:
        raise EmbedDenied(
            "no_secret",
            _("The embed secret cannot be read (SECRET_KEY changed?): rotate it in the admin."),
        ) from None
    identifier, supplied = credentials.identifier, credentials.hash
    if hash_matches(secrets=accepted, identifier=identifier, supplied=supplied, expires=expires):
        return
    if expires is not None and hash_matches(
        secrets=accepted, identifier=identifier, supplied=supplied
    ):
        raise EmbedDenied(
            "wrong_hash",
            _(
                "The hash is over the identifier alone, but expires was passed: with expires, "
                'hash identifier + "." + expires (here: customer.%(expires)s).'
            )
            % {"expires": expires},
        )
    previous = secret.previous_secret_encrypted
    if previous and not secret.previous_accepted_at(now):
        try:
            old = [decrypt_secret(previous)]
        except SecretUnreadable:
            old = []
        if hash_matches(secrets=old, identifier=identifier, supplied=supplied, expires=expires):
            raise EmbedDenied(
                "rotated_secret",
                _(
                    "The hash was made with a previous embed secret, which stopped being "
                    "accepted at %(until)s. Use the current secret from the admin."
                )
                % {
                    "until": secret.previous_valid_until.isoformat()
                    if secret.previous_valid_until
                    else ""
                },
            )
    form = (
        _('identifier + "." + expires (here: customer.%(expires)s)') % {"expires": expires}
        if expires is not None
        else _("the identifier alone")
    )
    raise EmbedDenied(
        "wrong_hash",
        _(
            "The security hash does not match. It must be the lower-case hex HMAC-SHA256 of "
            "%(form)s, where the identifier is %(name)s exactly as passed in customer, keyed "
            "with this company's current embed secret. Check for stray whitespace or case "
            "changes, and that the secret belongs to this company."
        )
        % {"form": form, "name": _identifier_name(settings)},
    )


def embed_authorize(
    *, settings: EmbedSettings, credentials: EmbedCredentials, now: dt.datetime | None = None
) -> EmbedAccess:
    """The customer the request may see, or EmbedDenied saying why not."""
    now = now or timezone.now()
    identifier = credentials.identifier
    if not identifier:
        raise EmbedDenied(
            "missing_customer",
            _("customer is missing: pass %(name)s (data-customer in the snippet).")
            % {"name": _identifier_name(settings)},
        )
    if len(identifier) > MAX_IDENTIFIER_LENGTH or len(credentials.hash) > MAX_HASH_LENGTH:
        raise EmbedDenied("invalid_customer", _("customer or hash is too long."))
    expires = _parse_expires(credentials.expires)
    verified = False
    if not credentials.hash:
        if settings.is_live:
            raise EmbedDenied(
                "missing_hash",
                _(
                    "This portal is in live mode, so a security hash is required: compute it on "
                    "your server (HMAC-SHA256 of the identifier with your embed secret, hex) and "
                    "pass it as data-hash."
                ),
            )
    else:
        if settings.require_expiring_hash and expires is None:
            raise EmbedDenied(
                "expiring_hash_required",
                _(
                    "This company accepts only expiring hashes: pass expires (a Unix timestamp) "
                    'and hash identifier + "." + expires.'
                ),
            )
        _check_hash(settings=settings, credentials=credentials, expires=expires, now=now)
        if expires is not None:
            # Compared as numbers first: a far-future timestamp (12 digits) is no valid date.
            if expires > (now + MAX_EXPIRY_HORIZON).timestamp():
                raise EmbedDenied(
                    "expiry_too_far",
                    _("expires is more than %(days)d days ahead; use a shorter lifetime.")
                    % {"days": MAX_EXPIRY_HORIZON.days},
                )
            expires_at = dt.datetime.fromtimestamp(expires, tz=dt.UTC)
            if expires_at <= now:
                raise EmbedDenied(
                    "expired",
                    _(
                        "The hash expired at %(expires_at)s (now: %(now)s). Compute a fresh one "
                        "for each page view."
                    )
                    % {
                        "expires_at": expires_at.isoformat(),
                        "now": now.replace(microsecond=0).isoformat(),
                    },
                )
            if expires_at > now + MAX_EXPIRY_HORIZON:
                raise EmbedDenied(
                    "expiry_too_far",
                    _("expires is more than %(days)d days ahead; use a shorter lifetime.")
                    % {"days": MAX_EXPIRY_HORIZON.days},
                )
        verified = True
    company = settings.company
    try:
        customer = embed_customer_lookup(
            company=company, identify_by=settings.identify_by, identifier=identifier
        )
    except AmbiguousCustomer:
        raise EmbedDenied(
            "ambiguous_customer",
            _(
                "Several customers of this company have this email address; identify "
                "customers by external id instead (Embed settings)."
            ),
        ) from None
    if customer is None:
        raise EmbedDenied(
            "unknown_customer",
            _("No customer of %(company)s has %(name)s %(identifier)s.")
            % {
                "company": company.name,
                "name": _identifier_name(settings),
                "identifier": identifier,
            },
        )
    customer.company = company  # already loaded: saves a query wherever the page reads it
    return EmbedAccess(
        settings=settings,
        company=company,
        customer=customer,
        credentials=credentials,
        verified=verified,
    )
