"""WSGI entry point: ordinary pages (served by granian in production)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")
application = get_wsgi_application()
