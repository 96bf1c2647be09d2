from __future__ import annotations

from django.urls import URLPattern, path

from portal.site import views

urlpatterns: list[URLPattern] = [
    path("portal-assets/<str:key>/<str:digest>.css", views.custom_css, name="portal_custom_css"),
    path("portal-assets/<str:key>/<str:digest>.js", views.custom_js, name="portal_custom_js"),
    path("tls/ask", views.tls_ask, name="tls_ask"),
]
