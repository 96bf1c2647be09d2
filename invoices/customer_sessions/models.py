"""A signed-in customer, and the one-time links that sign one in.

Nothing here is a usable secret: sessions and links are stored as selectors whose tokens need
``SECRET_KEY`` (``invoices.tokens``), so a copy of the database signs nobody in.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from invoices.models import Company, Customer, Invoice

# A session nobody used for this long ends; none lives longer than SESSION_MAX_AGE.
SESSION_IDLE = dt.timedelta(days=14)
SESSION_MAX_AGE = dt.timedelta(days=30)


class OpenedBy(models.TextChoices):
    EMAIL_CODE = "email_code", _("Code emailed for a comment")
    COMMENT_LINK = "signin_link", _("Sign-in link emailed for a comment")
    EMAIL_LINK = "email_link", _("Sign-in link emailed from the portal entry")
    MAGIC_LINK = "magic_link", _("Magic link made through the API")


class SignInPage(models.TextChoices):
    """The account page a sign-in link leads to: a name, never a URL (no open redirect)."""

    HOME = "home", _("Account home")
    INVOICES = "invoices", _("Invoices")
    CREDIT_NOTES = "credit_notes", _("Credit notes")
    PAYMENTS = "payments", _("Payments")
    STATEMENT = "statement", _("Statement")
    BILLING_DETAILS = "billing_details", _("Billing details")
    INVOICE = "invoice", _("One invoice")


class SignInSource(models.TextChoices):
    EMAIL = "email", _("Emailed from the portal entry")
    API = "api", _("Magic link (API)")
    COMMENTS = "comments", _("Emailed from an invoice's comments")


class CustomerSession(models.Model):
    """Proof, held in a cookie, that this browser signed in as the customer.

    ``invoice`` set: good for that invoice only (a code emailed for commenting on it);
    ``invoice`` null: the customer's whole account, in the customer's company only."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="customer_sessions"
    )
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    selector = models.CharField(max_length=32, unique=True)
    opened_by = models.CharField(max_length=20, choices=OpenedBy.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Moved forward at most once an hour while the session is used (see SESSION_TOUCH_EVERY).
    last_seen_at = models.DateTimeField(default=timezone.now)
    # The hard end: created_at + SESSION_MAX_AGE at most (shorter for one invoice's session).
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Staff sign a customer out everywhere, and list the customer's sessions.
            models.Index(fields=["customer", "revoked_at"], name="custsession_customer_live"),
        ]

    def __str__(self) -> str:
        return f"session of {self.customer_id}"

    def is_live(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return (
            self.revoked_at is None
            and self.expires_at > now
            and self.last_seen_at > now - SESSION_IDLE
        )

    def covers(self, invoice: Invoice) -> bool:
        return (
            self.is_live()
            and self.company_id == invoice.company_id
            and self.customer_id == invoice.customer_id
            and (self.invoice_id is None or self.invoice_id == invoice.pk)
        )


class SignInLink(models.Model):
    """A one-time link that opens a customer session and leads to one account page."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    page = models.CharField(max_length=20, choices=SignInPage.choices, default=SignInPage.HOME)
    # The invoice of ``page == "invoice"``.
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    source = models.CharField(max_length=10, choices=SignInSource.choices)
    selector = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # Set once, by a conditional UPDATE: the link's single use.
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "used_at"], name="signinlink_customer_unused")]

    def __str__(self) -> str:
        return f"sign-in link for {self.customer_id}"
