"""A company's embeddable portal: its settings and the secret its server signs customers with."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _

from invoices.models import Company
from portal.embed.validation import validate_allowed_origins, validate_translations


class EmbedMode(models.TextChoices):
    TEST = "test", _("Test: the security hash is optional and a banner says so")
    LIVE = "live", _("Live: every request needs a valid security hash")


class IdentifyBy(models.TextChoices):
    EMAIL = "email", _("Email address")
    EXTERNAL_ID = "external_id", _("External customer id")
    # For companies that bill in Stripe (Stripe sync links customers to their cus_… id):
    # robust to email changes, and what tenant architectures key their accounts by.
    STRIPE_CUSTOMER = "stripe_customer", _("Stripe customer id")


class EmbedSettings(models.Model):
    """How a company's portal behaves inside other sites. Without this row the company has no
    embed at all: /embed/<key> refuses every request."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="embed_settings")
    # Live by default: test mode shows a customer's invoices to anyone who knows the identifier.
    mode = models.CharField(max_length=4, choices=EmbedMode.choices, default=EmbedMode.LIVE)
    identify_by = models.CharField(
        max_length=16, choices=IdentifyBy.choices, default=IdentifyBy.EMAIL
    )
    # Which statuses the list shows (formerly "show all invoices"; ``show_all_invoices`` below
    # still reads and sets it).
    list_paid_and_void_invoices = models.BooleanField(
        _("list paid and void invoices too"),
        default=False,
        help_text=_("On: every issued invoice (paid, void...). Off: only open invoices."),
    )
    # Which invoices the list shows when the snippet names a subscription (data-subscription):
    # Billflow's "Show all customer invoices".
    show_all_customer_invoices = models.BooleanField(
        _("show all customer invoices"),
        default=False,
        help_text=_(
            "With data-subscription in the snippet: on, every invoice of the customer "
            "(one-off invoices too); off, only that subscription's invoices."
        ),
    )
    require_expiring_hash = models.BooleanField(
        default=False,
        help_text=_(
            "Accept only hashes over identifier.expiry with an expiry passed beside them, "
            "so a leaked hash stops working."
        ),
    )
    # Normalised origins ("https://shop.example.com"): the frame's frame-ancestors and the
    # only target origin the frame posts messages to.
    allowed_origins = models.JSONField(
        default=list, blank=True, validators=[validate_allowed_origins]
    )
    detect_browser_language = models.BooleanField(
        default=True,
        help_text=_("Off: the company's language (or the snippet's lang) is always used."),
    )
    # {"de": {"Amount due": "Zu zahlen", ...}}: message id (the English text) → replacement.
    translations = models.JSONField(default=dict, blank=True, validators=[validate_translations])
    handle_response = models.BooleanField(
        default=False,
        help_text=_("Post events to the host page and call its handleResponse(event)."),
    )
    debug = models.BooleanField(
        default=False, help_text=_("Log each step to the browser console (also: debug=1).")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("embed settings")
        verbose_name_plural = _("embed settings")

    def __str__(self) -> str:
        return f"Embed of {self.company}"

    @property
    def is_live(self) -> bool:
        return self.mode == EmbedMode.LIVE

    @property
    def show_all_invoices(self) -> bool:
        """The status toggle's former name, still read and set (also as a constructor
        keyword): ``list_paid_and_void_invoices``."""
        return self.list_paid_and_void_invoices

    @show_all_invoices.setter
    def show_all_invoices(self, value: bool) -> None:
        self.list_paid_and_void_invoices = value


class EmbedSecret(models.Model):
    """The HMAC key a company's server signs customer identifiers with. Stored encrypted
    (payments.crypto): HMAC needs the key itself, so it cannot be hashed like an API key, and a
    database dump alone must not let anyone forge hashes. After a rotation the previous key
    keeps working until ``previous_valid_until`` so sites can roll out the new one."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="embed_secret")
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True)
    previous_valid_until = models.DateTimeField(null=True, blank=True)
    rotated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("embed secret")

    def __str__(self) -> str:
        return f"Embed secret of {self.company}"

    def previous_accepted_at(self, now: dt.datetime) -> bool:
        return bool(
            self.previous_secret_encrypted
            and self.previous_valid_until is not None
            and now < self.previous_valid_until
        )
