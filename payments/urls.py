from django.urls import URLPattern, URLResolver, path

from payments import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("invoice/<str:token>/pay", views.pay, name="pay"),
    path("invoice/<str:token>/pay/success", views.pay_success, name="pay_success"),
    path("invoice/<str:token>/pay/cancel", views.pay_cancel, name="pay_cancel"),
    path("invoice/<str:token>/pay/card", views.card_intent, name="pay_card"),
    path(
        "invoice/<str:token>/pay/card/<str:attempt_id>", views.card_status, name="pay_card_status"
    ),
    path(
        "invoice/<str:token>/payments/<str:pay_id>/receipt.pdf",
        views.payment_receipt_pdf,
        name="payment_receipt_pdf",
    ),
    path("webhooks/stripe/<str:webhook_key>", views.stripe_webhook, name="stripe_webhook"),
]
