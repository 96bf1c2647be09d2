"""Payments: each company's Stripe connection, payments, and stored webhook events."""

from __future__ import annotations

import secrets

from django.db import models

from invoices.models import Company


def new_webhook_key() -> str:
    # Names the company in its webhook URL (/webhooks/stripe/<key>); not a secret by itself,
    # every delivery is still verified with the company's signing secret.
    return "wh_" + secrets.token_urlsafe(18)


class StripeConnection(models.Model):
    """A company's own Stripe account. Secrets are stored encrypted (payments.secrets) and are
    never shown again after saving."""

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="stripe_connection"
    )
    secret_key_encrypted = models.TextField()
    webhook_secret_encrypted = models.TextField()
    # The last characters of the secret key, so staff can tell which key is connected.
    secret_key_hint = models.CharField(max_length=12, blank=True)
    publishable_key = models.CharField(max_length=200, blank=True)
    webhook_key = models.CharField(max_length=40, unique=True, default=new_webhook_key)
    active = models.BooleanField(default=True)
    connected_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Stripe for {self.company} (…{self.secret_key_hint})"
