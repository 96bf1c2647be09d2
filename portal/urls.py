from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from portal import pdf_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("portal.comments.urls")),
    path("invoice/<str:token>", views.invoice_page, name="invoice_page"),
    path("invoice/<str:token>/pdf", pdf_views.invoice_pdf, name="invoice_pdf"),
    path("portal/<str:token>", views.portal_view, name="portal"),
]
