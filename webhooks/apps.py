from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # invoices (a floor down) cannot import us: it announces its events through the port in
        # invoices.events, which we plug event_emit into.
        from invoices import events
        from webhooks.services import event_emit

        events.outgoing_events_connect(event_emit)
