from typing import Any

from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "invoices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_finished
        from django.db.models.signals import post_delete, post_save

        from core.collector import freeze_long_lived
        from invoices.models import Company

        # Every process serving requests (the WSGI server's, whatever module starts it).
        request_finished.connect(freeze_long_lived, dispatch_uid="freeze-long-lived")

        # The host routing's cached map of portal domains must follow every change to a
        # company (admin, API, commands, a plain save()), so it listens to the model itself.
        post_save.connect(_company_changed, sender=Company, dispatch_uid="portal-domains-save")
        post_delete.connect(_company_changed, sender=Company, dispatch_uid="portal-domains-del")


def _company_changed(**kwargs: Any) -> None:
    from invoices.customization.domains import domain_map_forget

    domain_map_forget()
