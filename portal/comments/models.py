"""The comment thread under an invoice and the proofs a customer gives before writing to it.

Nothing here is a usable secret: email codes are stored as keyed HMACs (sessions and sign-in
links are customer sessions, ``invoices.customer_sessions``), so a copy of the database alone
lets nobody write as a customer.
"""

from __future__ import annotations

import time
from binascii import unhexlify
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import ThrottlingMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from invoices.models import Company, Customer, Invoice


class CommentRole(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    STAFF = "staff", _("Staff")


class Verification(models.TextChoices):
    """How the writer of a comment was checked, kept with the comment for staff to judge."""

    LINK = "link", _("Link holder (name and email given)")
    EMAIL_CODE = "email_code", _("Emailed code")
    CUSTOMER_SESSION = "customer_session", _("Verified customer session")
    STAFF = "staff", _("Staff login")


class Comment(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="comments")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="comments")
    # 1, 2, 3… within the invoice: what customers see as the comment id (`?after=`, SSE `id:`),
    # so pages never show database ids. Allocated under a lock on the invoice row.
    number = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=CommentRole.choices)
    author_name = models.CharField(max_length=100)
    # Never shown on customer pages; staff see it in the admin.
    author_email = models.EmailField(blank=True)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    verification = models.CharField(max_length=20, choices=Verification.choices)
    totp_confirmed = models.BooleanField(default=False)
    # Plain text; escaped wherever it is shown.
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["invoice", "number"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "number"], name="comment_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} #{self.number} by {self.author_name}"


class EmailCode(models.Model):
    """A six-digit code emailed to the customer on file, to unlock writing on one invoice."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="+")
    # HMAC-SHA256 under SECRET_KEY: a million codes are easy to try against a plain hash.
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["invoice", "-created_at"], name="emailcode_invoice_time")]

    def __str__(self) -> str:
        return f"code for {self.customer_id} on {self.invoice_id}"


def _default_totp_key() -> str:
    return str(random_hex(20))


class _VerifyAllowed(models.Model):
    """The end of django-otp's ``verify_is_allowed`` chain (its ``Device`` base ends it too)."""

    class Meta:
        abstract = True

    def verify_is_allowed(self) -> tuple[bool, dict[str, Any] | None]:
        return True, None


class CustomerTotpDevice(ThrottlingMixin, _VerifyAllowed):
    """An authenticator app bound to a customer (who has no user account).

    django-otp's ``TOTPDevice`` needs a user; this keeps its fields and algorithm
    (``django_otp.oath.TOTP``) and its exponential back-off (``ThrottlingMixin``), bound to the
    customer instead. ``last_t`` refuses a code whose time step was already used."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=80, default=_default_totp_key)
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)
    confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"authenticator of {self.customer_id}"

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1))

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.key.encode())

    def totp(self) -> TOTP:
        totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
        totp.time = time.time()
        return totp
