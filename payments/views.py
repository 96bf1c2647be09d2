"""Customer-facing pay endpoints and the Stripe webhook. Thin: resolve the token, ask the gate,
call a service, render. The token is the only credential; a bad one gets the shared
"Invoice not found" page.

The pay endpoints are rate-limited per client IP and per link (payments.ratelimits: 429 when
over; fail open, logged, when Redis is down).
"""

from __future__ import annotations

import logging
from typing import Any

from csp.decorators import csp_exempt
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST, require_safe

from core.errors import error_body
from core.http import not_found
from invoices.customization.domains import company_origin
from invoices.decorators import share_link_page
from invoices.document import brand_color
from invoices.models import Invoice
from invoices.money import AmountError, format_money
from payments import receipts, selectors, services, stripe_client, webhooks
from payments.gates import pay_gate, stripe_connected
from payments.models import AttemptKind
from payments.ratelimits import pay_limited, poll_limited
from payments.rules import payment_amount_parse

logger = logging.getLogger("payments")


def _too_many(request: HttpRequest, *, as_json: bool = False) -> HttpResponse:
    message = _("Too many payment requests. Please wait a minute and try again.")
    if as_json:
        return JsonResponse({"error": {"code": "rate_limited", "message": message}}, status=429)
    return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")


def _page(
    request: HttpRequest,
    invoice: Invoice,
    token: str,
    template: str,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {
        "invoice": invoice,
        "token": token,
        "company_name": invoice.company.name,
        "brand_color": brand_color(invoice.company),
        # Back to the invoice in the language of this page.
        "invoice_url": f"/invoice/{token}?lang={request.LANGUAGE_CODE}",
        **extra,
    }
    return render(request, template, context, status=status)


# No CSRF check on the pay endpoints: CSRF protects credentials a browser sends by itself
# (cookies) and here the only credential is the token in the URL; a forging site would need
# it, and could then only start a payment its holder can start. (Customer pages also send
# ``Referrer-Policy: no-referrer``, under which browsers post ``Origin: null``.)
@csrf_exempt
@require_POST
@share_link_page
def pay(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    """POST /invoice/<token>/pay (``amount`` in major units): 303 to Stripe Checkout."""
    if pay_limited(request, token=token):
        return _too_many(request)
    lang = request.LANGUAGE_CODE
    gate = pay_gate(invoice=invoice, connected=stripe_connected(invoice.company))
    if not gate.allowed:
        return _page(request, invoice, token, "payments/refused.html", 409, reason=gate.reason)
    hosted = services.stripe_hosted_page(invoice)
    if hosted is not None:
        # An invoice issued in Stripe: Stripe's own page takes its payment (Checkout cannot
        # pay a Stripe invoice); the card on our page attaches a PaymentIntent instead.
        return HttpResponseRedirect(hosted, status=303)
    typed = request.POST.get("amount", "")
    try:
        amount = payment_amount_parse(invoice=invoice, text=typed, locale=lang)
        attempt = services.checkout_session_start(
            invoice=invoice,
            amount=amount,
            return_base_url=f"{company_origin(invoice.company)}/invoice/{token}",
            locale=lang,
        )
    except AmountError as exc:
        return _form_again(request, invoice, token, typed, exc.message)
    except services.PaymentRefused as exc:
        if exc.field == "amount":
            return _form_again(request, invoice, token, typed, exc.message)
        return _page(request, invoice, token, "payments/refused.html", 409, reason=exc.message)
    except stripe_client.PaymentProviderError as exc:
        return _form_again(request, invoice, token, typed, exc.message, status=502)
    return HttpResponseRedirect(attempt.checkout_url, status=303)


def _form_again(
    request: HttpRequest, invoice: Invoice, token: str, typed: str, error: str, status: int = 400
) -> HttpResponse:
    """The pay form once more, the error next to the amount and the typed value kept."""
    pay_state = pay_gate(invoice=invoice, connected=True)
    return _page(
        request,
        invoice,
        token,
        "payments/pay.html",
        status,
        pay=pay_state,
        pay_error=error,
        pay_value=typed,
    )


@require_GET
@share_link_page
def pay_success(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    """Checkout's success_url: reconcile with Stripe (the webhook may be late or lost)."""
    attempt = selectors.attempt_for_invoice(
        invoice=invoice, public_id=request.GET.get("attempt", "")
    )
    if attempt is None or attempt.kind != AttemptKind.CHECKOUT:
        return not_found(request)
    # Each load asks Stripe twice (session, intent): bounded like the card's status polling.
    if poll_limited(request, token=token):
        return _too_many(request)
    try:
        outcome = services.checkout_reconcile(invoice=invoice, attempt=attempt)
    except stripe_client.PaymentProviderError:
        outcome = services.PayOutcome("unknown")
    invoice.refresh_from_db()
    return _page(request, invoice, token, "payments/result.html", outcome=outcome)


@require_GET
@share_link_page
def pay_cancel(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    """Checkout's cancel_url: nothing was charged; back to the invoice, calmly."""
    return _page(request, invoice, token, "payments/cancelled.html")


def _json_error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "field": field}}, status=status
    )


@csrf_exempt  # as pay(): the token in the URL is the credential, no cookie
@require_POST
@share_link_page
def card_intent(request: HttpRequest, invoice: Invoice, token: str) -> HttpResponse:
    """POST /invoice/<token>/pay/card (``amount``): a PaymentIntent for the card on the page.
    Answers ``{"client_secret", "status_url"}``, or an error body like the REST API's."""
    if pay_limited(request, token=token):
        return _too_many(request, as_json=True)
    lang = request.LANGUAGE_CODE
    gate = pay_gate(invoice=invoice, connected=stripe_connected(invoice.company))
    if not gate.allowed:
        return _json_error(409, "not_payable", str(gate.reason))
    try:
        amount = payment_amount_parse(
            invoice=invoice, text=request.POST.get("amount", ""), locale=lang
        )
        attempt, client_secret = services.card_intent_start(
            invoice=invoice, amount=amount, locale=lang
        )
    except AmountError as exc:
        return _json_error(400, exc.code, exc.message, "amount")
    except services.PaymentRefused as exc:
        return _json_error(409 if exc.field is None else 400, exc.code, exc.message, exc.field)
    except stripe_client.PaymentProviderError as exc:
        return _json_error(502, exc.code or "provider_error", exc.message)
    return JsonResponse(
        {
            "client_secret": client_secret,
            "attempt": attempt.public_id,
            "status_url": f"/invoice/{token}/pay/card/{attempt.public_id}?lang={lang}",
        },
        status=201,
    )


@require_GET
@share_link_page
def card_status(
    request: HttpRequest, invoice: Invoice, token: str, attempt_id: str
) -> HttpResponse:
    """GET /invoice/<token>/pay/card/<attempt>: Stripe's word on the card payment (polling)."""
    attempt = selectors.attempt_for_invoice(invoice=invoice, public_id=attempt_id)
    if attempt is None or attempt.kind != AttemptKind.CARD:
        return not_found(request)
    if poll_limited(request, token=token):
        return _too_many(request, as_json=True)
    try:
        outcome = services.card_intent_reconcile(invoice=invoice, attempt=attempt)
    except stripe_client.PaymentProviderError as exc:
        return _json_error(502, exc.code or "provider_error", exc.message)
    invoice.refresh_from_db(fields=["status", "amount_paid"])
    messages = {
        "succeeded": _("Payment received. Thank you!"),
        "processing": _("Your payment is processing. This page updates when it completes."),
        "failed": outcome.error or _("The payment failed. Please try another card."),
        "expired": _("This payment was cancelled. Please start again."),
        "open": _("Waiting for the card to be confirmed."),
    }
    return JsonResponse(
        {
            "state": outcome.state,
            "message": messages.get(outcome.state, ""),
            "invoice_status": invoice.status,
            "amount_due": invoice.amount_due,
            # The page shows it at once, as the heading does (the reload then confirms it).
            "amount_due_display": format_money(
                invoice.amount_due, invoice.currency, request.LANGUAGE_CODE
            ),
        }
    )


@require_safe
@share_link_page
def payment_receipt_pdf(
    request: HttpRequest, invoice: Invoice, token: str, pay_id: str
) -> HttpResponse:
    """GET /invoice/<token>/payments/<pay_id>/receipt.pdf: the receipt of one of this invoice's
    payments, in the page's language; any other payment id answers the not-found page."""
    payment = selectors.payment_for_invoice(invoice=invoice, public_id=pay_id)
    if payment is None:
        return not_found(request)
    body = receipts.receipt_pdf(payment=payment, language=request.LANGUAGE_CODE)
    response = HttpResponse(body, content_type="application/pdf")
    disposition = content_disposition_header(True, receipts.receipt_pdf_filename(payment))
    if disposition:  # always, for an attachment with a name
        response["Content-Disposition"] = disposition
    response["Content-Length"] = str(len(body))
    return response


# Stripe's servers read the answer, never a browser: no CSRF token, no Content-Security-Policy
# (building the policy costs about 50 us of the 1.3 ms a delivery takes in process).
@csrf_exempt
@csp_exempt()  # type: ignore[arg-type]  # typed for views without URL arguments
@require_POST
def stripe_webhook(request: HttpRequest, webhook_key: str) -> HttpResponse:
    """POST /webhooks/stripe/<company-key>: verify with the company's signing secret (400 if
    bad or stale), store the event (unique id) and queue it in one transaction, answer 200."""
    try:
        created = webhooks.webhook_receive(
            webhook_key=webhook_key,
            payload=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
        )
    except webhooks.UnknownEndpoint:
        raise Http404 from None
    except stripe_client.BadSignature as exc:
        logger.warning("webhook.bad_signature key=%s reason=%s", webhook_key, exc)
        return JsonResponse({"error": "invalid signature"}, status=400)
    except webhooks.WrongApiVersion as exc:
        logger.warning(
            "webhook.wrong_api_version key=%s received=%s pinned=%s",
            webhook_key,
            exc.received,
            stripe_client.API_VERSION,
        )
        return JsonResponse(error_body(exc.code, exc.message, exc.field), status=exc.status)
    return JsonResponse({"received": True, "duplicate": not created})
