from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from preferences import views

urlpatterns: list[URLPattern | URLResolver] = [
    # Before the page: "<token>.json" would otherwise match the page's <str:token>.
    path("preferences/<str:token>.json", views.preferences_json, name="preferences_json"),
    path("preferences/<str:token>", views.preferences_page, name="preferences"),
    path("unsubscribe/<str:token>", views.unsubscribe, name="unsubscribe"),
]
