from django.apps import AppConfig


class PreferencesConfig(AppConfig):
    name = "preferences"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from invoices.webhooks.services import event_listeners_connect
        from preferences import checks  # noqa: F401  (registers the system checks)
        from preferences.notifications import event_heard

        # Payments, comments and views sit below us or beside us: they announce themselves
        # through the webhooks app's event_emit, and we listen there.
        event_listeners_connect(event_heard)
