"""ASGI entry point. In production it serves the long-lived comment streams (SSE) as a second
process beside the WSGI pages; under ``make run`` it serves the whole app on one origin: pages,
posts, the streams and the static files (WhiteNoise; with ``DEBUG`` and uncollected files, as
``runserver`` does)."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")
django_application = get_asgi_application()

# Comment streams share one sync thread instead of holding one each (see the module).
from portal.comments.asgi import share_sync_thread_for_streams  # noqa: E402 - needs setup

application = share_sync_thread_for_streams(django_application)

if settings.DEBUG and not settings.HASHED_STATIC:
    # Development only, as runserver does: /static/ straight from the apps' static folders and
    # STATICFILES_DIRS (no collectstatic), ahead of the app and its middleware. `make run`
    # collects them and lets WhiteNoise serve them as in production (HASHED_STATIC).
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    # (The stubs ask for an ASGIHandler; it wraps any ASGI application.)
    application = ASGIStaticFilesHandler(application)  # type: ignore[arg-type]
