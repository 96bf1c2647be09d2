from __future__ import annotations

from django.urls import URLPattern, path

from . import views

urlpatterns: list[URLPattern] = [
    path(
        "portal/<str:token>/billing-details",
        views.billing_details_page,
        name="portal_billing_details",
    ),
    path(
        "portal/billing-email/<str:confirm_token>",
        views.billing_email_confirm,
        name="portal_billing_email_confirm",
    ),
]
