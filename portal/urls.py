from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from portal import einvoice_views, pay_views, pdf_views, statement_views, views
from portal.account import views as account_views

# The invoice page and the customer portal: the project's URLconf puts them before every other
# pattern, since most requests are theirs and Django tries patterns in order.
customer_pages: list[URLPattern | URLResolver] = [
    path("invoice/<str:token>", views.invoice_page, name="invoice_page"),
    path("portal/<str:token>", views.portal_view, name="portal"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("portal.comments.urls")),
    path("", include("portal.documents.urls")),
    path("", include("portal.billing.urls")),
    path("", include("portal.site.urls")),
    path("invoice/<str:token>/pdf", pdf_views.invoice_pdf, name="invoice_pdf"),
    path(
        "invoice/<str:token>/e-invoice/<str:fmt>",
        einvoice_views.invoice_einvoice_download,
        name="invoice_einvoice",
    ),
    path("portal/<str:token>/pay", pay_views.pay_invoices, name="portal_pay"),
    path("portal/<str:token>/pay/result", pay_views.pay_result, name="portal_pay_result"),
    path("portal/<str:token>/advance-payment", pay_views.advance_payment, name="advance_payment"),
    path("portal/<str:token>/invoices", account_views.invoices_page, name="portal_invoices"),
    path("portal/<str:token>/invoices.csv", account_views.invoices_csv, name="portal_invoices_csv"),
    path("portal/<str:token>/invoices.zip", account_views.invoices_zip, name="portal_invoices_zip"),
    path(
        "portal/<str:token>/credit-notes",
        account_views.credit_notes_page,
        name="portal_credit_notes",
    ),
    path("portal/<str:token>/payments", account_views.payments_page, name="portal_payments"),
    path(
        "portal/<str:token>/payments/<str:pay_id>/receipt.pdf",
        account_views.payment_receipt,
        name="portal_payment_receipt",
    ),
    path("portal/<str:token>/statement", statement_views.statement_page, name="statement"),
    path("portal/<str:token>/statement.csv", statement_views.statement_csv, name="statement_csv"),
    path("portal/<str:token>/statement.pdf", statement_views.statement_pdf, name="statement_pdf"),
]
