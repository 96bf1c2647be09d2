from __future__ import annotations

from django.apps import AppConfig


class BillingDetailsConfig(AppConfig):
    name = "portal.billing"
    label = "billing_details"
    verbose_name = "Customer billing details"
    default_auto_field = "django.db.models.BigAutoField"
