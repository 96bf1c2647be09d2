"""ASGI entry point: the same code, served separately for long-lived streams (SSE)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")
application = get_asgi_application()
