from __future__ import annotations

from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "portal.documents"
    label = "documents"
    verbose_name = "Customer documents"
    default_auto_field = "django.db.models.BigAutoField"
