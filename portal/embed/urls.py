from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from portal.embed import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("embed.js", views.embed_script, name="embed_script"),
    path("embed/<str:public_key>", views.frame_list, name="embed_frame"),
    path("embed/<str:public_key>/pay", views.frame_pay_invoices, name="embed_pay_invoices"),
    path(
        "embed/<str:public_key>/invoices/<str:invoice_id>",
        views.frame_invoice,
        name="embed_invoice",
    ),
    path(
        "embed/<str:public_key>/invoices/<str:invoice_id>/pdf",
        views.frame_invoice_pdf,
        name="embed_invoice_pdf",
    ),
    path(
        "embed/<str:public_key>/invoices/<str:invoice_id>/pay",
        views.frame_invoice_pay,
        name="embed_invoice_pay",
    ),
    path(
        "embed/<str:public_key>/invoices/<str:invoice_id>/status",
        views.frame_invoice_status,
        name="embed_invoice_status",
    ),
]
