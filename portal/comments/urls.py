from __future__ import annotations

from django.urls import URLPattern, path

from . import views

urlpatterns: list[URLPattern] = [
    path("invoice/<str:token>/comments", views.comments, name="comments"),
    path("invoice/<str:token>/comments/stream", views.comment_stream, name="comments-stream"),
    path("invoice/<str:token>/comments/code", views.code_request, name="comments-code"),
    path("invoice/<str:token>/comments/verify", views.code_verify, name="comments-verify"),
    path(
        "invoice/<str:token>/comments/signin-link",
        views.signin_link_request,
        name="comments-signin-link",
    ),
    path(
        "invoice/<str:token>/comments/signin/<str:signin_token>",
        views.signin_link_open,
        name="comments-signin",
    ),
    path("invoice/<str:token>/comments/totp/enrol", views.totp_enrol, name="comments-totp-enrol"),
    path(
        "invoice/<str:token>/comments/totp/confirm",
        views.totp_confirm,
        name="comments-totp-confirm",
    ),
]
