from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from preferences import sign_in_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    # Before the page: "<token>.json" would otherwise match the page's <str:token>.
    path("preferences/<str:token>.json", views.preferences_json, name="preferences_json"),
    path("preferences/<str:token>", views.preferences_page, name="preferences"),
    path("unsubscribe/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("c/<str:slug>/", sign_in_views.portal_entry, name="portal_entry"),
    path("c/<str:slug>/sign-in", sign_in_views.sign_in_request, name="portal_sign_in"),
    path("sign-in/<str:token>", sign_in_views.sign_in_link, name="sign_in_link"),
]
