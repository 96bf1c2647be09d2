from __future__ import annotations

from django.apps import AppConfig


class CommentsConfig(AppConfig):
    name = "portal.comments"
    label = "comments"
    verbose_name = "Invoice comments"
    default_auto_field = "django.db.models.BigAutoField"
