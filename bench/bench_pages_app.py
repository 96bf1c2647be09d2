"""The WSGI application the page benchmark serves: the project itself (same settings, same
middleware) plus one plain ``HttpResponse`` view at /bench/plain to compare against."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal_project.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path

# Set up Django first: the project's URLconf imports models.
application = get_wsgi_application()


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/plain", plain),
    path("", include("portal_project.urls")),
]

# Serve these URLs (the project's plus /bench/plain) with everything else unchanged.
settings.ROOT_URLCONF = __name__
