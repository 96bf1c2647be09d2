from __future__ import annotations

from django.urls import URLPattern, path

from . import views

urlpatterns: list[URLPattern] = [
    path("portal/<str:token>/documents", views.documents_page, name="portal_documents"),
    path(
        "portal/<str:token>/documents/<str:doc_id>",
        views.document_download,
        name="portal_document_download",
    ),
]
