"""ASGI entry point: the same code, served separately for long-lived streams (SSE)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")
django_application = get_asgi_application()

# Comment streams share one sync thread instead of holding one each (see the module).
from portal.comments.asgi import share_sync_thread_for_streams  # noqa: E402 - needs setup

application = share_sync_thread_for_streams(django_application)
