"""Email preferences per company and address, the log of every email, and reminder steps."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from invoices.ids import new_public_id
from invoices.models import Company, Customer, Invoice, Membership
from invoices.models.company import Role
from payments.models import Payment


class EmailCategory(models.TextChoices):
    DOCUMENTS = "documents", _("Documents (invoices, quotes)")
    REMINDERS = "reminders", _("Payment reminders")
    MARKETING = "marketing", _("News and offers")


class EmailKind(models.TextChoices):
    """What a message is; each kind belongs to exactly one category (KIND_CATEGORY)."""

    INVOICE = "invoice", _("Invoice")
    REMINDER_DUE_SOON = "reminder_due_soon", _("Reminder: due soon")
    REMINDER_OVERDUE = "reminder_overdue", _("Reminder: overdue")
    STATEMENT = "statement", _("Statement of account")
    RECEIPT = "receipt", _("Payment receipt")
    STAFF_COMMENT = "staff_comment", _("Staff: new comment")
    STAFF_PAYMENT = "staff_payment", _("Staff: payment received")
    STAFF_FIRST_VIEW = "staff_first_view", _("Staff: first view")


# Emails to the company's own staff: not a customer category (customers' preferences never
# apply); each staff member's StaffNotificationSettings decide.
STAFF_CATEGORY = "staff"
SENT_EMAIL_CATEGORIES = [*EmailCategory.choices, (STAFF_CATEGORY, _("Staff notifications"))]
STAFF_KINDS = frozenset(
    {EmailKind.STAFF_COMMENT, EmailKind.STAFF_PAYMENT, EmailKind.STAFF_FIRST_VIEW}
)


KIND_CATEGORY: dict[str, str] = {
    EmailKind.INVOICE: EmailCategory.DOCUMENTS,
    EmailKind.RECEIPT: EmailCategory.DOCUMENTS,
    EmailKind.REMINDER_DUE_SOON: EmailCategory.REMINDERS,
    EmailKind.REMINDER_OVERDUE: EmailCategory.REMINDERS,
    EmailKind.STATEMENT: EmailCategory.DOCUMENTS,
    EmailKind.STAFF_COMMENT: STAFF_CATEGORY,
    EmailKind.STAFF_PAYMENT: STAFF_CATEGORY,
    EmailKind.STAFF_FIRST_VIEW: STAFF_CATEGORY,
}


class EmailPreference(models.Model):
    """What one email address wants to receive from one company.

    The row is the address's unsubscribe/preferences credential: only ``selector`` (128 random
    bits) is stored; the usable token is the selector plus a keyed MAC (invoices.tokens), so a
    copy of the database alone cannot change anyone's preferences.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="email_preferences")
    # Lower-cased and stripped (preferences.services.normalize_email), one row per address.
    email = models.EmailField()
    documents = models.BooleanField(default=True)
    reminders = models.BooleanField(default=True)
    # Promotional mail needs consent first (ePrivacy/GDPR): off until the customer turns it on.
    marketing = models.BooleanField(default=False)
    selector = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(fields=["company", "email"], name="email_preference_unique")
        ]

    def __str__(self) -> str:
        return self.email

    def allows(self, category: str) -> bool:
        return bool(getattr(self, EmailCategory(category).value))


def new_sent_email_id() -> str:
    return new_public_id("em")


class SentEmailStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    # Not sent on purpose: the address opted out, or the invoice no longer needs the email.
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class SentEmail(models.Model):
    """One row per email we meant to send: what, to whom, when, and what became of it."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="sent_emails")
    public_id = models.CharField(max_length=32, unique=True, default=new_sent_email_id)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="sent_emails"
    )
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="sent_emails"
    )
    # The payment a receipt (or a staff notification) is about.
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="sent_emails"
    )
    to_email = models.EmailField()
    kind = models.CharField(max_length=24, choices=EmailKind.choices)
    category = models.CharField(max_length=12, choices=SENT_EMAIL_CATEGORIES)
    # The staff member a staff notification is for (their settings are asked again on send).
    staff_member = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    language = models.CharField(max_length=8, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=10, choices=SentEmailStatus.choices, default=SentEmailStatus.QUEUED
    )
    # Why it was skipped or failed, for staff (a code like "opted_out" or an SMTP error).
    detail = models.CharField(max_length=500, blank=True)
    # A statement email: the statement it carries, as its query parameters (type, currency,
    # month, as_of or from/to; payments.statements.StatementRequest.query()).
    statement = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["company", "-created_at"], name="sent_email_company_time"),
            models.Index(fields=["invoice", "-created_at"], name="sent_email_invoice_time"),
        ]
        constraints = [
            # One receipt per payment and address, however often the payment is announced.
            models.UniqueConstraint(
                fields=["payment", "kind", "to_email"],
                condition=Q(payment__isnull=False),
                name="sent_email_once_per_payment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_email} ({self.status})"


class ReminderStep(models.TextChoices):
    DUE_SOON = "due_soon", _("Due soon")
    OVERDUE = "overdue", _("Overdue")


class ReminderSent(models.Model):
    """A reminder step taken for an invoice. The unique constraint is the claim: a step is
    sent at most once however many beat runs or workers race for it."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="reminders_sent")
    step = models.CharField(max_length=10, choices=ReminderStep.choices)
    sent_email = models.ForeignKey(
        SentEmail, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "step"], name="reminder_once_per_step")
        ]

    def __str__(self) -> str:
        return f"{self.invoice} {self.step}"


class StaffNotificationSettings(models.Model):
    """Which emails one staff member gets about one company's invoices. Without a row, owners
    and billing managers get all three and read-only members none (``defaults_for``)."""

    membership = models.OneToOneField(
        Membership, on_delete=models.CASCADE, related_name="notification_settings"
    )
    comments = models.BooleanField(_("new customer comments"), default=True)
    payments = models.BooleanField(_("payments received"), default=True)
    first_view = models.BooleanField(_("first view of an invoice"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("my email notifications")
        verbose_name_plural = _("my email notifications")

    def __str__(self) -> str:
        return str(self.membership)

    @staticmethod
    def defaults_for(role: str) -> bool:
        return role in (Role.OWNER, Role.MANAGER)
