from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from portal import pdf_views, statement_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("portal.comments.urls")),
    path("", include("portal.site.urls")),
    path("invoice/<str:token>", views.invoice_page, name="invoice_page"),
    path("invoice/<str:token>/pdf", pdf_views.invoice_pdf, name="invoice_pdf"),
    path("portal/<str:token>", views.portal_view, name="portal"),
    path("portal/<str:token>/statement", statement_views.statement_page, name="statement"),
    path("portal/<str:token>/statement.csv", statement_views.statement_csv, name="statement_csv"),
    path("portal/<str:token>/statement.pdf", statement_views.statement_pdf, name="statement_pdf"),
]
