"""The project's URLs plus a stand-in portal entry at ``/c/<slug>/``, to test the dispatch of a
company domain's ``/`` on its own (the real entry belongs to the sign-in pages)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from portal_project.urls import urlpatterns as project_urlpatterns


def stand_in_entry(request: HttpRequest, slug: str) -> HttpResponse:
    return HttpResponse(f"entry of {slug}")


urlpatterns = [path("c/<slug:slug>/", stand_in_entry), *project_urlpatterns]
