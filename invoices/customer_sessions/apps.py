from django.apps import AppConfig


class CustomerSessionsConfig(AppConfig):
    # Customer sessions and sign-in links live on the invoices floor, under their own label:
    # the comment thread, the account pages, the sign-in pages, the sign-in email and the API
    # all use them, and each of those stands on a floor above this one.
    name = "invoices.customer_sessions"
    label = "customer_sessions"
    default_auto_field = "django.db.models.BigAutoField"
