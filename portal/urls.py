from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from portal import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("invoice/<str:token>", views.invoice_page, name="invoice_page"),
    path("portal/<str:token>", views.portal_view, name="portal"),
]
