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


@signals.worker_init.connect
def _background_yields_to_pages(sender: Any = None, **kwargs: Any) -> None:
    """A worker runs at a lower CPU priority than the web server (``WORKER_NICENESS``, Unix
    nice; its pool processes inherit it): when both want the cores, customer pages go first and
    background work (writing buffered views, processing webhooks, emails) catches up in the
    gaps, as it is built to. On the 2-core machine under page load, the buffered views' flush
    running at the web server's priority cost the invoice page a third of its throughput."""
    from django.conf import settings

    niceness = int(getattr(settings, "WORKER_NICENESS", 0))
    if niceness > 0:
        os.nice(niceness)
