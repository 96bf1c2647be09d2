"""The Celery application: configured from Django settings (``CELERY_*``)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")

app = Celery("portal_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _plain_connections_in_prefork_workers(sender: Any = None, **kwargs: Any) -> None:
    """A prefork (or solo) worker process runs one task at a time, and Celery's Django fixup
    closes the database connections around every task, a pool included (a pool cannot cross a
    fork): with DATABASES' pool on, each task would open a new pool and its connections. Such
    workers connect without one. Runs in the main process, before the pool processes fork and
    before any query."""
    pool_cls = getattr(sender, "pool_cls", "")
    name = pool_cls if isinstance(pool_cls, str) else getattr(pool_cls, "__module__", "")
    if "prefork" not in name and "solo" not in name:
        return
    from django.conf import settings

    for database in settings.DATABASES.values():
        options = database.get("OPTIONS")
        if isinstance(options, dict):
            options.pop("pool", None)
