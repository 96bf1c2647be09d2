from django.apps import AppConfig


class PreferencesConfig(AppConfig):
    name = "preferences"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from preferences import checks  # noqa: F401  (registers the system checks)
