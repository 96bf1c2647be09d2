"""Paying from the customer's account: several invoices in one payment
(``POST /portal/<token>/pay``), an advance payment (``POST /portal/<token>/advance-payment``)
and the result page Checkout returns to (``GET /portal/<token>/pay/result``).

The portal token is the only credential (a bad one gets the one not-found page). Every refusal
is a 4xx page with the message and the form again, never a redirect, and changes nothing
(payments.multipay plans before it writes)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.http import not_found
from core.i18n import activate_language
from invoices.document import brand_color
from invoices.models import Customer, Invoice
from invoices.money import AmountError, UnknownCurrency, format_money, normalize_currency
from invoices.selectors import customer_for_portal_token, customer_languages
from payments import multipay, stripe_client
from payments.models import AttemptPurpose, AttemptStatus, CheckoutAttempt, Payment
from payments.ratelimits import pay_limited, poll_limited
from payments.rules import typed_amount_parse
from portal.pay_selected import pay_selected_for

_PER_INVOICE = re.compile(r"^amount_(inv_[A-Za-z0-9]+)$")


def _customer(request: HttpRequest, token: str) -> Customer | None:
    customer = customer_for_portal_token(token)
    if customer is not None:
        activate_language(request, preferred=customer_languages(customer, customer.company))
    return customer


def _base(customer: Customer, token: str, request: HttpRequest) -> dict[str, Any]:
    company = customer.company
    return {
        "token": token,
        "customer_name": customer.name,
        "company_name": company.name,
        "brand_color": brand_color(company),
        "portal_url": f"/portal/{token}?lang={request.LANGUAGE_CODE}",
    }


def _refused(
    request: HttpRequest, customer: Customer, token: str, message: str, status: int
) -> HttpResponse:
    """The refusal: the message, and the form again (the customer's invoices as they are)."""
    context = {
        **_base(customer, token, request),
        "error": message,
        "pay_selected": pay_selected_for(customer=customer, locale=request.LANGUAGE_CODE),
        "advance": advance_form_for(customer=customer, lang=request.LANGUAGE_CODE),
    }
    return render(request, "portal/pay_refused.html", context, status=status)


def _too_many(request: HttpRequest) -> HttpResponse:
    message = _("Too many payment requests. Please wait a minute and try again.")
    return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")


def _typed_amounts(request: HttpRequest, currency: str) -> tuple[int | None, dict[str, int]]:
    lang = request.LANGUAGE_CODE
    total_text = request.POST.get("amount", "").strip()
    total = (
        typed_amount_parse(text=total_text, currency=currency, locale=lang) if total_text else None
    )
    per_invoice: dict[str, int] = {}
    for name in request.POST:
        match = _PER_INVOICE.match(name)
        value = request.POST.get(name, "")
        if match and value.strip():
            per_invoice[match.group(1)] = typed_amount_parse(
                text=value, currency=currency, locale=lang
            )
    if total is not None and per_invoice:
        raise multipay.MultiPayRefused(
            _("Give either one total or an amount per invoice, not both."), code="ambiguous"
        )
    return total, per_invoice


# No CSRF check, as on the invoice page's pay endpoint: the token in the URL is the only
# credential (no cookie), so a forging site would need it.
@csrf_exempt
@require_POST
def pay_invoices(request: HttpRequest, token: str) -> HttpResponse:
    """POST /portal/<token>/pay: ``invoice`` (repeated), ``amount`` or ``amount_<inv_id>``,
    ``apply_credit=1``. 303 to Checkout, or to the result page when credit covers it all."""
    customer = _customer(request, token)
    if customer is None:
        return not_found(request)
    if pay_limited(request, token=token):
        return _too_many(request)
    lang = request.LANGUAGE_CODE
    ids = request.POST.getlist("invoice")
    try:
        # The currency to read amounts in: the selection's (checked again by the plan).
        first = (
            Invoice.objects.filter(customer=customer, public_id__in=ids[:1])
            .values_list("currency", flat=True)
            .first()
        )
        total, per_invoice = _typed_amounts(request, first or customer.company.default_currency)
        prepared = multipay.multi_payment_prepare(
            customer=customer,
            public_ids=ids,
            total=total,
            per_invoice=per_invoice,
            apply_credit=request.POST.get("apply_credit") == "1",
            locale=lang,
        )
        attempt = multipay.multi_payment_start(
            prepared=prepared,
            return_base_url=f"{settings.PUBLIC_BASE_URL}/portal/{token}",
            locale=lang,
        )
    except AmountError as exc:
        return _refused(request, customer, token, exc.message, 400)
    except multipay.MultiPayRefused as exc:
        return _refused(request, customer, token, exc.message, exc.status)
    except stripe_client.PaymentProviderError as exc:
        return _refused(request, customer, token, exc.message, 502)
    if attempt.status == AttemptStatus.SUCCEEDED:
        return HttpResponseRedirect(
            f"/portal/{token}/pay/result?attempt={attempt.public_id}&lang={lang}", status=303
        )
    return HttpResponseRedirect(attempt.checkout_url, status=303)


@csrf_exempt
@require_POST
def advance_payment(request: HttpRequest, token: str) -> HttpResponse:
    """POST /portal/<token>/advance-payment: ``amount``, ``currency``; 303 to Checkout. The
    money becomes the customer's credit once Stripe says it was paid."""
    customer = _customer(request, token)
    if customer is None:
        return not_found(request)
    if pay_limited(request, token=token):
        return _too_many(request)
    lang = request.LANGUAGE_CODE
    try:
        try:
            currency = normalize_currency(request.POST.get("currency", "").strip())
        except (UnknownCurrency, ValueError):
            raise multipay.MultiPayRefused(_("Choose a currency."), code="currency") from None
        amount = typed_amount_parse(
            text=request.POST.get("amount", ""), currency=currency, locale=lang
        )
        attempt = multipay.advance_payment_start(
            customer=customer,
            amount=amount,
            currency=currency,
            return_base_url=f"{settings.PUBLIC_BASE_URL}/portal/{token}",
            locale=lang,
        )
    except AmountError as exc:
        return _refused(request, customer, token, exc.message, 400)
    except multipay.MultiPayRefused as exc:
        return _refused(request, customer, token, exc.message, exc.status)
    except stripe_client.PaymentProviderError as exc:
        return _refused(request, customer, token, exc.message, 502)
    return HttpResponseRedirect(attempt.checkout_url, status=303)


@require_GET
def pay_result(request: HttpRequest, token: str) -> HttpResponse:
    """Where Checkout returns (and where credit-only payments land): Stripe's word asked once
    more (the webhook may be late), then what each invoice received."""
    customer = _customer(request, token)
    if customer is None:
        return not_found(request)
    attempt = (
        CheckoutAttempt.objects.select_related("company", "credit_note")
        .filter(
            customer=customer,
            public_id=request.GET.get("attempt", "") or "-",
            purpose__in=(AttemptPurpose.INVOICES, AttemptPurpose.ADVANCE),
        )
        .first()
    )
    if attempt is None:
        return not_found(request)
    lang = request.LANGUAGE_CODE
    state = str(attempt.status)
    if request.GET.get("cancelled") and state == AttemptStatus.OPEN:
        state = "cancelled"
    elif state != AttemptStatus.SUCCEEDED:
        if poll_limited(request, token=token):
            return _too_many(request)
        try:
            state = multipay.multi_payment_reconcile(attempt=attempt)
        except stripe_client.PaymentProviderError:
            state = "unknown"
        attempt.refresh_from_db()
    context = {
        **_base(customer, token, request),
        "attempt": attempt,
        "state": state,
        "advance": attempt.purpose == AttemptPurpose.ADVANCE,
        "allocation": allocation_rows(attempt, lang),
        "surplus": format_money(attempt.surplus, attempt.currency, lang) if attempt.surplus else "",
        "charged": format_money(attempt.amount, attempt.currency, lang),
    }
    return render(request, "portal/pay_result.html", context)


def allocation_rows(attempt: CheckoutAttempt, lang: str) -> list[dict[str, str]]:
    """Per invoice: the credit applied and the share of the card payment (two queries)."""
    numbers = dict(
        Invoice.objects.filter(
            company_id=attempt.company_id,
            public_id__in=[str(part["invoice"]) for part in attempt.plan]
            + [str(use["invoice"]) for use in attempt.credit_applied],
        ).values_list("public_id", "number")
    )
    shares = dict(
        Payment.objects.filter(attempt=attempt).values_list("invoice__public_id", "amount")
    )
    credit: dict[str, int] = {}
    for use in attempt.credit_applied:
        key = str(use["invoice"])
        credit[key] = credit.get(key, 0) + int(str(use["amount"]))
    order = list(dict.fromkeys([*credit, *(str(part["invoice"]) for part in attempt.plan)]))
    return [
        {
            "number": numbers.get(public_id, ""),
            "credit": format_money(credit[public_id], attempt.currency, lang)
            if credit.get(public_id)
            else "",
            "paid": format_money(shares[public_id], attempt.currency, lang)
            if shares.get(public_id)
            else "",
        }
        for public_id in order
    ]


def advance_form_for(*, customer: Customer, lang: str) -> dict[str, Any] | None:
    """The advance payment form's state for a customer page (None when not offered)."""
    company = customer.company
    if not company.advance_payments:
        return None
    currency = company.default_currency
    floor, ceiling = multipay.advance_payment_limits(company, currency)
    return {
        "currency": currency,
        "minimum": format_money(floor, currency, lang),
        "maximum": format_money(ceiling, currency, lang) if ceiling else "",
    }
