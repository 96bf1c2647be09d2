from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    # Outgoing webhooks live on the invoices floor, under their own label (tables and
    # migrations are "webhooks"): every app that raises an event may import them.
    name = "invoices.webhooks"
    label = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"
