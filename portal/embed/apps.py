from __future__ import annotations

from django.apps import AppConfig


class EmbedConfig(AppConfig):
    name = "portal.embed"
    label = "embed"
    verbose_name = "Embeddable portal"
    default_auto_field = "django.db.models.BigAutoField"
